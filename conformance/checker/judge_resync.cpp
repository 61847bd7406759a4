// Sequence gaps and re-sync (§5.5): the client tracks the last lsn it read
// per shape, asks for a resync at a gap it saw (and only then), in the
// request's exact form; the server answers a ResyncRequest with fresh
// snapshots and never with an error; a client re-sends what a server's
// ResyncRequest asks for. Reads the view's active shapes (shape judge).
#include <deque>
#include <set>
#include <utility>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kResyncRules[] = {{"RESYNC-1"}, {"RESYNC-2"}, {"RESYNC-4"},
                                     {"RESYNC-7"}, {"RESYNC-8"}, {"RESYNC-9"}};
constexpr std::size_t kResyncMaxTracked = 10'000;  // unanswered pushes remembered per connection

class ResyncJudge final : public Judge {
 public:
  explicit ResyncJudge(const JudgeDeps& d) : Judge(d.sink, "resync"), options_(d.options) {}
  std::span<const RuleDecl> rules() const override { return kResyncRules; }

  void deadlines(std::uint64_t conn, std::int64_t now) override {
    State& s = conns_[conn];
    const std::int64_t slack = s.gap_at_tap ? options_.tap_tolerance_ns : 0;
    if (!s.gap_owed_since || now <= *s.gap_owed_since + options_.resync_deadline_ns + slack) return;
    report("RESYNC-2", Level::Must,
           "no ResyncRequest within " + ms_text(options_.resync_deadline_ns) + " of " +
               s.gap_owed_what + (slack ? " (+" + ms_text(slack) + " tap tolerance)" : ""),
           *s.gap_owed_since + options_.resync_deadline_ns + slack, conn, "");
    s.gap_owed_since.reset();
  }
  void client_wrote(const FrameEvent& e) override;
  void server_read(const FrameEvent& e) override;
  void server_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override;
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }
  void hung_up(std::uint64_t conn, Sender side, std::int64_t t) override;
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override;

 private:
  struct State {
    // ---- the server's side ----
    std::map<std::string, std::int64_t> snapshot_owed;  // RESYNC-8: shape_id -> since
    std::map<std::string, std::size_t> subscribes;      // read, unanswered: not fresh
    bool resync_at_tap = false;                         // the request passed a tap
    bool answering_resync = false;  // RESYNC-7: read a ResyncRequest, nothing read since
    // RESYNC-7: a ResyncRequest read, no snapshot written since: (when, exact time).
    std::optional<std::pair<std::int64_t, bool>> resync_read;
    // ---- the client's side ----
    std::map<std::string, std::uint64_t> delta_t;            // RESYNC-1: last ShapeDelta lsn read
    std::map<std::string, std::uint64_t> delta_max;          // ... the highest (RESYNC-3 HC)
    std::map<std::string, std::uint64_t> seeded_t;           // ... or the snapshot's (RESYNC-3 HC)
    std::set<std::pair<std::uint64_t, std::uint64_t>> gaps;  // (expected, received) seen
    std::set<std::uint64_t> gap_lsns;                        // received lsns that made a gap
    bool resync_sent = false;
    std::optional<std::int64_t> gap_owed_since;  // RESYNC-2
    std::string gap_owed_what;
    std::uint64_t gap_owed_lsn = 0;  // the lsn of the ShapeDelta that showed it
    bool gap_at_tap = false;         // seen at a tap: the client read it later (D81)
    std::map<std::uint64_t, std::string> unanswered;    // RESYNC-9: pushes written, unanswered
    std::map<std::uint64_t, std::int64_t> resend_owed;  // RESYNC-9: mutation_id -> since
  };
  void delta_read(const FrameEvent& e, State& s, const ShapeDelta& d);
  void request_written(const FrameEvent& e, State& s, const ResyncRequest& rq, bool before_gap);
  bool at_tap(const FrameRecord& r) const { return options_.at_tap || r.seen == Seen::Both; }
  void fresh_snapshot(const FrameEvent& e, State& s, const std::string& shape_id);

  const CheckerOptions& options_;
  std::map<std::uint64_t, State> conns_;
};

