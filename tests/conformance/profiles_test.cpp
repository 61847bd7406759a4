// Deviation profiles (spec §7, D140-D144): a failure that the profile's
// entries explain is DEVIATION, anything else still fails; the profile is
// applied before the baseline.
#include "conformance/live/profiles.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "conformance/live/live_case.hpp"
#include "conformance/live/target.hpp"
#include "conformance/runner/sweep.hpp"
#include "protocol/rules.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace conformance;

const DeviationProfile& origin() {
  const auto* p = find_profile("origin@19ed8a6a");
  EXPECT_NE(p, nullptr);
  return *p;
}
const DeviationProfile& lite() {
  const auto* p = find_profile("lite@b72df15f");
  EXPECT_NE(p, nullptr);
  return *p;
}

// A case whose own script failed (no finding), e.g. an answer that never came.
CaseResult script_failure(std::string id, std::string rule, Verdict v, std::string detail) {
  CaseResult r;
  r.id = std::move(id);
  r.rule = std::move(rule);
  r.verdict = v;
  r.detail = std::move(detail);
  return r;
}

CheckFinding must(std::string_view rule, std::string message) {
  CheckFinding f;
  f.finding.rule = rule;
  f.finding.level = protocol::Level::Must;
  f.finding.message = std::move(message);
  f.blamed = protocol::Sender::Server;
  return f;
}

TEST(Profile, EveryEntryCitesSpecRulesAndItsSection7Item) {
  ASSERT_EQ(deviation_profiles().size(), 2u);
  for (const auto& p : deviation_profiles()) {
    const std::string section = p.side == "server" ? "§7.1 item " : "§7.2 item ";
    EXPECT_FALSE(p.entries.empty()) << p.name;
    for (const auto& e : p.entries) {
      EXPECT_TRUE(e.item.starts_with(section)) << p.name << " " << e.item;
      EXPECT_FALSE(e.says.empty()) << e.item;
      EXPECT_FALSE(e.rules.empty()) << e.item;
      for (const auto& rule : e.rules) EXPECT_NE(protocol::find_rule(rule), nullptr) << rule;
    }
  }
  EXPECT_EQ(find_profile("origin@deadbeef"), nullptr);
  EXPECT_EQ(profile_names(), "origin@19ed8a6a, lite@b72df15f");
}

// docs/live.md's table holds every entry: profile, §7 item, rules, what it says.
TEST(Profile, DocsLiveListsEveryEntryWithItsSection7Item) {
  std::ifstream in(source_path("docs/live.md"));
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string docs = text.str();
  for (const auto& p : deviation_profiles()) {
    for (const auto& e : p.entries) {
      std::string rules;
      for (const auto& r : e.rules) rules += (rules.empty() ? "" : ", ") + std::string(r);
      const std::string row =
          "| " + std::string(p.name) + " | " + std::string(e.item) + " | " + rules + " |";
      const auto at = docs.find(row);
      ASSERT_NE(at, std::string::npos) << row;
      const auto eol = docs.find('\n', at);
      EXPECT_NE(docs.substr(at, eol - at).find(std::string(e.says) + " |"), std::string::npos)
          << row;
    }
  }
}

TEST(Profile, Origin19ed8a6aTurnsRESYNC_8IntoDeviation) {
  CaseResult r = script_failure("resync-answered-by-snapshot", "RESYNC-8", Verdict::Fail,
                                "RESYNC-8 (HARNESS CHOICE ...) [expected ShapeSnapshot]");
  apply_profile(r, &origin());
  EXPECT_EQ(r.verdict, Verdict::Deviation);
  EXPECT_NE(r.detail.find("RESYNC-8 (origin@19ed8a6a, §7.1 item 9: ResyncRequest and Throttle "
                          "are only logged)"),
            std::string::npos)
      << r.detail;
  EXPECT_NE(r.detail.find("[FAIL: RESYNC-8 (HARNESS CHOICE"), std::string::npos) << r.detail;
  EXPECT_FALSE(counts_as_failure(r.verdict));
  EXPECT_EQ(verdict_name(r.verdict), "DEVIATION");
  EXPECT_TRUE(failed_rules(r).empty());
}

TEST(Profile, Origin19ed8a6aTurnsATHROTTLE_4TimeoutIntoDeviation) {
  CaseResult r = script_failure("throttle-paces-then-flushes", "THROTTLE-4", Verdict::Timeout,
                                "expected 12 ShapeDeltas within 990 ms; nothing came");
  apply_profile(r, &origin());
  EXPECT_EQ(r.verdict, Verdict::Deviation);
  EXPECT_NE(r.detail.find("[TIMEOUT: expected"), std::string::npos) << r.detail;
}

