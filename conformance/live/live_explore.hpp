// `syncsim explore --target URL`: random fault files between two reference
// clients and a server on a real port (through the in-process proxy), each
// run judged like the `resync-converges-through-faults` case: both views
// converge and no MUST finding blames the server. Real time and real sockets
// make a run unrepeatable in detail, so failures are not shrunk; what is
// reported is the fault file and the proxy seed, which `syncsim proxy`
// takes to replay the same fault decisions by hand (D63).
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "conformance/live/live_case.hpp"
#include "conformance/live/server_check.hpp"
#include "sim/prng.hpp"

namespace syncsim::conformance {

// Faults a correct pair always recovers from: reordered and duplicated
// ShapeDeltas and DeltaAcks (a gap draws a resync), duplicated DeltaPushes,
// lost DeltaAcks (the client retransmits, the server deduplicates), jitter.
// Never a lost ShapeDelta: with no later lsn to reveal it, nothing repairs
// the last one. Never a lost DeltaPush: once a later mutation id of the peer
// is accepted, its retransmission is "at or below the highest accepted" and
// is dropped as a duplicate (DELTA-6): the protocol counts on TCP here.
struct LiveFaults {
  std::string text;  // a proxy fault file
  int writes = 20;
};
LiveFaults random_live_faults(sim::Prng& rng);

struct LiveExploreOptions {
  ServerCheckOptions server;  // target, token, time scale
  std::uint64_t seed = 1;
  int runs = 20;
  std::int64_t budget_ms = 10'000;  // per run, times the time scale
  std::function<void(const std::string&)> progress;
};

struct LiveExploreFailure {
  int run = 0;  // 1-based
  std::uint64_t run_seed = 0;
  LiveFaults faults;
  CaseResult result;
  std::string rule;  // the first MUST finding's, or CONVERGENCE
};

struct LiveExploreResult {
  std::string unreachable;  // why the target could not be reached
  int runs_done = 0;
  std::optional<LiveExploreFailure> failure;
};

// Runs until the first failure. An unreachable target is reported at once
// (`unreachable` set), not as a failed run.
LiveExploreResult explore_live(boost::asio::io_context& ioc, const LiveExploreOptions& o);

}  // namespace syncsim::conformance