void ResyncJudge::client_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  // At a tap, a frame this soon after the gap may have left before the gap was read.
  const bool maybe_before_gap = s.gap_owed_since && s.gap_at_tap && at_tap(e.r) &&
                                e.r.t < *s.gap_owed_since + options_.tap_tolerance_ns;
  if (const auto* p = std::get_if<DeltaPush>(&e.m)) {
    s.resend_owed.erase(p->mutation_id);
    if (s.unanswered.size() < kResyncMaxTracked) s.unanswered[p->mutation_id] = p->collection;
    if (s.gap_owed_since && !maybe_before_gap) {
      flag(e, "RESYNC-2", Level::Must,
           "DeltaPush before the ResyncRequest owed for " + s.gap_owed_what);
      s.gap_owed_since.reset();
    }
  } else if (const auto* rq = std::get_if<ResyncRequest>(&e.m)) {
    request_written(e, s, *rq, maybe_before_gap);
  }
}

// RESYNC-2: the owed request names the gap, in its exact form; RESYNC-4: a
// request names a gap a ShapeDelta made; RESYNC-1: its `expected` is one
// past the lsn the client tracked when that delta came.
void ResyncJudge::request_written(const FrameEvent& e, State& s, const ResyncRequest& rq,
                                  bool before_gap) {
  s.resync_sent = true;
  const auto* g = std::get_if<resync_reason::SequenceGap>(&rq.reason);
  if (s.gap_owed_since && !before_gap && (!g || g->received != s.gap_owed_lsn)) {
    flag(e, "RESYNC-2", Level::Must,
         "the ResyncRequest owed for " + s.gap_owed_what + " names " +
             (g ? "SequenceGap{received " + std::to_string(g->received) + "}"
                : std::string("another reason")) +
             ", not that gap");
  }
  s.gap_owed_since.reset();
  if (!g) return;
  const std::string named = "SequenceGap{expected " + std::to_string(g->expected) + ", received " +
                            std::to_string(g->received) + "}";
  if (rq.from_mutation_id != g->expected || !rq.collection.empty()) {
    flag(e, "RESYNC-2", Level::Must,
         named + " with from_mutation_id " + std::to_string(rq.from_mutation_id) +
             " and collection \"" + rq.collection + "\" (expected " + std::to_string(g->expected) +
             " and \"\")");
  }
  if (!s.gap_lsns.count(g->received)) {
    flag(e, "RESYNC-4", Level::Must,
         named + " matches no gap in the ShapeDeltas read on this connection");
  } else if (!s.gaps.count({g->expected, g->received})) {
    flag(e, "RESYNC-1", Level::Must,
         named +
             ": expected is not one past the lsn last read for the shape on this "
             "connection when lsn " +
             std::to_string(g->received) + " came");
  }
}

// RESYNC-7: a server that hangs up at once after reading a ResyncRequest,
// with no ShapeSnapshot written since, closed the session on it. As
// FRAME-10: at once in the simulator, within the hang-up window at a tap.
void ResyncJudge::hung_up(std::uint64_t conn, Sender side, std::int64_t t) {
  const auto it = conns_.find(conn);
  if (side != Sender::Server || it == conns_.end() || !it->second.resync_read) return;
  const auto [at, exact] = *std::exchange(it->second.resync_read, std::nullopt);
  if (!hung_up_on_it(at, exact, t, options_)) return;
  report("RESYNC-7", Level::Must,
         "the server hung up " + ms_text(t - at) +
             " after reading a ResyncRequest, with no ShapeSnapshot written since (a resync "
             "never ends the session)",
         t, conn, "");
}

