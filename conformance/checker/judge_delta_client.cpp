// What a client does with the answers to its pushes (§5.3.4, §5.3.6): an
// acknowledged mutation is not sent again (DELTA-12), also when the ack warns
// of clock skew (DELTA-16); an ack covers only its own id, so a lower
// mutation still unanswered is sent again (DELTA-13); a rejected one the
// client rolled back is not sent again, and the client halves its batch
// (DELTA-14, from the reference client's notes); DeltaAck and DeltaReject are
// the server's (DELTA-18).
#include <set>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kDeltaClientRules[] = {{"DELTA-12"},
                                          {"DELTA-16"},
                                          {"DELTA-18"},
                                          {"DELTA-13", Scope::Profile},
                                          {"DELTA-14", Scope::Simulator}};

constexpr std::size_t kMemory = 1 << 16;  // answered mutations remembered per client and peer

// How a client learned that a mutation is done with.
enum class Done { Acked, SkewAcked, RolledBack };

class DeltaClientJudge final : public Judge {
 public:
  explicit DeltaClientJudge(const JudgeDeps& d)
      : Judge(d.sink, "delta_client"), options_(d.options), views_(d.views) {}
  std::span<const RuleDecl> rules() const override { return kDeltaClientRules; }

  void client_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override;
  void noted(const StateNote& n) override;
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }

 private:
  struct Sent {
    std::int64_t at = 0;  // last written
    std::string collection;
    bool overtaken = false;  // an ack of a higher id was read since (DELTA-13)
  };
  struct State {
    std::optional<std::uint64_t> peer;
    std::map<std::uint64_t, Sent> in_flight;  // written, no answer read
    bool any_overtaken = false;  // false: no Sent in in_flight is overtaken (overtaken() skips)
  };
  struct Closed {
    Done how = Done::Acked;
    std::int64_t t = 0;
  };
  using Key = std::pair<std::string, std::uint64_t>;  // client, peer_id

  void resent(const FrameEvent& e, const DeltaPush& p);
  void overtaken(const FrameEvent& e, State& s, std::uint64_t mid);
  void done(const Key& k, std::uint64_t mid, Done how, std::int64_t t) {
    auto& m = done_[k];
    m[mid] = Closed{how, t};
    if (m.size() > kMemory) m.erase(m.begin());
  }
  bool at_tap(const FrameRecord& r) const { return options_.at_tap || r.seen == Seen::Both; }

  const CheckerOptions& options_;
  const Views& views_;
  std::map<std::uint64_t, State> conns_;
  std::map<Key, std::map<std::uint64_t, Closed>> done_;
};

void DeltaClientJudge::client_wrote(const FrameEvent& e) {
  if (std::holds_alternative<DeltaAck>(e.m) || std::holds_alternative<DeltaReject>(e.m)) {
    flag(e, "DELTA-18", Level::Must,
         std::string(message_name(e.m)) +
             " from the client: only the server answers pushes (a server DeltaPush is not "
             "answered)");
    return;
  }
  const auto* p = std::get_if<DeltaPush>(&e.m);
  if (!p) return;
  State& s = conns_[e.r.conn];
  s.peer = p->peer_id;
  resent(e, *p);
  auto& sent = s.in_flight[p->mutation_id];
  sent = Sent{e.r.t, p->collection, false};
  overtaken(e, s, p->mutation_id);
  if (s.in_flight.size() > kMemory) s.in_flight.erase(s.in_flight.begin());
}

// DELTA-12/14/16: a mutation the client is done with, sent again.
void DeltaClientJudge::resent(const FrameEvent& e, const DeltaPush& p) {
  const auto k = done_.find({e.view.client_key, p.peer_id});
  if (k == done_.end()) return;
  const auto it = k->second.find(p.mutation_id);
  if (it == k->second.end() || e.r.t < it->second.t) return;  // may have crossed the answer
  const std::string mid = "mutation " + std::to_string(p.mutation_id);
  switch (it->second.how) {
    case Done::Acked:
      flag(e, "DELTA-12", Level::Must, mid + " sent again after the client read its DeltaAck");
      break;
    case Done::SkewAcked:
      flag(e, "DELTA-16", Level::Must,
           mid +
               " sent again after the client read its DeltaAck with a clock-skew warning "
               "(still an acknowledgement)");
      break;
    case Done::RolledBack:
      flag(e, "DELTA-14", Level::Must,
           mid + " sent again after the client rolled it back on its DeltaReject");
      break;
  }
  k->second.erase(it);  // reported once
}

