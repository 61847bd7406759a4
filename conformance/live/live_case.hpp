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

namespace syncsim::conformance {

// PASS/FAIL/TIMEOUT as h2spec; UNSUPPORTED: the case needs a capability the
// target file says it lacks (not run); XFAIL: failed as the baseline
// expects; XPASS: passed though the baseline expects a failure (reported, so
// the baseline can be trimmed; not a failure); UNREACHABLE: no connection.
enum class Verdict { Pass, Fail, Timeout, Unsupported, XFail, XPass, Unreachable };
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
  std::string filter;                       // only cases whose id or rule contains it
  std::set<std::string> capabilities;       // empty: every family
  std::set<std::string> expected_failures;  // case ids or rule IDs
  double time_scale = 1.0;                  // every wait's budget is multiplied by it
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

// Turns FAIL/TIMEOUT into XFAIL and PASS into XPASS for baselined cases.
void apply_baseline(CaseResult& r, const LiveSuiteOptions& o);
// A message as one line of the JSON model, for case details and frame lines.
std::string describe(const protocol::Message& m);

// A failure that counts: FAIL or TIMEOUT (not baselined).
bool counts_as_failure(Verdict v);

}  // namespace syncsim::conformance