void ResyncJudge::server_read(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  s.answering_resync = false;
  if (std::holds_alternative<ResyncRequest>(e.m))
    s.resync_read.emplace(e.r.t, exact_read(e.r.seen, options_));
  if (const auto* sub = std::get_if<ShapeSubscribe>(&e.m)) {
    if (e.view.authenticated && s.subscribes.size() < kResyncMaxTracked)
      ++s.subscribes[sub->shape.shape_id];
  } else if (const auto* un = std::get_if<ShapeUnsubscribe>(&e.m)) {
    s.snapshot_owed.erase(un->shape_id);
  } else if (const auto* rq = std::get_if<ResyncRequest>(&e.m)) {
    // RESYNC-7: what the server writes before it reads again answers this
    // request, where reads are recorded apart from writes (not at a tap).
    s.answering_resync = !at_tap(e.r);
    if (!e.view.authenticated) return;
    s.resync_at_tap = at_tap(e.r);
    for (const auto& [id, coll] : e.view.shapes) {
      if (rq->collection.empty() || coll == rq->collection) s.snapshot_owed.emplace(id, e.r.t);
    }
  }
}

void ResyncJudge::server_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  // A snapshot answers the request; other frames may have been on their way
  // (at a proxy, written before the request was read) and do not count.
  if (std::holds_alternative<ShapeSnapshot>(e.m)) s.resync_read.reset();
  if (s.answering_resync) {
    const auto* ack = std::get_if<HandshakeAck>(&e.m);
    const auto* tok = std::get_if<TokenRefreshAck>(&e.m);
    if (std::holds_alternative<DeltaReject>(e.m) || (ack && !ack->success) ||
        (tok && !tok->success)) {
      flag(e, "RESYNC-7", Level::Must,
           "an error frame written while handling a ResyncRequest (nothing else was read)");
    }
  }
  if (const auto* snap = std::get_if<ShapeSnapshot>(&e.m)) {
    auto sub = s.subscribes.find(snap->shape_id);
    if (sub == s.subscribes.end()) return fresh_snapshot(e, s, snap->shape_id);
    if (--sub->second == 0) s.subscribes.erase(sub);  // answers a subscribe read before
    return;
  }
  const auto* d = std::get_if<ShapeDelta>(&e.m);
  if (!d) return;
  const auto owed = s.snapshot_owed.find(d->shape_id);
  if (owed == s.snapshot_owed.end()) return;
  // At a tap, a delta this soon after the request may have left before it was read.
  if (s.resync_at_tap && at_tap(e.r) && e.r.t < owed->second + options_.tap_tolerance_ns) return;
  s.snapshot_owed.erase(owed);
  flag(e, "RESYNC-8", Level::Should,
       "ShapeDelta for shape \"" + d->shape_id +
           "\" before the fresh ShapeSnapshot owed for the ResyncRequest");
}

// RESYNC-8: the snapshots one ResyncRequest owes go out in increasing
// shape_id byte order; a shape owed since a later request may follow.
void ResyncJudge::fresh_snapshot(const FrameEvent& e, State& s, const std::string& shape_id) {
  const auto owed = s.snapshot_owed.find(shape_id);
  if (owed == s.snapshot_owed.end()) return;
  for (auto it = s.snapshot_owed.begin(); it != owed; ++it) {
    if (it->second > owed->second) continue;
    flag(e, "RESYNC-8", Level::Should,
         "fresh ShapeSnapshot for shape \"" + shape_id + "\" before the one owed for \"" +
             it->first + "\" (increasing shape_id order)");
    break;
  }
  s.snapshot_owed.erase(owed);
}