// DELTA-13 (SHOULD; HC): a mutation an ack of a higher id overtook is sent
// again once the retransmit time passed (FLOW-3). The reference pushes on its
// tick in increasing id order, retransmissions first among equals, so a push
// of a higher id after that time shows the lower one was forgotten. The time
// gets two ticks and 10 % for the client's clock drift.
void DeltaClientJudge::overtaken(const FrameEvent& e, State& s, std::uint64_t mid) {
  const auto& prof = options_.client_profile;
  if (!prof.retransmit_ns || !prof.push_tick_ns || !s.any_overtaken) return;
  const std::int64_t tol = at_tap(e.r) ? options_.tap_tolerance_ns : 0;
  const std::int64_t due = (*prof.retransmit_ns + 2 * *prof.push_tick_ns) * 11 / 10 + tol;
  for (auto& [id, sent] : s.in_flight) {
    if (id >= mid) break;
    const std::int64_t idle = e.r.t - sent.at;
    if (!sent.overtaken || idle <= due) continue;
    flag(e, "DELTA-13", Level::Should,
         "mutation " + std::to_string(id) + " unanswered for " + ms_text(idle) +
             " and not sent again since an ack of a higher id (an ack covers only its own id)");
    sent.overtaken = false;  // reported once
  }
}

void DeltaClientJudge::client_read(const FrameEvent& e) {
  const auto c = conns_.find(e.r.conn);
  if (c == conns_.end() || !c->second.peer) return;
  State& s = c->second;
  if (const auto* p = std::get_if<CollectionPurged>(&e.m)) {  // PURGE-6: its mutations go
    std::erase_if(s.in_flight, [&](const auto& kv) { return kv.second.collection == p->name; });
    return;
  }
  std::uint64_t mid = 0;
  const auto* ack = std::get_if<DeltaAck>(&e.m);
  if (ack) mid = ack->mutation_id;
  if (const auto* rej = std::get_if<DeltaReject>(&e.m)) mid = rej->mutation_id;
  if ((!ack && !std::holds_alternative<DeltaReject>(e.m)) || !s.in_flight.erase(mid)) return;
  if (s.in_flight.empty()) s.any_overtaken = false;
  if (!ack) return;
  // At a tap the client reads the ack later, by up to a partition's length:
  // a push after it passed may still cross it (D102), so only read records
  // count. A proxy records the ack as handed to the client, after its delays:
  // the client has read it within the tap tolerance (D180).
  const Done how = ack->clock_skew_warning_ms ? Done::SkewAcked : Done::Acked;
  if (!at_tap(e.r))
    done({e.view.client_key, *s.peer}, mid, how, e.r.t);
  else if (e.r.seen == Seen::Received)
    done({e.view.client_key, *s.peer}, mid, how, e.r.t + options_.tap_tolerance_ns);
  for (auto& [id, sent] : s.in_flight) {
    if (id >= mid) break;
    sent.overtaken = true;
    s.any_overtaken = true;
  }
}

// DELTA-14 (HC): the reference client states how it handled a DeltaReject.
// Kept pending: PermissionDenied with a token source (TOKEN-6), the first
// IntegrityViolation (sent once more), RateLimited (after its wait); rolled
// back otherwise. Every reject halves the batch size, down to the minimum.
void DeltaClientJudge::noted(const StateNote& n) {
  if (n.side != Sender::Client || !n.is("delta_rejected")) return;
  const std::string* hint = n.field("hint");
  const bool kept = note_u64(n, "kept") != 0;
  const bool want_kept = hint && ((*hint == "PermissionDenied" && note_u64(n, "token_source")) ||
                                  (*hint == "IntegrityViolation" && !note_u64(n, "retry_used")) ||
                                  *hint == "RateLimited");
  const std::uint64_t mid = note_u64(n, "mutation_id");
  const std::uint64_t before = note_u64(n, "batch_before"), after = note_u64(n, "batch_after");
  const std::uint64_t want_batch = std::max(note_u64(n, "batch_min"), before / 2);
  std::string wrong;
  if (after != want_batch)
    wrong = "batch size " + std::to_string(before) + " -> " + std::to_string(after) +
            " on a reject (halved: " + std::to_string(want_batch) + ")";
  else if (note_u64(n, "known") && kept != want_kept)
    wrong = "mutation " + std::to_string(mid) + (kept ? " kept pending" : " rolled back") +
            " after a reject with hint " + (hint ? *hint : std::string("?"));
  if (!wrong.empty()) report("DELTA-14", Level::Must, wrong, n.t, n.conn, "");
  const auto view = views_.find(n.conn);
  const auto c = conns_.find(n.conn);
  if (!kept && note_u64(n, "known") && view != views_.end() && c != conns_.end() && c->second.peer)
    done({view->second.client_key, *c->second.peer}, mid, Done::RolledBack, n.t);
}

}  // namespace

std::unique_ptr<Judge> make_delta_client_judge(const JudgeDeps& d) {
  return std::make_unique<DeltaClientJudge>(d);
}

}  // namespace syncsim::conformance
