// Shapes and resync: every subscription is answered, deltas follow only
// active subscriptions with growing lsns, the client asks for a resync at a
// gap it saw (and only then), and the server answers with a fresh snapshot.
// Owns the view's active shapes.
#include <deque>
#include <set>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kShapeRules[] = {{"SHAPE-2"},  {"SHAPE-6"},  {"SHAPE-9"}, {"SHAPE-15"},
                                    {"RESYNC-2"}, {"RESYNC-4"}, {"RESYNC-8"}};

class ShapeJudge final : public Judge {
 public:
  explicit ShapeJudge(const JudgeDeps& d)
      : Judge(d.sink, "shape"), options_(d.options), views_(d.views) {}
  std::span<const RuleDecl> rules() const override { return kShapeRules; }

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
  void closed(std::uint64_t conn, std::int64_t) override {
    State& s = conns_[conn];
    s.subscribes_unanswered.clear();
    s.snapshot_owed.clear();
    s.gap_owed_since.reset();
  }
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override;

 private:
  struct State {
    // ---- the server's side ----
    std::map<std::string, std::deque<std::int64_t>> subscribes_unanswered;  // SHAPE-2
    std::set<std::string> unsubscribed;                                     // SHAPE-6
    std::map<std::string, std::uint64_t> shape_lsn;                         // SHAPE-9
    std::map<std::string, std::int64_t> snapshot_owed;  // RESYNC-8: shape_id -> since
    // ---- the client's side ----
    std::map<std::string, std::uint64_t> delta_t;            // RESYNC-1: last ShapeDelta lsn read
    std::map<std::string, std::uint64_t> delta_max;          // ... the highest (RESYNC-3 HC)
    std::map<std::string, std::uint64_t> seeded_t;           // ... or the snapshot's (RESYNC-3 HC)
    std::set<std::pair<std::uint64_t, std::uint64_t>> gaps;  // (expected, received) seen
    bool resync_sent = false;
    std::optional<std::int64_t> gap_owed_since;  // RESYNC-2
    std::string gap_owed_what;
    std::uint64_t gap_owed_lsn = 0;  // the lsn of the ShapeDelta that showed it
    bool gap_at_tap = false;         // seen at a tap: the client read it later (D81)
  };
  void delta_read(const FrameEvent& e, State& s, const ShapeDelta& d);
  bool at_tap(const FrameRecord& r) const { return options_.at_tap || r.seen == Seen::Both; }
  void fresh_snapshot(const FrameEvent& e, State& s, const std::string& shape_id);

  const CheckerOptions& options_;
  Views& views_;
  std::map<std::uint64_t, State> conns_;
};

void ShapeJudge::client_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  // At a tap, a frame this soon after the gap may have left before the gap was read.
  const bool maybe_before_gap = s.gap_owed_since && s.gap_at_tap && at_tap(e.r) &&
                                e.r.t < *s.gap_owed_since + options_.tap_tolerance_ns;
  if (std::holds_alternative<DeltaPush>(e.m) && s.gap_owed_since && !maybe_before_gap) {
    flag(e, "RESYNC-2", Level::Must,
         "DeltaPush before the ResyncRequest owed for " + s.gap_owed_what);
    s.gap_owed_since.reset();
  }
  const auto* rq = std::get_if<ResyncRequest>(&e.m);
  if (!rq) return;
  s.resync_sent = true;
  const auto* g = std::get_if<resync_reason::SequenceGap>(&rq->reason);
  if (s.gap_owed_since && !maybe_before_gap && (!g || g->received != s.gap_owed_lsn)) {
    flag(e, "RESYNC-2", Level::Must,
         "the ResyncRequest owed for " + s.gap_owed_what + " names " +
             (g ? "SequenceGap{received " + std::to_string(g->received) + "}"
                : std::string("another reason")) +
             ", not that gap");
  }
  s.gap_owed_since.reset();
  if (g && !s.gaps.count({g->expected, g->received})) {
    flag(e, "RESYNC-4", Level::Must,
         "SequenceGap{expected " + std::to_string(g->expected) + ", received " +
             std::to_string(g->received) +
             "} matches no gap in the ShapeDeltas read on this connection");
  }
}

void ShapeJudge::server_read(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  auto& shapes = views_[e.r.conn].shapes;
  if (const auto* sub = std::get_if<ShapeSubscribe>(&e.m)) {
    if (!e.view.authenticated) return;  // SESSION-6: only then owed
    s.subscribes_unanswered[sub->shape.shape_id].push_back(e.r.t);
    shapes[sub->shape.shape_id] = shape_collection(sub->shape);
    s.unsubscribed.erase(sub->shape.shape_id);
  } else if (const auto* un = std::get_if<ShapeUnsubscribe>(&e.m)) {
    shapes.erase(un->shape_id);
    s.unsubscribed.insert(un->shape_id);
    s.snapshot_owed.erase(un->shape_id);
  } else if (const auto* rq = std::get_if<ResyncRequest>(&e.m)) {
    if (!e.view.authenticated) return;
    for (const auto& [id, coll] : shapes) {
      if (rq->collection.empty() || coll == rq->collection) s.snapshot_owed.emplace(id, e.r.t);
    }
  }
}

