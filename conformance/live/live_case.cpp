#include "conformance/live/live_case.hpp"

#include <algorithm>
#include <cmath>

#include "protocol/json.hpp"
#include "protocol/rules.hpp"

namespace syncsim::conformance {

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Pass: return "PASS";
    case Verdict::Fail: return "FAIL";
    case Verdict::Timeout: return "TIMEOUT";
    case Verdict::Unsupported: return "UNSUPPORTED";
    case Verdict::XFail: return "XFAIL";
    case Verdict::XPass: return "XPASS";
    case Verdict::Unreachable: return "UNREACHABLE";
    case Verdict::Deviation: return "DEVIATION";
    case Verdict::Error: return "ERROR";
  }
  return "?";
}

const std::set<std::string>& capability_names() {
  static const std::set<std::string> kNames = {"handshake", "ping",     "deltas",     "shapes",
                                               "resync",    "tokens",   "throttle",   "purge",
                                               "framing",   "presence", "definitions"};
  return kNames;
}

std::chrono::milliseconds LiveSuiteOptions::scaled(std::int64_t budget_ms) const {
  const double ms = std::ceil(static_cast<double>(budget_ms) * time_scale);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(ms, 3.6e6)));
}

bool LiveSuiteOptions::selected(const CaseInfo& c) const {
  return filter.empty() || c.id.find(filter) != std::string::npos ||
         c.rule.find(filter) != std::string::npos;
}

bool LiveSuiteOptions::supported(const CaseInfo& c) const {
  return capabilities.empty() || capabilities.count(c.capability) > 0;
}

namespace {

// An expected_failures entry, read (D125).
struct Expectation {
  std::string case_id;  // empty: any case
  std::string rule;     // empty: the whole case (a bare case id)
};

Expectation read_entry(const std::string& e) {
  if (const auto colon = e.find(':'); colon != std::string::npos)
    return {e.substr(0, colon), e.substr(colon + 1)};
  if (protocol::find_rule(e)) return {"", e};
  return {e, ""};
}

std::string comma_list(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}

}  // namespace

bool LiveSuiteOptions::expected_to_fail(const CaseInfo& c) const {
  for (const auto& e : expected_failures) {
    const Expectation x = read_entry(e);
    if (x.case_id == c.id || (x.case_id.empty() && x.rule == c.rule)) return true;
  }
  return false;
}

std::set<std::string> failed_rules(const CaseResult& r) {
  std::set<std::string> out;
  const bool failed =
      r.verdict == Verdict::Fail || r.verdict == Verdict::Timeout || r.verdict == Verdict::XFail;
  if (!failed) return out;
  if (!r.failed_by_checker) out.insert(r.rule);
  for (const auto& f : r.findings) {
    if (f.finding.level == protocol::Level::Must) out.insert(std::string(f.finding.rule));
  }
  for (const auto& rule : r.deviations) out.erase(rule);
  return out;
}

void apply_profile(CaseResult& r, const DeviationProfile* p) {
  if (!p || (r.verdict != Verdict::Fail && r.verdict != Verdict::Timeout)) return;
  std::vector<DeviationEvidence> evidence;
  if (!r.failed_by_checker) evidence.push_back({r.rule, r.detail});
  for (const auto& f : r.findings) {
    if (f.finding.level == protocol::Level::Must)
      evidence.push_back({std::string(f.finding.rule), f.finding.message});
  }
  const DeviationJudgement j = judge_deviations(*p, evidence);
  if (j.explained.empty()) return;
  for (const auto& [rule, text] : j.explained) r.deviations.insert(rule);
  if (j.deviation()) {
    r.detail = "known upstream deviation " + j.explained_text() + " [" +
               std::string(verdict_name(r.verdict)) + ": " + r.detail + "]";
    r.verdict = Verdict::Deviation;
    return;
  }
  r.detail += " [the profile explains " + j.explained_text() + "; it does not explain " +
              comma_list(j.unexplained) + "]";
}

void apply_baseline(CaseResult& r, const LiveSuiteOptions& o) {
  apply_profile(r, o.profile);
  if (r.verdict == Verdict::Pass) {
    if (o.expected_to_fail(CaseInfo{r.id, r.rule, r.title, r.capability}))
      r.verdict = Verdict::XPass;
    return;
  }
  if (r.verdict != Verdict::Fail && r.verdict != Verdict::Timeout) return;
  bool whole_case = false, named = false;
  std::set<std::string> expected;
  for (const auto& e : o.expected_failures) {
    const Expectation x = read_entry(e);
    if (x.case_id == r.id && x.rule.empty()) whole_case = true;
    if (!x.rule.empty() && (x.case_id.empty() || x.case_id == r.id)) expected.insert(x.rule);
    if (x.case_id == r.id) named = true;
  }
  const std::set<std::string> broken = failed_rules(r);
  std::set<std::string> unexpected;
  for (const auto& rule : broken) {
    if (!expected.count(rule)) unexpected.insert(rule);
  }
  if (whole_case || (!broken.empty() && unexpected.empty())) {
    r.verdict = Verdict::XFail;
    return;
  }
  const bool baselined = named || unexpected.size() < broken.size();
  if (baselined) {
    std::set<std::string> of_case;
    for (const auto& rule : expected) {
      if (broken.count(rule)) of_case.insert(rule);
    }
    r.detail += " [baselined for " +
                (of_case.empty() ? std::string("other rules") : comma_list(of_case)) +
                "; it also breaks " + comma_list(unexpected) + ", which no entry expects]";
  }
}

std::set<std::string> baseline_entries(const CaseResult& r) {
  std::set<std::string> out;
  for (const auto& rule : failed_rules(r)) out.insert(r.id + ":" + rule);
  if (out.empty()) out.insert(r.id);
  return out;
}

std::string unknown_expected_failure(const std::string& entry, const std::vector<CaseInfo>& cases) {
  const Expectation x = read_entry(entry);
  const auto has_case = [&](const std::string& id) {
    return std::any_of(cases.begin(), cases.end(), [&](const CaseInfo& c) { return c.id == id; });
  };
  if (!x.case_id.empty() && !has_case(x.case_id)) return "no case \"" + x.case_id + "\"";
  if (!x.rule.empty() && !protocol::find_rule(x.rule)) return "no rule \"" + x.rule + "\"";
  return "";
}

CaseResult start_result(const CaseInfo& c, const LiveSuiteOptions& o) {
  CaseResult r;
  r.id = c.id;
  r.rule = c.rule;
  r.title = c.title;
  r.capability = c.capability;
  if (!o.supported(c)) {
    r.verdict = Verdict::Unsupported;
    r.detail = "needs the \"" + c.capability + "\" capability, which the target lacks";
  }
  return r;
}

void take_findings(CaseResult& r, const std::vector<CheckFinding>& all, protocol::Sender target) {
  for (const auto& f : all) {
    if (f.blamed == target && r.findings.size() < 50) r.findings.push_back(f);
  }
  for (const auto& f : r.findings) {
    if (r.verdict == Verdict::Pass && f.finding.level == protocol::Level::Must) {
      r.verdict = Verdict::Fail;
      r.failed_by_checker = true;
      r.detail = "the checker found " + format_check_finding(f);
    }
  }
}

bool counts_as_failure(Verdict v) { return v == Verdict::Fail || v == Verdict::Timeout; }

std::string describe(const protocol::Message& m) {
  return protocol::dump_json(protocol::message_to_json(m));
}

}  // namespace syncsim::conformance
