// The client's pushes on one connection: they leave on its push tick, a
// batch per tick (FLOW-2); a mutation still in flight (pushed, no answer
// read) is pushed again only after the retransmit timeout (FLOW-3), and is
// pushed again at all: a silent drop is healed, never waited out (RATE-4).
// As for the other client timers, RATE-4 is judged only where the client
// shows it is alive on the connection (a frame written, or read). The client
// refuses local writes only at its configured pending bound (FLOW-4, from its
// "pending_bound" notes: the wire does not show local writes).
#include <limits>
#include <set>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kFlowRules[] = {{"FLOW-2", Scope::Profile},
                                   {"FLOW-3", Scope::Profile},
                                   {"FLOW-4", Scope::Simulator},
                                   {"RATE-4"}};

constexpr std::int64_t kFlowSlackNs = 5'000'000;  // whole-millisecond timers
// Without the client's configured timeout, this long unanswered is "forever".
constexpr std::int64_t kForeverNs = 60'000'000'000;
constexpr std::size_t kMaxInFlight = 1 << 12;

class FlowJudge final : public Judge {
 public:
  explicit FlowJudge(const JudgeDeps& d) : Judge(d.sink, "flow"), options_(d.options) {}
  std::span<const RuleDecl> rules() const override { return kFlowRules; }

  void client_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override;
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }
  void noted(const StateNote& n) override;

 private:
  struct Sent {
    std::int64_t last = 0;  // the latest push of it
    std::string collection;
  };
  struct State {
    std::map<std::uint64_t, Sent> in_flight;  // pushed, no answer read
    // At most the earliest `last` in in_flight (a lower bound: kept by every
    // assignment, tightened by a scan), so alive() scans only when one may be late.
    std::int64_t oldest = std::numeric_limits<std::int64_t>::min();
    bool paused = false;  // "permission denied" read: the client waits for a new token
    std::optional<std::int64_t> last_batch;  // when the client last wrote a DeltaPush
    bool early_reported = false, stuck_reported = false, tick_reported = false;
  };
  std::int32_t drift() const {
    return options_.client_profile.clock_drift_ppm.value_or(static_cast<int>(kDefaultDriftPpm));
  }
  std::int64_t slack(const FrameEvent& e) const {
    const bool tap = options_.at_tap || e.r.seen == Seen::Both;
    return kFlowSlackNs + (tap ? options_.tap_tolerance_ns : 0);
  }
  void alive(const FrameEvent& e, State& s);
  void pushed(const FrameEvent& e, State& s, const DeltaPush& p);
  void batch(const FrameEvent& e, State& s);

  const CheckerOptions& options_;
  std::map<std::uint64_t, State> conns_;
};

// RATE-4: the client is alive here at e.r.t; a mutation unanswered for
// longer than its retransmit timeout plus the grace period has been given up.
void FlowJudge::alive(const FrameEvent& e, State& s) {
  if (s.paused || s.stuck_reported || s.in_flight.empty()) return;
  const auto timeout = options_.client_profile.retransmit_ns;
  const std::int64_t bound =
      options_.grace_ns + (timeout ? longest_ns(*timeout, drift()) : kForeverNs) + slack(e);
  if (s.oldest >= e.r.t - bound) return;  // none is late
  std::int64_t oldest = std::numeric_limits<std::int64_t>::max();
  for (const auto& [mid, sent] : s.in_flight) {
    if (e.r.t - sent.last <= bound) {
      oldest = std::min(oldest, sent.last);
      continue;
    }
    flag(e, "RATE-4", Level::Must,
         "mutation " + std::to_string(mid) + " pushed " + ms_text(e.r.t - sent.last) +
             " ago, unanswered, and not pushed again");
    s.stuck_reported = true;
    return;
  }
  s.oldest = oldest;
}