void ShapeJudge::server_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* snap = std::get_if<ShapeSnapshot>(&e.m)) {
    auto it = s.subscribes_unanswered.find(snap->shape_id);
    if (it != s.subscribes_unanswered.end() && !it->second.empty()) it->second.pop_front();
    s.shape_lsn[snap->shape_id] = snap->snapshot_lsn;
    fresh_snapshot(e, s, snap->shape_id);
    return;
  }
  const auto* d = std::get_if<ShapeDelta>(&e.m);
  if (!d) return;
  const bool active = e.view.shapes.count(d->shape_id) > 0;
  if (s.unsubscribed.count(d->shape_id) && !active) {
    flag(e, "SHAPE-6", Level::Must,
         "ShapeDelta for shape \"" + d->shape_id + "\" after its ShapeUnsubscribe was read");
  } else if (!active) {
    flag(e, "SHAPE-15", Level::Must,
         "ShapeDelta for shape \"" + d->shape_id +
             "\", never subscribed on this session (subscribed_shapes creates no subscription)");
  }
  if (s.snapshot_owed.erase(d->shape_id)) {
    flag(e, "RESYNC-8", Level::Should,
         "ShapeDelta for shape \"" + d->shape_id +
             "\" before the fresh ShapeSnapshot owed for the ResyncRequest");
  }
  auto it = s.shape_lsn.find(d->shape_id);
  if (it != s.shape_lsn.end() && d->lsn <= it->second) {
    flag(e, "SHAPE-9", Level::Must,
         "ShapeDelta lsn " + std::to_string(d->lsn) + " for shape \"" + d->shape_id +
             "\" does not exceed " + std::to_string(it->second));
  }
  s.shape_lsn[d->shape_id] = std::max(it == s.shape_lsn.end() ? 0 : it->second, d->lsn);
}

// RESYNC-8: the snapshots one ResyncRequest owes go out in increasing
// shape_id byte order; a shape owed since a later request may follow.
void ShapeJudge::fresh_snapshot(const FrameEvent& e, State& s, const std::string& shape_id) {
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

void ShapeJudge::client_read(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* snap = std::get_if<ShapeSnapshot>(&e.m)) {
    s.seeded_t[snap->shape_id] = snap->snapshot_lsn;
  } else if (const auto* d = std::get_if<ShapeDelta>(&e.m)) {
    delta_read(e, s, *d);
  }
}

// t is tracked two ways: Lite's, the lsn of the last delta read (RESYNC-1),
// and the reference client's, seeded by the snapshot and never lowered
// (RESYNC-3 HC). A gap under either is one the client may report (RESYNC-4);
// one under both, with a delta already read, is owed (RESYNC-2).
void ShapeJudge::delta_read(const FrameEvent& e, State& s, const ShapeDelta& d) {
  const auto last = s.delta_t.find(d.shape_id);
  const auto seeded = s.seeded_t.find(d.shape_id);
  const bool tracked = last != s.delta_t.end();
  const std::uint64_t max = tracked ? s.delta_max[d.shape_id] : 0;
  if (tracked && d.lsn > last->second + 1) s.gaps.emplace(last->second + 1, d.lsn);
  std::optional<std::uint64_t> never_lowered;
  if (seeded != s.seeded_t.end()) never_lowered = std::max(seeded->second, max);
  if (!never_lowered && tracked) never_lowered = max;
  if (never_lowered && d.lsn > *never_lowered + 1) s.gaps.emplace(*never_lowered + 1, d.lsn);
  const std::uint64_t t = never_lowered.value_or(0);  // >= the last lsn when tracked
  if (tracked && d.lsn > t + 1 && !s.resync_sent && !s.gap_owed_since) {
    s.gap_owed_since = e.r.t;
    s.gap_owed_lsn = d.lsn;
    s.gap_at_tap = at_tap(e.r);
    s.gap_owed_what = "the gap in shape \"" + d.shape_id + "\" (expected lsn " +
                      std::to_string(t + 1) + ", read " + std::to_string(d.lsn) + ")";
  }
  s.delta_t[d.shape_id] = d.lsn;
  s.delta_max[d.shape_id] = std::max(max, d.lsn);
}

void ShapeJudge::finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  for (const auto& [shape, sent] : it->second.subscribes_unanswered) {
    if (!sent.empty() && sent.front() <= cutoff)
      report("SHAPE-2", Level::Must, "ShapeSubscribe \"" + shape + "\" never answered", t, conn,
             "");
  }
  for (const auto& [shape, since] : it->second.snapshot_owed) {
    if (since <= cutoff)
      report("RESYNC-8", Level::Should,
             "no fresh ShapeSnapshot for shape \"" + shape + "\" after the ResyncRequest", t, conn,
             "");
  }
}

}  // namespace

std::unique_ptr<Judge> make_shape_judge(const JudgeDeps& d) {
  return std::make_unique<ShapeJudge>(d);
}

}  // namespace syncsim::conformance