void ResyncJudge::client_read(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* snap = std::get_if<ShapeSnapshot>(&e.m)) {
    auto& seeded = s.seeded_t[snap->shape_id];
    seeded = std::max(seeded, snap->snapshot_lsn);
  } else if (const auto* d = std::get_if<ShapeDelta>(&e.m)) {
    delta_read(e, s, *d);
  } else if (const auto* ack = std::get_if<DeltaAck>(&e.m)) {
    s.unanswered.erase(ack->mutation_id);
    s.resend_owed.erase(ack->mutation_id);
  } else if (const auto* rej = std::get_if<DeltaReject>(&e.m)) {
    s.unanswered.erase(rej->mutation_id);
    s.resend_owed.erase(rej->mutation_id);
  } else if (const auto* rq = std::get_if<ResyncRequest>(&e.m)) {
    // RESYNC-9: the unanswered pushes it names are sent again.
    for (const auto& [id, coll] : s.unanswered) {
      if (id >= rq->from_mutation_id && (rq->collection.empty() || rq->collection == coll))
        s.resend_owed.emplace(id, e.r.t);
    }
  }
}

// t is tracked two ways: Lite's, the lsn of the last delta read (RESYNC-1),
// and the reference client's, seeded by the snapshot and never lowered
// (RESYNC-3 HC). A gap under either is one the client may report (RESYNC-4);
// one under both, with a delta already read, is owed (RESYNC-2).
void ResyncJudge::delta_read(const FrameEvent& e, State& s, const ShapeDelta& d) {
  const auto last = s.delta_t.find(d.shape_id);
  const auto seeded = s.seeded_t.find(d.shape_id);
  const bool tracked = last != s.delta_t.end();
  std::uint64_t& max_seen = s.delta_max[d.shape_id];  // one lookup: this runs per delta read
  const std::uint64_t max = tracked ? max_seen : 0;
  auto gap = [&](std::uint64_t expected) {
    s.gaps.emplace(expected, d.lsn);
    s.gap_lsns.insert(d.lsn);
    if (s.gaps.size() > kResyncMaxTracked) s.gaps.erase(s.gaps.begin());
    if (s.gap_lsns.size() > kResyncMaxTracked) s.gap_lsns.erase(s.gap_lsns.begin());
  };
  if (tracked && d.lsn > last->second + 1) gap(last->second + 1);
  std::optional<std::uint64_t> never_lowered;
  if (seeded != s.seeded_t.end()) never_lowered = std::max(seeded->second, max);
  if (!never_lowered && tracked) never_lowered = max;
  if (never_lowered && d.lsn > *never_lowered + 1) gap(*never_lowered + 1);
  const std::uint64_t t = never_lowered.value_or(0);  // >= the last lsn when tracked
  if (tracked && d.lsn > t + 1 && !s.resync_sent && !s.gap_owed_since) {
    s.gap_owed_since = e.r.t;
    s.gap_owed_lsn = d.lsn;
    s.gap_at_tap = at_tap(e.r);
    s.gap_owed_what = "the gap in shape \"" + d.shape_id + "\" (expected lsn " +
                      std::to_string(t + 1) + ", read " + std::to_string(d.lsn) + ")";
  }
  if (tracked) {
    last->second = d.lsn;
  } else {
    s.delta_t.emplace(d.shape_id, d.lsn);
  }
  max_seen = std::max(max, d.lsn);
}

void ResyncJudge::finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  for (const auto& [shape, since] : it->second.snapshot_owed) {
    if (since <= cutoff)
      report("RESYNC-8", Level::Should,
             "no fresh ShapeSnapshot for shape \"" + shape + "\" after the ResyncRequest", t, conn,
             "");
  }
  for (const auto& [id, since] : it->second.resend_owed) {
    if (since > cutoff) continue;
    report("RESYNC-9", Level::Should,
           "unacknowledged mutation " + std::to_string(id) +
               " not pushed again after the server's ResyncRequest named it",
           t, conn, "");
    break;  // one finding per connection
  }
}

}  // namespace

std::unique_ptr<Judge> make_resync_judge(const JudgeDeps& d) {
  return std::make_unique<ResyncJudge>(d);
}

}  // namespace syncsim::conformance
