// Runs a scenario: the reference pair in the simulator, the scenario's
// workload and faults, every frame judged by the session checker, then the
// scenario's expectations.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "conformance/checker/session_checker.hpp"
#include "conformance/runner/scenario.hpp"

namespace syncsim::sim {
struct LinkParams;
}

namespace syncsim::conformance {

struct ScenarioResult {
  std::string name, file;
  std::uint64_t seed = 0;
  bool passed = false;
  std::vector<std::string> failures;   // what did not hold, one line each
  std::vector<std::string> notes;      // expectations not judged in this run, and why
  std::vector<CheckFinding> findings;  // everything the checker found
  std::size_t must_findings = 0;
  std::uint64_t frames = 0, events = 0, trace_hash = 0;
  double virtual_s = 0;
};

struct RunOptions {
  // Every frame written and read, connection ends and admin purges, as JSON
  // lines in the format `syncsim check-trace` reads.
  std::ostream* frame_trace = nullptr;
  // For reports (`run --html`, `--pcap`): the client each connection
  // belongs to, and the simulator's own trace lines (faults among them).
  std::map<std::uint64_t, std::string>* conn_clients = nullptr;
  std::ostream* sim_trace = nullptr;
};

// Names of bugs are checked here; an invalid scenario returns a result whose
// only failure starts with "invalid scenario:".
ScenarioResult run_scenario(const Scenario& s, std::uint64_t seed);

// Sets the fields of `p` that `k` sets: latency, jitter, bandwidth, segment
// and frame faults (the proxy's fault file uses it too).
void apply_link_spec(sim::LinkParams& p, const LinkSpec& k);
ScenarioResult run_scenario(const Scenario& s, std::uint64_t seed, const RunOptions& options);

}  // namespace syncsim::conformance
