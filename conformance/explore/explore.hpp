// `syncsim explore`: random fault schedules and workload on top of a base
// scenario, run on the reference pair in the simulator, judged by the
// checker (safety throughout, liveness after every fault has healed). A
// failing run is shrunk, first by RapidCheck's shrinking of the generated
// schedule, then by removing steps one at a time, to a standalone YAML
// scenario that still fails the same rule, with the seed that reproduces it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace syncsim::conformance {

// One generated step. Times are in tenths of a second from the start of the
// fault window; a fault lasts `amount` tenths (partitions, reordering,
// duplication) or counts `amount` (dropped frames, writes).
struct ExploreStep {
  enum class Kind : int {
    Partition,    // client <-> server, healed after `amount`
    Reset,        // the client's connections reset
    Restart,      // the client restarts (its persisted state kept)
    DropNext,     // the next `amount` (at most 5) ShapeDeltas or DeltaAcks to the client
                  // lost, within 5 s
    Reorder,      // frames to the client held back at random for `amount`
    Duplicate,    // frames from the client duplicated for `amount`
    ServerWrite,  // the server writes `amount` documents
    Write,        // the client writes `amount` documents
    Purge,        // the collection is purged (an administrator's action)
    Corrupt,      // every push from the client corrupted (one bit) for `amount`
    ClockJump,    // the client's clock jumps by `amount` - 25 seconds
  };
  Kind kind = Kind::Partition;
  int at_ds = 0;
  int client = 0;  // index into the base's clients
  int amount = 1;
  int types = 0;  // which message types a frame fault touches (a small menu)
};

std::string_view step_kind_name(ExploreStep::Kind k);

struct ExploreOptions {
  std::string base_file;  // the base scenario: clients, server, what must hold
  std::uint64_t seed = 1;
  int runs = 100;
  int max_steps = 8;
  // Injected into the base, to prove the search finds them.
  std::vector<std::string> client_bugs, server_bugs;
  int max_shrink_runs = 300;
  // SHOULD findings fail a run too (the default oracle is MUST findings and
  // convergence); the shrunk scenario then lists the rule under expect.absent
  // so that `syncsim run` fails on it as well.
  bool strict = false;
  // Purges of the base's collection are drawn too; a schedule with one is
  // judged by the checker alone (views are not compared after a purge).
  bool purges = false;
  // Worker processes running the search's runs side by side (D189); what is
  // found and said is the same for any number. Shrinking runs in this process.
  unsigned jobs = 1;
  std::function<void(const std::string&)> progress;
};

struct ExploreFailure {
  std::string rule;    // the rule the run broke (a MUST finding's, or CONVERGENCE)
  std::string detail;  // the first failure, as `syncsim run` prints it
  std::uint64_t run_seed = 0;
  int found_at_run = 0;  // 1-based
  std::size_t steps_found = 0, steps_shrunk = 0;
  int shrink_runs = 0;
  std::string yaml;  // the shrunk scenario, standalone
};

struct ExploreResult {
  std::string error;  // the base could not be used
  int runs_done = 0;
  // Runs whose corruption left other valid frames, so convergence was not
  // judged (D120); the first such run's note.
  int runs_unjudged = 0;
  std::string first_unjudged;
  std::optional<ExploreFailure> failure;
};

ExploreResult explore(const ExploreOptions& o);

}  // namespace syncsim::conformance
