#include "conformance/live/live_explore.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <sstream>

#include "conformance/live/live_scenario.hpp"
#include "conformance/live/server_scenarios.hpp"

namespace syncsim::conformance {

LiveFaults random_live_faults(sim::Prng& rng) {
  // Rates in ppm; each fault is present half the time.
  auto rate = [&](std::uint64_t max_ppm) {
    return rng.below(2) == 0 ? std::uint64_t{0} : 10'000 + rng.below(max_ppm - 10'000);
  };
  LiveFaults f;
  f.writes = 10 + static_cast<int>(rng.below(31));  // 10 documents, each written at least once
  std::ostringstream o;
  o << "# syncsim explore --target: a proxy fault file (syncsim proxy --faults)\n";
  o << "client_to_server:\n  jitter_ms: " << rng.below(4) << "\n"
    << "  frames: {duplicate_ppm: " << rate(300'000) << ", types: [DeltaPush]}\n";
  o << "server_to_client:\n  jitter_ms: " << rng.below(4) << "\n";
  if (rng.below(3) == 0) {  // acks lost: the client retransmits, the server deduplicates
    o << "  frames: {drop_ppm: " << rate(300'000) << ", duplicate_ppm: " << rate(300'000)
      << ", types: [DeltaAck]}\n";
  } else {  // deltas and acks out of order and repeated: gaps, resyncs, snapshots
    o << "  frames: {reorder_ppm: " << rate(400'000) << ", reorder_window_ms: " << 5 + rng.below(46)
      << ", duplicate_ppm: " << rate(200'000) << ", types: [DeltaAck, ShapeDelta]}\n";
  }
  f.text = o.str();
  return f;
}

namespace {

// A TCP connection to the target within 3 s, or why not.

}  // namespace

LiveExploreResult explore_live(boost::asio::io_context& ioc, const LiveExploreOptions& o) {
  LiveExploreResult result;
  if (const auto why = unreachable(ioc, o.server.target); !why.empty()) {
    result.unreachable = "cannot connect to " + o.server.target.text() + ": " + why;
    return result;
  }
  for (int i = 0; i < o.runs; ++i) {
    const std::uint64_t run_seed = o.seed + static_cast<std::uint64_t>(i);
    sim::Prng rng(run_seed);
    const LiveFaults faults = random_live_faults(rng);
    const CaseInfo info{"explore-run-" + std::to_string(i + 1), "RESYNC-8",
                        "two reference clients converge through random faults", "resync"};
    CaseResult r =
        run_convergence(ioc, o.server, info, faults.text, faults.writes, o.budget_ms, run_seed);
    result.runs_done = i + 1;
    const bool failed = counts_as_failure(r.verdict);
    if (o.progress) {
      o.progress("run " + std::to_string(i + 1) + "/" + std::to_string(o.runs) + " seed " +
                 std::to_string(run_seed) + ": " + std::string(verdict_name(r.verdict)) + ", " +
                 std::to_string(faults.writes) + " writes" + (failed ? ": " + r.detail : ""));
    }
    if (!failed) continue;
    LiveExploreFailure f;
    f.run = i + 1;
    f.run_seed = run_seed;
    f.faults = faults;
    // A harness choice the server does not follow is named (D186).
    f.rule = r.verdict == Verdict::Fail && r.rule != info.rule ? r.rule : "CONVERGENCE";
    for (const auto& finding : r.findings) {
      if (finding.finding.level == protocol::Level::Must) {
        f.rule = std::string(finding.finding.rule);
        break;
      }
    }
    f.result = std::move(r);
    result.failure = std::move(f);
    return result;
  }
  return result;
}

}  // namespace syncsim::conformance