TEST(Profile, DELTA_4NotInTheProfileStillFails) {
  CaseResult r = script_failure("checksum-mismatch-rejected", "DELTA-4", Verdict::Fail,
                                "expected DeltaReject; got DeltaAck");
  const std::string before = r.detail;
  apply_profile(r, &origin());
  EXPECT_EQ(r.verdict, Verdict::Fail);
  EXPECT_EQ(r.detail, before);
  EXPECT_TRUE(r.deviations.empty());
  EXPECT_EQ(failed_rules(r), (std::set<std::string>{"DELTA-4"}));
}

TEST(Profile, RESYNC_8WithAnUnprofiledDELTA_4FindingIsFailNamingBoth) {
  CaseResult r = script_failure("resync-answered-by-snapshot", "RESYNC-8", Verdict::Fail,
                                "expected ShapeSnapshot; nothing came");
  r.findings.push_back(must("DELTA-4", "mutation 3 acknowledged although its checksum..."));
  apply_profile(r, &origin());
  EXPECT_EQ(r.verdict, Verdict::Fail);
  EXPECT_NE(r.detail.find("the profile explains RESYNC-8 (origin@19ed8a6a, §7.1 item 9"),
            std::string::npos)
      << r.detail;
  EXPECT_NE(r.detail.find("it does not explain DELTA-4"), std::string::npos) << r.detail;
  EXPECT_EQ(r.deviations, (std::set<std::string>{"RESYNC-8"}));
  EXPECT_EQ(failed_rules(r), (std::set<std::string>{"DELTA-4"}));
  EXPECT_TRUE(counts_as_failure(r.verdict));
}

TEST(Profile, PURGE_1NarrowedToSection7sBehaviourNotCrossTenantNotices) {
  CaseResult missing = script_failure("purge-notice", "PURGE-1", Verdict::Fail, "");
  missing.failed_by_checker = true;
  missing.findings.push_back(must("PURGE-1",
                                  "\"orders\" was purged but this session (tenant 1, which pushed "
                                  "to or subscribed it) never got CollectionPurged"));
  apply_profile(missing, &origin());
  EXPECT_EQ(missing.verdict, Verdict::Deviation) << missing.detail;

  CaseResult crossing = missing;
  crossing.verdict = Verdict::Fail;
  crossing.deviations.clear();
  crossing.findings.push_back(
      must("PURGE-1", "CollectionPurged for tenant 1 sent to a session of tenant 2"));
  apply_profile(crossing, &origin());
  EXPECT_EQ(crossing.verdict, Verdict::Fail) << crossing.detail;
  EXPECT_TRUE(crossing.deviations.empty());  // one unexplained piece keeps the rule
}

TEST(Profile, Lite_b72df15fTurnsPING_5AndTHROTTLE_2IntoDeviationNotPING_1) {
  CaseResult pong = script_failure("answers-server-ping", "PING-5", Verdict::Timeout, "no Pong");
  apply_profile(pong, &lite());
  EXPECT_EQ(pong.verdict, Verdict::Deviation);
  EXPECT_NE(pong.detail.find("§7.2 item 2"), std::string::npos);
  CaseResult flood = script_failure("flood-throttles", "THROTTLE-2", Verdict::Fail, "no Throttle");
  apply_profile(flood, &lite());
  EXPECT_EQ(flood.verdict, Verdict::Deviation);
  CaseResult ping = script_failure("pings-after-handshake", "PING-1", Verdict::Timeout, "no Ping");
  apply_profile(ping, &lite());
  EXPECT_EQ(ping.verdict, Verdict::Timeout);
  // A server profile explains nothing of a client's PING-5, and no profile nothing at all.
  CaseResult other = script_failure("answers-server-ping", "PING-5", Verdict::Timeout, "no Pong");
  apply_profile(other, &origin());
  apply_profile(other, nullptr);
  EXPECT_EQ(other.verdict, Verdict::Timeout);
}

