// Runs the items of a sweep on several worker processes. Each worker is a
// fork of this process that runs one item at a time, single-threaded as
// always; the parent hands out items as workers free up and gets each
// RunRecord back as one JSON line. Records are delivered in the items'
// canonical order whatever order they finish in, so everything printed and
// every report is the same as with one process (D78).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "conformance/runner/sweep.hpp"

namespace syncsim::conformance {

struct WorkerCallbacks {
  // Each finished item, in item order (position = index into items).
  std::function<void(std::size_t position, RunRecord&& record)> on_record;
  // Asked before each item is handed out: true stops handing out more. The
  // items already running finish and are delivered, so what is delivered is
  // always a prefix of the items.
  std::function<bool()> stop;
  // How one item is run (default: run_item, the simulated pair twice). A live
  // run (`run --server --jobs N`) runs its scenario on real sockets instead.
  std::function<RunRecord(const SweepItem&)> run;
  // Items a worker holds at once: 2 keeps short simulated runs flowing; a
  // live run, minutes long, takes 1 so no item waits behind a busy worker.
  std::size_t depth = 2;
};

// A --jobs value: as given, or one per online core for 0.
unsigned jobs_or_cores(unsigned jobs);

// jobs <= 1 runs in this process. A worker that dies mid-item (a crash, an
// assertion) yields a failed record naming its exit status, and another
// worker takes its place. Returns "" or why workers could not be started.
std::string run_items(const std::vector<Scenario>& scenarios, const std::vector<SweepItem>& items,
                      unsigned jobs, const WorkerCallbacks& callbacks);

}  // namespace syncsim::conformance
