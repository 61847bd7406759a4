// A scenario's client as the reference client plays it, in the simulator or
// against a real server: its configuration (tokens minted on the server's
// clock), the values its writes carry, and what its `after` conditions and
// stat expectations read.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "conformance/runner/scenario.hpp"
#include "reference/client_core.hpp"

namespace syncsim::conformance {

// How tokens are minted: the server's HS256 key and its clock.
struct TokenMint {
  std::string secret;
  // The server's Unix seconds when the client boots (`start_s` from the
  // start of the run) and now: tokens expire on the server's clock.
  std::function<std::int64_t(double start_s)> server_unix_s_at_start;
  std::function<std::int64_t()> server_unix_s_now;
};

reference::ClientConfig scenario_client_config(const ScenarioClient& c, std::size_t index,
                                               const TokenMint& mint);

// The value of write `i` of step `step`, `size` bytes long: differs per write
// and per step, so a lost or stale write shows in the views.
protocol::Bytes write_value(int i, std::size_t step, int size);

std::uint64_t stat_of(const reference::ClientCore& core, ClientStat stat, std::uint64_t refused);

// True once the condition holds, judged against the stats when waiting began.
bool condition_met(const WaitFor& wf, const reference::ClientCore& core,
                   const reference::ClientCore::Stats& base);

}  // namespace syncsim::conformance
