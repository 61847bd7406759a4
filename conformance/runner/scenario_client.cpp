#include "conformance/runner/scenario_client.hpp"

#include <memory>
#include <optional>

#include "reference/jwt.hpp"

namespace syncsim::conformance {

using namespace reference;

namespace {

std::string mint(const ScenarioClient& c, std::size_t index, std::int64_t exp, bool good,
                 const TokenMint& tm) {
  JwtClaims claims;
  claims.sub = c.name;
  claims.tenant_id = tm.tenant_base + (c.token ? c.token->tenant : 0);
  claims.user_id = index + 1;
  claims.exp = exp;
  return mint_hs256(claims, good ? tm.secret : "not-the-server-secret");
}

}  // namespace

ClientConfig scenario_client_config(const ScenarioClient& c, std::size_t index,
                                    const TokenMint& tm) {
  ClientConfig cfg;
  for (const auto& coll : c.shapes) {
    protocol::ShapeDefinition shape;
    shape.shape_id = coll + "-all";
    shape.shape_type = protocol::shape_type::Document{coll, {}};
    cfg.shapes.push_back(shape);
  }
  if (c.token) {
    const TokenSpec tk = *c.token;
    cfg.token = mint(c, index, tm.server_unix_s_at_start(c.start_s) + tk.expires_in_s, true, tm);
    cfg.token_lifetime_s = tk.lifetime_s;
    if (tk.refresh != "none") {
      // ok: every token valid; fail: none; flaky: the first bad_tokens are bad.
      auto handed_out = std::make_shared<int>(0);
      cfg.new_token = [tm, c, index, tk, handed_out]() -> std::optional<std::string> {
        const bool good =
            tk.refresh == "ok" || (tk.refresh == "flaky" && ++*handed_out > tk.bad_tokens);
        return mint(c, index, tm.server_unix_s_now() + tk.refresh_expires_in_s, good, tm);
      };
    }
  }
  cfg.apply_rate_per_s = c.apply_rate;
  if (c.throttle_high) cfg.throttle_high = *c.throttle_high;
  if (c.throttle_low) cfg.throttle_low = *c.throttle_low;
  cfg.suggested_rate = c.suggested_rate;
  if (c.ping_interval_s)
    cfg.ping_interval_ms = static_cast<std::int64_t>(*c.ping_interval_s * 1000);
  if (c.retransmit_ms) cfg.retransmit_ms = *c.retransmit_ms;
  cfg.backoff_jitter_ms = c.backoff_jitter_ms;
  if (c.vclock_interval_s)
    cfg.vclock_interval_ms = static_cast<std::int64_t>(*c.vclock_interval_s * 1000);
  if (c.timeseries_interval_s)
    cfg.timeseries_interval_ms = static_cast<std::int64_t>(*c.timeseries_interval_s * 1000);
  if (c.wire_version) cfg.wire_version = *c.wire_version;
  if (c.pending_limit) cfg.pending_limit = *c.pending_limit;
  return cfg;
}

WorkloadWrite workload_write(const ScenarioClient& c, int i, sim::Prng& rng) {
  WorkloadWrite w;
  w.collection = !c.collection.empty() ? c.collection
                 : c.shapes.empty()    ? "orders"
                                       : c.shapes.front();
  w.document = "doc-" + std::to_string(rng.below(static_cast<std::uint64_t>(c.docs)));
  w.value = {static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8), 7};
  return w;
}

protocol::Bytes write_value(int i, std::size_t step, int size) {
  protocol::Bytes v(static_cast<std::size_t>(size), static_cast<std::uint8_t>(step));
  v[0] = static_cast<std::uint8_t>(i);
  if (size > 1) v[1] = static_cast<std::uint8_t>(i >> 8);
  return v;
}

std::uint64_t stat_of(const ClientCore& core, ClientStat stat, std::uint64_t refused) {
  const auto& st = core.stats();
  switch (stat) {
    case ClientStat::Acked: return st.acked;
    case ClientStat::Rejected: return st.rejected;
    case ClientStat::Resyncs: return st.resyncs;
    case ClientStat::Throttles: return st.throttles;
    case ClientStat::Reconnects: return st.reconnects;
    case ClientStat::Purges: return st.purges;
    case ClientStat::Refreshes: return st.refreshes;
    case ClientStat::Reauths: return st.reauths;
    case ClientStat::Pending: return core.pending();
    case ClientStat::Backlog: return core.backlog();
    case ClientStat::Refused: return refused;
    case ClientStat::Peers: {
      std::uint64_t n = 0;
      for (const auto& [channel, peers] : core.presence()) n += peers.size();
      return n;
    }
  }
  return 0;
}

bool condition_met(const WaitFor& wf, const ClientCore& core, const ClientCore::Stats& base) {
  const auto& st = core.stats();
  switch (wf.condition) {
    case WaitCondition::Connected: return core.authenticated();
    case WaitCondition::Throttled: return core.throttled();
    case WaitCondition::Unthrottled: return st.throttles > 0 && !core.throttled();
    case WaitCondition::Resynced: return st.resyncs > base.resyncs;
    case WaitCondition::Purged: return st.purges > base.purges;
    case WaitCondition::Refreshed: return st.refreshes > base.refreshes;
  }
  return false;
}

}  // namespace syncsim::conformance
