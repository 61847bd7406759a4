// Checker strength: every named bug of the reference's switch makes a
// shipped scenario fail for the rule it breaks, and the same scenario with
// that bug removed does not catch that rule -- so it is the bug, not the
// scenario, that the check sees.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "conformance/runner/runner.hpp"
#include "reference/client_core.hpp"
#include "reference/server_core.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

struct BugCase {
  const char* bug;
  const char* scenario;  // scenarios/<name>.yaml
  const char* rule;      // the rule the bug breaks
};

constexpr BugCase kCases[] = {
    {"SkipDedup", "bug-server-skips-dedup", "DELTA-6"},
    {"AcceptExpiredToken", "bug-server-accepts-expired-token", "TOKEN-9"},
    {"IgnoreThrottle", "bug-server-ignores-throttle", "THROTTLE-4"},
    {"ForgetPurgeBroadcast", "bug-server-forgets-purge-broadcast", "PURGE-1"},
    {"WrongLsnOrder", "bug-server-wrong-lsn-order", "DELTA-8"},
    {"SkipCrcCheck", "bug-server-skips-crc-check", "DELTA-4"},
    {"ForkStaysAuthenticated", "bug-server-fork-stays-authenticated", "HS-10"},
    {"WrongPushChecksum", "bug-server-wrong-push-checksum", "DELTA-17"},
    {"NeverThrottle", "bug-client-never-throttles", "THROTTLE-2"},
    {"NoResyncOnGap", "bug-client-no-resync-on-gap", "RESYNC-2"},
    {"PushToPurged", "bug-client-pushes-to-purged", "PURGE-7"},
    {"CumulativeAck", "bug-client-cumulative-ack", "DELTA-13"},
    {"WrongChecksum", "bug-server-skips-crc-check", "DELTA-2"},
    {"ReuseEpoch", "bug-client-reuse-epoch", "HS-12"},
    {"CloseOnUndecodable", "bug-client-close-on-undecodable", "FRAME-10"},
    {"IgnoreSessionCap", "bug-server-ignores-session-cap", "SESSION-2"},
    {"NeverIdleClose", "bug-server-never-idle-close", "SESSION-3"},
    {"PingNotActivity", "bug-server-ping-not-activity", "SESSION-4"},
    {"SkipExpiryAtHandshake", "bug-server-skips-expiry-at-handshake", "AUTH-3"},
    {"TrustAlwaysOn", "bug-server-trust-always-on", "AUTH-1"},
    {"NoHandshakeTimeout", "bug-client-no-handshake-timeout", "HS-14"},
    {"DedupOutlivesSession", "bug-server-dedup-outlives-session", "SESSION-9"},
    {"IgnoreFork", "bug-client-ignores-fork", "HS-11"},
    {"ResendAcked", "bug-client-resends-acked", "DELTA-12"},
    {"IgnoreRejects", "bug-client-ignores-rejects", "DELTA-14"},
    {"AnswerServerPush", "bug-client-answers-server-push", "DELTA-18"},
    {"IgnoreServerClock", "bug-client-ignores-server-clock", "VCLOCK-3"},
    {"SkewAckNotAck", "bug-client-skew-ack-not-ack", "DELTA-16"},
    {"RejectDuplicates", "bug-server-rejects-duplicates", "DELTA-3"},
    {"RequireSeriesBlock", "bug-server-requires-series-block", "TS-7"},
    {"AckGlobalClock", "bug-server-acks-global-clock", "VCLOCK-6"},
    {"NeverPing", "bug-client-never-pings", "PING-1"},
    {"NoBackoff", "bug-client-no-backoff", "CONN-1"},
    {"NeverRetransmit", "bug-client-never-retransmits", "RATE-4"},
    {"NoRateLimit", "bug-server-no-rate-limit", "RATE-2"},
    {"RateLimitAll", "bug-server-rate-limits-everything", "RATE-5"},
    {"PresenceAcrossTenants", "bug-server-presence-across-tenants", "PRES-7"},
    {"NeverExpirePresence", "bug-server-never-expires-presence", "PRES-6"},
    {"DropThrottledData", "bug-server-drops-throttled-data", "THROTTLE-4"},
    {"KeepPurgedData", "bug-client-keeps-purged-data", "PURGE-6"},
    {"AccumulatePresence", "bug-client-accumulates-presence", "PRES-11"},
    {"PurgeBehindData", "bug-server-purge-behind-data", "PURGE-3"},
    {"AcceptNewerWireVersion", "bug-server-accepts-newer-wire-version", "HS-4"},
    {"LateTimeseriesAck", "bug-server-late-timeseries-ack", "FRAME-13"},
    {"ReverseDefinitionReplay", "bug-server-reverse-definition-replay", "DEF-4"},
    {"StoreBadDefinition", "bug-client-stores-bad-definition", "DEF-3"},
    {"KeepDeletedDefinition", "bug-client-keeps-deleted-definition", "DEF-2"},
    {"SnapshotMissesDocument", "bug-server-snapshot-misses-document", "SHAPE-4"},
    {"DeltasAcrossTenants", "bug-server-deltas-across-tenants", "SHAPE-8"},
    {"SubscribeOnce", "bug-client-subscribe-once", "SHAPE-14"},
    {"ResyncFromLastLsn", "bug-client-resync-from-last-lsn", "RESYNC-1"},
    {"FixedExpiresIn", "bug-server-fixed-expires-in", "TOKEN-3"},
    {"RefreshAfterExpiry", "bug-client-refresh-after-expiry", "TOKEN-10"},
    {"IgnoreRefreshFailure", "bug-client-ignores-refresh-failure", "TOKEN-6"},
    {"NoRefreshOnDenied", "bug-client-no-refresh-on-denied", "TOKEN-6"},
    {"HandshakeStaleToken", "bug-client-handshakes-stale-token", "TOKEN-8"},
    {"EmptyDelta", "bug-client-empty-delta", "DELTA-1"},
    {"OverstateSamples", "bug-client-overstates-samples", "TS-1"},
};

