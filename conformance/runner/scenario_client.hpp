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
#include "reference/server_core.hpp"
#include "sim/prng.hpp"

namespace syncsim::conformance {

// How tokens are minted: the server's HS256 key and its clock.
struct TokenMint {
  std::string secret;
  // The server's Unix seconds when the client boots (`start_s` from the
  // start of the run) and now: tokens expire on the server's clock.
  std::function<std::int64_t(double start_s)> server_unix_s_at_start;
  std::function<std::int64_t()> server_unix_s_now;
  // Added to each token's tenant: a live run's tenants of its own (D165).
  std::uint32_t tenant_base = 0;
};

// The reference server as the scenario's `server:` sets it (the simulator's,
// and run --client-exec's, D151), verifying tokens with `jwt_secret`; bugs
// are not applied.
reference::ServerConfig scenario_server_config(const Scenario& s, const std::string& jwt_secret);

reference::ClientConfig scenario_client_config(const ScenarioClient& c, std::size_t index,
                                               const TokenMint& mint);

// A client's `writes:` workload, the same in the simulator and live: the
// collection they go to, and write i's document (drawn from rng) and value.
struct WorkloadWrite {
  std::string collection, document;
  protocol::Bytes value;
};
WorkloadWrite workload_write(const ScenarioClient& c, int i, sim::Prng& rng);

// The value of write `i` of step `step`, `size` bytes long: differs per write
// and per step, so a lost or stale write shows in the views.
protocol::Bytes write_value(int i, std::size_t step, int size);

std::uint64_t stat_of(const reference::ClientCore& core, ClientStat stat, std::uint64_t refused);

// A client step (write, presence, samples, apply-rate, corrupt-state,
// resubscribe) done on a reference client, simulated or live; `refused`
// counts writes the client refused (FLOW-4).
template <class Client>
void perform_client_step(Client& c, const ScenarioEvent& e, std::size_t index,
                         std::uint64_t& refused) {
  using reference::ClientCore;
  switch (e.kind) {
    case StepKind::Write: {
      const std::string coll = e.collection.empty() ? "orders" : e.collection;
      for (int i = 0; i < e.count; ++i) {
        const std::string doc = e.document.empty() ? "doc-" + std::to_string(i % 50) : e.document;
        if (!c.write(coll, doc, write_value(i, index, e.size))) ++refused;
      }
      break;
    }
    case StepKind::Presence: c.update_presence(e.channel, protocol::Bytes{'h', 'i'}); break;
    case StepKind::Samples:
      c.act([&](ClientCore& core, auto now) {
        for (int i = 0; i < e.count; ++i)
          core.record_sample(e.collection, now.unix_ms + i, i * 0.5);
      });
      break;
    case StepKind::ApplyRate:
      c.act([&](ClientCore& core, auto) { core.set_apply_rate(e.rate); });
      break;
    case StepKind::CorruptState:
      c.act([](ClientCore& core, auto) { core.mark_state_corrupt(); });
      break;
    case StepKind::Resubscribe: c.act([](ClientCore& core, auto) { core.resubscribe(); }); break;
    case StepKind::Unsubscribe:
      c.act([&](ClientCore& core, auto) { core.unsubscribe(e.collection); });
      break;
    default: break;  // not a client step
  }
}

// True once the condition holds, judged against the stats when waiting began.
bool condition_met(const WaitFor& wf, const reference::ClientCore& core,
                   const reference::ClientCore::Stats& base);

}  // namespace syncsim::conformance
