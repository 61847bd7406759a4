// What a live case (server-facing or client-facing) reports, and the
// bookkeeping both suites share: capabilities a case needs, the
// expected-failure baseline that keeps a partial implementation green while
// still reporting, and the time scale every real-time wait is multiplied by.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "conformance/checker/session_checker.hpp"
#include "conformance/live/profiles.hpp"

namespace syncsim::conformance {

// PASS/FAIL/TIMEOUT as h2spec; UNSUPPORTED: the case needs a capability the
// target file says it lacks (not run); XFAIL: failed as the baseline
// expects; XPASS: passed though the baseline expects a failure (reported, so
// the baseline can be trimmed; not a failure); UNREACHABLE: no connection;
// DEVIATION: failed only in ways the target's deviation profile lists (spec
// §7, profiles.hpp; not a failure, D140).
// ERROR: the run could not do a step of the case (an operator hook failed,
// D132): nothing is concluded about the target, and the run fails.
enum class Verdict {
  Pass,
  Fail,
  Timeout,
  Unsupported,
  XFail,
  XPass,
  Unreachable,
  Deviation,
  Error
};
std::string_view verdict_name(Verdict v);

struct CaseResult {
  std::string id;    // e.g. "delta-duplicate-acked-with-lsn-0"
  std::string rule;  // e.g. "DELTA-6"
  std::string title;
  std::string capability;  // the message family the case needs
  Verdict verdict = Verdict::Pass;
  std::string detail;                  // what was expected and what arrived
  std::vector<std::string> frames;     // the case's frames, in order ("-> ..." sent, "<- ..." got)
  std::vector<CheckFinding> findings;  // what the checker found on the case's connections
  double seconds = 0;                  // real time the case took
  // The FAIL came from a MUST finding (take_findings), not from the case's
  // script: then the case's own rule is not among the rules it breaks.
  bool failed_by_checker = false;
  // Rules the case broke that the deviation profile explains (D140): not
  // among failed_rules, so baselines never need them.
  std::set<std::string> deviations;
};
using ServerCaseResult = CaseResult;

struct CaseInfo {
  std::string id, rule, title, capability;
};
using ServerCaseInfo = CaseInfo;

// The message families a target may declare (target file `capabilities`).
const std::set<std::string>& capability_names();

// What both suites take from the target file and the command line.
struct LiveSuiteOptions {
  std::string filter;                  // only cases whose id or rule contains it
  std::set<std::string> capabilities;  // empty: every family
  // Each entry a case id (the whole case, as before: D125), a rule ID (that
  // rule, in any case) or "case-id:RULE" (that rule in that case).
  std::set<std::string> expected_failures;
  // The upstream deviations (spec §7) reported as DEVIATION, or none (D140).
  const DeviationProfile* profile = nullptr;
  double time_scale = 1.0;  // every wait's budget is multiplied by it
  // The least tap tolerance (D81); check --client raises it per case to the
  // largest round trip it measures plus half again (D118).
  std::int64_t tap_tolerance_floor_ms = 50;
  // A budget of virtual milliseconds as a real-time wait.
  std::chrono::milliseconds scaled(std::int64_t budget_ms) const;
  bool selected(const CaseInfo& c) const;
  bool supported(const CaseInfo& c) const;
  bool expected_to_fail(const CaseInfo& c) const;
};

// A fresh result for case `c`: UNSUPPORTED, with the reason, when the
// suite's capabilities leave it out; else PASS until the case says otherwise.
CaseResult start_result(const CaseInfo& c, const LiveSuiteOptions& o);

// Adds the findings that blame `target` (at most 50 in all) and turns a PASS
// into FAIL citing the first MUST among them: a live case judges one side.
void take_findings(CaseResult& r, const std::vector<CheckFinding>& all, protocol::Sender target);

// The rules a failed case breaks: its own rule when its script failed (a
// wrong answer, a close, a timeout), and the rule of every MUST finding
// blaming the target, less those the profile explains (r.deviations). Empty
// for a case that did not fail.
std::set<std::string> failed_rules(const CaseResult& r);

// With a profile, before any baseline (D143): a FAIL/TIMEOUT each of whose
// broken rules an entry of `p` explains (every piece of evidence of it: the
// case's detail for its own rule, each MUST finding's message for the
// finding's rule) becomes DEVIATION, its detail naming each rule and its §7
// item. A failure that also breaks a rule the profile does not explain stays
// FAIL/TIMEOUT and its detail names both; the explained rules go to
// r.deviations. Anything else is left alone. `p` null: nothing happens.
void apply_profile(CaseResult& r, const DeviationProfile* p);

// Applies the profile first (apply_profile with o.profile), then turns
// FAIL/TIMEOUT into XFAIL when every rule the case breaks is expected
// of it (D125): by a "case-id:RULE" entry, a "RULE" entry, or a bare case id
// (which expects any failure of the case). A failure that breaks a rule no
// entry expects stays FAIL/TIMEOUT and says which. PASS becomes XPASS when an
// entry names the case (its id, "case-id:RULE", or its own rule).
void apply_baseline(CaseResult& r, const LiveSuiteOptions& o);

// The baseline entries that describe how `r` failed: "case-id:RULE" per rule
// it breaks (the case id alone when it failed without a rule: UNREACHABLE).
std::set<std::string> baseline_entries(const CaseResult& r);

// An expected_failures entry that names no case or rule of `cases`, or "".
std::string unknown_expected_failure(const std::string& entry, const std::vector<CaseInfo>& cases);
// A message as one line of the JSON model, for case details and frame lines.
std::string describe(const protocol::Message& m);

// A failure that counts: FAIL or TIMEOUT (not baselined, not a DEVIATION).
bool counts_as_failure(Verdict v);

}  // namespace syncsim::conformance