conformance::Scenario load(const std::string& name) {
  const auto loaded =
      conformance::load_scenario(std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/" + name + ".yaml");
  EXPECT_TRUE(loaded.scenario) << loaded.error;
  return loaded.scenario.value_or(conformance::Scenario{});
}

// Whether a run caught `rule`: a checker finding, or a failed expectation citing it.
bool caught(const conformance::ScenarioResult& r, const std::string& rule) {
  const bool found = std::any_of(r.findings.begin(), r.findings.end(),
                                 [&](const auto& f) { return f.finding.rule == rule; });
  const bool cited = std::any_of(r.failures.begin(), r.failures.end(),
                                 [&](const auto& f) { return f.starts_with(rule + ": "); });
  return found || cited;
}

bool remove_bug(conformance::Scenario& s, const std::string& bug) {
  auto drop = [&](std::vector<std::string>& bugs) { return std::erase(bugs, bug) > 0; };
  bool removed = drop(s.server.bugs);
  for (auto& c : s.clients) removed = drop(c.bugs) || removed;
  return removed;
}

TEST(CheckerStrength, EveryNamedBugHasAScenario) {
  std::vector<std::string_view> names = reference::server_bug_names();
  for (const auto n : reference::client_bug_names()) names.push_back(n);
  for (const auto n : names) {
    EXPECT_TRUE(std::any_of(std::begin(kCases), std::end(kCases),
                            [&](const BugCase& c) { return c.bug == n; }))
        << "bug " << n << " has no scenario that proves the checker catches it";
  }
}

TEST(CheckerStrength, EachBugFailsItsScenarioForTheRightRuleAndOnlyWithTheBug) {
  for (const auto& c : kCases) {
    SCOPED_TRACE(std::string(c.bug) + " in " + c.scenario);
    conformance::Scenario with_bug = load(c.scenario);
    ASSERT_TRUE(std::count(with_bug.expect.flagged.begin(), with_bug.expect.flagged.end(), c.rule))
        << "the scenario must demand " << c.rule;
    conformance::Scenario without = with_bug;
    ASSERT_TRUE(remove_bug(without, c.bug)) << "the scenario does not inject " << c.bug;
    without.expect.flagged.clear();
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const auto r = conformance::run_scenario(with_bug, seed);
      EXPECT_TRUE(r.passed) << "seed " << seed << ": "
                            << (r.failures.empty() ? "" : r.failures.front());
      const auto clean = conformance::run_scenario(without, seed);
      EXPECT_FALSE(caught(clean, c.rule))
          << "seed " << seed << ": " << c.rule << " is caught even without " << c.bug;
    }
  }
}

}  // namespace
}  // namespace syncsim::test
