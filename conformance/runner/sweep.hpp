// A sweep: scenarios x seeds, each (scenario, seed) pair one independent,
// deterministic run. The pairs have one canonical order (scenario by scenario,
// seeds ascending); a shard K/N takes every N-th of them, as GoogleTest deals
// tests (D78). A finished run is a RunRecord, which is all that the reports
// need and which travels as one JSON object between worker processes, and
// between shards and `syncsim merge`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "conformance/checker/session_checker.hpp"
#include "conformance/runner/runner.hpp"
#include "conformance/runner/scenario.hpp"
#include "protocol/json.hpp"

namespace syncsim::conformance {

struct SeedRange {
  std::uint64_t first = 1, last = 1;
  std::uint64_t count() const { return last - first + 1; }
};

// 0-based index of count shards; {0, 1} is the whole sweep.
struct Shard {
  std::uint64_t index = 0, count = 1;
};

struct SweepItem {
  std::size_t scenario = 0;  // index into the sweep's scenario list
  std::uint64_t seed = 0;
};

// The pairs of one shard, in canonical order. Position p of the whole sweep
// belongs to shard p % count.
std::vector<SweepItem> sweep_items(std::size_t scenarios, SeedRange seeds, Shard shard);

// One finished run.
struct RunRecord {
  std::string name, file;
  std::uint64_t seed = 0;
  bool injects_bugs = false;          // a bug-* scenario: passing means the bug was caught
  std::vector<std::string> failures;  // empty: passed
  std::vector<std::string> notes;     // expectations not judged, and why
  std::string unsupported;            // not run: what the target lacks (a live run, D131)
  // Failed only as the target's deviation profile says its upstream does
  // (`run --server`, D144): which rules, which §7 items; failures are notes.
  std::string deviation;
  // Nothing could be judged: the run itself failed (a --client-exec client
  // that cannot start). The whole sweep stops with exit 2.
  std::string run_error;
  std::vector<CheckFinding> findings;  // everything the checker found
  std::uint64_t must = 0, frames = 0, events = 0, trace_hash = 0;
  double virtual_s = 0;
  bool ok() const { return failures.empty(); }
};

// True when the scenario injects a bug into the reference pair.
bool injects_bugs(const Scenario& s);

// A finished run of `s` as a record.
RunRecord record_of(const Scenario& s, const ScenarioResult& r);

// Runs the pair twice: the second run must give the same trace hash
// (determinism, proved on every run).
RunRecord run_item(const Scenario& s, std::uint64_t seed);

// The record as JSON and back; records read back are equal to those written
// (the same build: problems travel as their enum values).
protocol::Json record_to_json(const RunRecord& r);
std::optional<RunRecord> record_from_json(const protocol::Json& j, std::string& error);

}  // namespace syncsim::conformance