// FLOW-3: pushed again while still in flight, before the timeout.
void FlowJudge::pushed(const FrameEvent& e, State& s, const DeltaPush& p) {
  auto [it, fresh] = s.in_flight.try_emplace(p.mutation_id, Sent{e.r.t, p.collection});
  const auto timeout = options_.client_profile.retransmit_ns;
  if (!fresh && timeout && !s.early_reported) {
    const std::int64_t gap = e.r.t - it->second.last;
    if (gap < shortest_ns(*timeout, drift()) - slack(e)) {
      flag(e, "FLOW-3", Level::Should,
           "mutation " + std::to_string(p.mutation_id) + " pushed again " + ms_text(gap) +
               " after its last push, without an answer (retransmit after " + ms_text(*timeout) +
               ")");
      s.early_reported = true;
    }
  }
  it->second.last = e.r.t;
  s.oldest = std::min(s.oldest, e.r.t);
  if (s.in_flight.size() > kMaxInFlight) s.in_flight.erase(s.in_flight.begin());
}

void FlowJudge::client_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  alive(e, s);
  if (const auto* p = std::get_if<DeltaPush>(&e.m)) {
    batch(e, s);
    pushed(e, s, *p);
  }
}

// FLOW-2: pushes written at one instant are one tick's batch; the next batch
// comes a tick later. Only where writes are recorded as written: a tap sees
// a batch spread out by the network.
void FlowJudge::batch(const FrameEvent& e, State& s) {
  const auto tick = options_.client_profile.push_tick_ns;
  if (!tick || e.r.seen != Seen::Written || options_.at_tap) return;
  if (s.last_batch && e.r.t != *s.last_batch && !s.tick_reported &&
      e.r.t - *s.last_batch < shortest_ns(*tick, drift()) - kFlowSlackNs) {
    flag(e, "FLOW-2", Level::Should,
         "DeltaPush written " + ms_text(e.r.t - *s.last_batch) +
             " after the previous batch (one batch per " + ms_text(*tick) + " tick)");
    s.tick_reported = true;
  }
  s.last_batch = e.r.t;
}

// FLOW-4: a write refused for the pending bound met a full queue.
void FlowJudge::noted(const StateNote& n) {
  const auto& p = options_.client_profile;
  if (n.side != Sender::Client || !n.is("pending_bound") || !p.pending_limit ||
      !p.pending_bytes_limit)
    return;
  const std::string *pending = n.field("pending"), *bytes = n.field("bytes"),
                    *size = n.field("size"), *accepted = n.field("accepted");
  if (!pending || !bytes || !size || !accepted) return;
  const auto count = std::stoull(*pending), held = std::stoull(*bytes), more = std::stoull(*size);
  const bool full = count >= *p.pending_limit || held + more > *p.pending_bytes_limit;
  if (full == (*accepted == "0")) return;
  report("FLOW-4", Level::Should,
         std::string(full ? "accepted" : "refused") + " a write of " + *size + " bytes with " +
             *pending + " mutations (" + *bytes + " bytes) pending; the bound is " +
             std::to_string(*p.pending_limit) + " mutations or " +
             std::to_string(*p.pending_bytes_limit) + " bytes",
         n.t, n.conn, "");
}

void FlowJudge::client_read(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (e.r.seen == Seen::Received) alive(e, s);  // a tap's record does not show the client alive
  if (const auto* ack = std::get_if<DeltaAck>(&e.m)) {
    s.in_flight.erase(ack->mutation_id);
  } else if (const auto* rej = std::get_if<DeltaReject>(&e.m)) {
    s.in_flight.erase(rej->mutation_id);
    const auto& hint = rej->compensation;
    if (hint && std::holds_alternative<compensation::PermissionDenied>(*hint)) s.paused = true;
  } else if (const auto* ra = std::get_if<TokenRefreshAck>(&e.m); ra && ra->success) {
    if (s.paused) {
      for (auto& [mid, sent] : s.in_flight) sent.last = std::max(sent.last, e.r.t);
    }
    s.paused = false;
  } else if (const auto* pu = std::get_if<CollectionPurged>(&e.m)) {
    std::erase_if(s.in_flight, [&](const auto& kv) { return kv.second.collection == pu->name; });
  }
}

}  // namespace

std::unique_ptr<Judge> make_flow_judge(const JudgeDeps& d) {
  return std::make_unique<FlowJudge>(d);
}

}  // namespace syncsim::conformance
