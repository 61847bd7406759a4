#include "conformance/live/live_case.hpp"

#include <cmath>

#include "protocol/json.hpp"

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

bool LiveSuiteOptions::expected_to_fail(const CaseInfo& c) const {
  return expected_failures.count(c.id) > 0 || expected_failures.count(c.rule) > 0;
}

void apply_baseline(CaseResult& r, const LiveSuiteOptions& o) {
  if (!o.expected_to_fail(CaseInfo{r.id, r.rule, r.title, r.capability})) return;
  if (r.verdict == Verdict::Fail || r.verdict == Verdict::Timeout)
    r.verdict = Verdict::XFail;
  else if (r.verdict == Verdict::Pass)
    r.verdict = Verdict::XPass;
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
      r.detail = "the checker found " + format_check_finding(f);
    }
  }
}

bool counts_as_failure(Verdict v) { return v == Verdict::Fail || v == Verdict::Timeout; }

std::string describe(const protocol::Message& m) {
  return protocol::dump_json(protocol::message_to_json(m));
}

}  // namespace syncsim::conformance