TEST(Profile, AppliedBeforeTheBaseline) {
  LiveSuiteOptions o;
  o.profile = &origin();
  // Mixed: the baseline need only expect the rule the profile leaves.
  o.expected_failures = {"resync-answered-by-snapshot:DELTA-4"};
  CaseResult mixed = script_failure("resync-answered-by-snapshot", "RESYNC-8", Verdict::Fail,
                                    "expected ShapeSnapshot; nothing came");
  mixed.findings.push_back(must("DELTA-4", "mutation 3 acknowledged although its checksum..."));
  apply_baseline(mixed, o);
  EXPECT_EQ(mixed.verdict, Verdict::XFail) << mixed.detail;
  EXPECT_EQ(baseline_entries(mixed),
            (std::set<std::string>{"resync-answered-by-snapshot:DELTA-4"}));
  // A deviation stays DEVIATION though the baseline names the case.
  o.expected_failures = {"resync-answered-by-snapshot"};
  CaseResult only = script_failure("resync-answered-by-snapshot", "RESYNC-8", Verdict::Fail,
                                   "expected ShapeSnapshot; nothing came");
  apply_baseline(only, o);
  EXPECT_EQ(only.verdict, Verdict::Deviation);
  // Without the profile the same failure is the baseline's business.
  o.profile = nullptr;
  o.expected_failures = {"resync-answered-by-snapshot:DELTA-4"};
  CaseResult plain = script_failure("resync-answered-by-snapshot", "RESYNC-8", Verdict::Fail,
                                    "expected ShapeSnapshot; nothing came");
  apply_baseline(plain, o);
  EXPECT_EQ(plain.verdict, Verdict::Fail);
}

TEST(Profile, TargetFileNamesAKnownProfile) {
  const auto t = parse_target("profile: origin@19ed8a6a\n", "t.yaml");
  ASSERT_TRUE(t.target) << t.error;
  EXPECT_EQ(t.target->profile, "origin@19ed8a6a");
  const auto bad = parse_target("profile: origin@main\n", "t.yaml");
  EXPECT_FALSE(bad.target);
  EXPECT_NE(bad.error.find("t.yaml:1:"), std::string::npos) << bad.error;
  EXPECT_NE(bad.error.find("unknown profile \"origin@main\""), std::string::npos) << bad.error;
  EXPECT_FALSE(parse_target("profile: lite@b72df15f\n", "b.yaml", /*baseline_only=*/true).target);
}

// ---- run --server records (D144) ------------------------------------------

RunRecord failed_run(std::vector<std::string> failures) {
  RunRecord r;
  r.name = "resync-corrupted-state";
  r.failures = std::move(failures);
  return r;
}

TEST(Profile, RunServerRESYNC_8FailureIsDeviationAndSurvivesJson) {
  RunRecord r =
      failed_run({"RESYNC-8: expected the server wrote to a ShapeSnapshot at least 3 "
                  "time(s); it happened 2 time(s)"});
  apply_profile(r, &origin());
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.deviation,
            "known upstream deviation RESYNC-8 (origin@19ed8a6a, §7.1 item 9: ResyncRequest and "
            "Throttle are only logged)");
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_TRUE(r.notes[0].starts_with("deviation: RESYNC-8: expected")) << r.notes[0];
  std::string error;
  const auto back = record_from_json(record_to_json(r), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->deviation, r.deviation);
}

TEST(Profile, RunServerMustFindingsOfAnUnprofiledDELTA_9KeepTheRunFailing) {
  RunRecord r = failed_run({"2 MUST findings (allowed 0); first: SHAPE-9 ..."});
  r.findings = {must("SHAPE-9", "ShapeDelta lsn 2 for shape \"s\" does not exceed 3"),
                must("DELTA-9", "answer to mutation 1 after answers to later pushes")};
  apply_profile(r, &origin());
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.deviation.empty());
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("the profile explains SHAPE-9 (origin@19ed8a6a, §7.1 item 3"),
            std::string::npos)
      << r.notes[0];
  // Only SHAPE-9 findings: all explained.
  RunRecord only = failed_run({"1 MUST findings (allowed 0); first: SHAPE-9 ..."});
  only.findings = {must("SHAPE-9", "ShapeDelta lsn 2 for shape \"s\" does not exceed 3")};
  apply_profile(only, &origin());
  EXPECT_TRUE(only.ok());
  EXPECT_FALSE(only.deviation.empty());
}

TEST(Profile, RunServerFailuresCitingNoRuleOrInjectedBugsAreLeftAlone) {
  RunRecord hook =
      failed_run({"RESYNC-8: expected ...", "hook \"purge\" failed (exit 3): an error of the run"});
  apply_profile(hook, &origin());
  EXPECT_FALSE(hook.ok());
  EXPECT_TRUE(hook.deviation.empty());
  RunRecord bug = failed_run({"RESYNC-8: expected ..."});
  bug.injects_bugs = true;
  apply_profile(bug, &origin());
  EXPECT_FALSE(bug.ok());
  RunRecord none = failed_run({"RESYNC-8: expected ..."});
  apply_profile(none, nullptr);
  EXPECT_FALSE(none.ok());
}

}  // namespace
}  // namespace syncsim::test
