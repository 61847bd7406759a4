// Shapes (§5.4): every subscription is answered, a re-subscription replaces
// the definition, snapshots are taken at the server's position, deltas
// follow only active subscriptions of their collection with growing lsns,
// and the client subscribes its shapes again after every handshake. With
// state notes (D84) it also judges the server's data and tenants and the
// client's applied snapshots, positions and removals. Owns the view's active
// shapes.
#include <cstdlib>
#include <deque>
#include <set>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kShapeRules[] = {{"SHAPE-2"},
                                    {"SHAPE-4"},
                                    {"SHAPE-5"},
                                    {"SHAPE-6"},
                                    {"SHAPE-8"},
                                    {"SHAPE-9"},
                                    {"SHAPE-14"},
                                    {"SHAPE-15"},
                                    {"SHAPE-10"},
                                    {"SHAPE-3", Scope::Simulator},
                                    {"SHAPE-11", Scope::Simulator},
                                    {"SHAPE-12", Scope::Simulator},
                                    {"SHAPE-13", Scope::Simulator}};
constexpr std::size_t kShapeMemory = 10'000;  // writes remembered per (tenant, collection)

// FNV-1a 64 of bytes: the digest a side's note gives of a document set.
std::uint64_t shape_digest(const Bytes& b) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const std::uint8_t c : b) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

class ShapeJudge final : public Judge {
 public:
  explicit ShapeJudge(const JudgeDeps& d)
      : Judge(d.sink, "shape"), options_(d.options), views_(d.views) {}
  std::span<const RuleDecl> rules() const override { return kShapeRules; }

  void client_wrote(const FrameEvent& e) override;
  void server_read(const FrameEvent& e) override;
  void server_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override;
  void noted(const StateNote& n) override;
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override;

 private:
  struct Def {
    std::string collection;
    bool graph = false;
  };
  struct SnapshotNote {  // the server's data when it took a snapshot (SHAPE-4)
    std::string shape_id;
    std::uint64_t lsn = 0, docs = 0, digest = 0;
  };
  struct State {
    // ---- the server's side ----
    std::map<std::string, std::deque<std::pair<std::int64_t, Def>>> subscribes_unanswered;
    std::map<std::string, std::int64_t> unsubscribed;   // SHAPE-6: when it passed a tap, or -1
    std::map<std::string, std::uint64_t> shape_lsn;     // SHAPE-9
    std::map<std::string, Def> current;                 // SHAPE-5/8: as the last answer made it
    std::map<std::string, std::string> replaced;        // SHAPE-5: the collection it had before
    std::map<std::string, std::uint64_t> assigned;      // SHAPE-4: collection -> highest lsn shown
    std::deque<SnapshotNote> snapshot_notes;            // SHAPE-4 (notes)
    std::optional<std::uint32_t> tenant;                // SHAPE-8 (the server's session note)
    std::map<std::string, std::uint64_t> snapshot_lsn;  // SHAPE-3: the latest snapshot's
    std::set<std::string> purged;                       // SHAPE-3: no deltas since (PURGE-4)
    bool lossy = false;  // SHAPE-3/10: throttled once, so the data queue may drop (THROTTLE-6)
    std::map<std::string, std::uint64_t> contiguous;  // SHAPE-10: the lsn the next delta follows
    // SHAPE-3 (notes): (shape_id, lsn) -> (collection, since) of a write owed as a ShapeDelta.
    std::map<std::pair<std::string, std::uint64_t>, std::pair<std::string, std::int64_t>> owed;
    // ---- the client's side ----
    std::vector<std::string> listed;                       // SHAPE-14: subscribed_shapes
    std::map<std::string, std::int64_t> resubscribe_owed;  // SHAPE-14
    std::map<std::string, std::int64_t> unsubscribe_owed;  // SHAPE-13 (notes)
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> read_snapshot;  // lsn, digest
  };
  void snapshot_written(const FrameEvent& e, State& s, const ShapeSnapshot& snap);
  void delta_written(const FrameEvent& e, State& s, const ShapeDelta& d);
  void tenant_write(const FrameEvent& e, std::uint32_t tenant, const ShapeDelta& d);
  void lsn_follows(const FrameEvent& e, State& s, const ShapeDelta& d);
  void write_owed(const StateNote& n, std::uint32_t tenant, const std::string& collection,
                  std::uint64_t lsn);
  void server_noted(const StateNote& n, State& s);
  void client_noted(const StateNote& n, State& s);
  void shown(State& s, const std::string& collection, std::uint64_t lsn) {
    auto& a = s.assigned[collection];
    a = std::max(a, lsn);
  }

  const CheckerOptions& options_;
  Views& views_;
  std::map<std::uint64_t, State> conns_;
  // SHAPE-8 (notes): (tenant, collection) -> lsn -> document written.
  std::map<std::pair<std::uint32_t, std::string>, std::map<std::uint64_t, std::string>> writes_;
};

void ShapeJudge::client_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* h = std::get_if<Handshake>(&e.m)) {
    s.listed = h->subscribed_shapes;
  } else if (const auto* sub = std::get_if<ShapeSubscribe>(&e.m)) {
    s.resubscribe_owed.erase(sub->shape.shape_id);
  } else if (const auto* un = std::get_if<ShapeUnsubscribe>(&e.m)) {
    s.resubscribe_owed.erase(un->shape_id);
    s.unsubscribe_owed.erase(un->shape_id);
  }
}

void ShapeJudge::server_read(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  auto& shapes = views_[e.r.conn].shapes;
  if (const auto* sub = std::get_if<ShapeSubscribe>(&e.m)) {
    if (!e.view.authenticated) return;  // SESSION-6: only then owed
    const Def def{shape_collection(sub->shape),
                  std::holds_alternative<shape_type::Graph>(sub->shape.shape_type)};
    auto& q = s.subscribes_unanswered[sub->shape.shape_id];
    if (q.size() < kShapeMemory) q.emplace_back(e.r.t, def);
    shapes[sub->shape.shape_id] = def.collection;
    s.unsubscribed.erase(sub->shape.shape_id);
  } else if (const auto* un = std::get_if<ShapeUnsubscribe>(&e.m)) {
    shapes.erase(un->shape_id);
    const bool tap = options_.at_tap || e.r.seen == Seen::Both;
    if (s.unsubscribed.size() < kShapeMemory) s.unsubscribed[un->shape_id] = tap ? e.r.t : -1;
    s.current.erase(un->shape_id);
    s.replaced.erase(un->shape_id);
    std::erase_if(s.owed, [&](const auto& o) { return o.first.first == un->shape_id; });
    s.contiguous.erase(un->shape_id);
  } else if (const auto* th = std::get_if<Throttle>(&e.m); th && th->throttle) {
    s.lossy = true;
    s.owed.clear();
  }
}

void ShapeJudge::server_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* snap = std::get_if<ShapeSnapshot>(&e.m)) {
    snapshot_written(e, s, *snap);
  } else if (const auto* d = std::get_if<ShapeDelta>(&e.m)) {
    delta_written(e, s, *d);
  } else if (std::holds_alternative<DeltaAck>(e.m) && e.facts.push) {
    shown(s, e.facts.push->collection, std::get<DeltaAck>(e.m).lsn);
  } else if (std::holds_alternative<HandshakeAck>(e.m)) {
    s.contiguous.clear();  // SHAPE-10: deltas stop while a session is not authenticated
  } else if (const auto* p = std::get_if<CollectionPurged>(&e.m)) {
    shown(s, p->name, p->purge_lsn);
    s.purged.insert(p->name);
    std::erase_if(s.owed, [&](const auto& o) { return o.second.first == p->name; });
  }
}

// SHAPE-2: the answer to the oldest unanswered subscribe of the shape; it
// makes that definition the shape's (SHAPE-5). SHAPE-4: the snapshot is
// taken at the server's position, which is past every lsn it showed for the
// collection on this session, and with notes, holds the server's data.
void ShapeJudge::snapshot_written(const FrameEvent& e, State& s, const ShapeSnapshot& snap) {
  auto it = s.subscribes_unanswered.find(snap.shape_id);
  if (it != s.subscribes_unanswered.end() && !it->second.empty()) {
    const Def def = it->second.front().second;
    it->second.pop_front();
    const auto old = s.current.find(snap.shape_id);
    if (old != s.current.end() && !old->second.graph && old->second.collection != def.collection)
      s.replaced[snap.shape_id] = old->second.collection;
    s.current[snap.shape_id] = def;
  }
  s.shape_lsn[snap.shape_id] = snap.snapshot_lsn;
  s.snapshot_lsn[snap.shape_id] = snap.snapshot_lsn;
  s.contiguous[snap.shape_id] = snap.snapshot_lsn;
  const auto cur = s.current.find(snap.shape_id);
  std::erase_if(s.owed, [&](const auto& o) {  // SHAPE-3: the snapshot holds it, or replaced
    return o.first.first == snap.shape_id &&
           (o.first.second <= snap.snapshot_lsn || cur == s.current.end() ||
            o.second.first != cur->second.collection);
  });
  if (cur != s.current.end() && !cur->second.graph) {
    const auto shown_lsn = s.assigned.find(cur->second.collection);
    if (shown_lsn != s.assigned.end() && snap.snapshot_lsn < shown_lsn->second)
      flag(e, "SHAPE-4", Level::Must,
           "snapshot_lsn " + std::to_string(snap.snapshot_lsn) + " of shape \"" + snap.shape_id +
               "\" is below lsn " + std::to_string(shown_lsn->second) +
               " the server already assigned in collection \"" + cur->second.collection +
               "\" on this session");
  }
  while (!s.snapshot_notes.empty() && s.snapshot_notes.front().shape_id != snap.shape_id)
    s.snapshot_notes.pop_front();  // taken for a frame never written (a closing session)
  if (s.snapshot_notes.empty()) return;
  const SnapshotNote n = s.snapshot_notes.front();
  s.snapshot_notes.pop_front();
  if (n.lsn != snap.snapshot_lsn || n.docs != snap.doc_count || n.digest != shape_digest(snap.data))
    flag(e, "SHAPE-4", Level::Must,
         "ShapeSnapshot of shape \"" + snap.shape_id + "\" (snapshot_lsn " +
             std::to_string(snap.snapshot_lsn) + ", doc_count " + std::to_string(snap.doc_count) +
             ") is not the server's data: position " + std::to_string(n.lsn) + ", " +
             std::to_string(n.docs) + " documents" +
             (n.digest != shape_digest(snap.data) ? ", other contents" : ""));
}

void ShapeJudge::delta_written(const FrameEvent& e, State& s, const ShapeDelta& d) {
  const bool active = e.view.shapes.count(d.shape_id) > 0;
  const auto un = s.unsubscribed.find(d.shape_id);
  // At a tap, a delta this soon after the unsubscribe may have left before it was read.
  const bool maybe_before = un != s.unsubscribed.end() && un->second >= 0 &&
                            e.r.t < un->second + options_.tap_tolerance_ns;
  if (un != s.unsubscribed.end() && !active) {
    if (!maybe_before)
      flag(e, "SHAPE-6", Level::Must,
           "ShapeDelta for shape \"" + d.shape_id + "\" after its ShapeUnsubscribe was read");
  } else if (!active) {
    flag(e, "SHAPE-15", Level::Must,
         "ShapeDelta for shape \"" + d.shape_id +
             "\", never subscribed on this session (subscribed_shapes creates no subscription)");
  }
  // SHAPE-8: a Document or Vector shape gets its own collection's mutations
  // (Graph shapes: D105). SHAPE-5: a replaced definition no longer matches.
  const auto cur = s.current.find(d.shape_id);
  if (cur != s.current.end() && !cur->second.graph && cur->second.collection != d.collection) {
    const auto old = s.replaced.find(d.shape_id);
    const bool stale = old != s.replaced.end() && old->second == d.collection;
    flag(e, stale ? "SHAPE-5" : "SHAPE-8", Level::Must,
         "ShapeDelta of collection \"" + d.collection + "\" for shape \"" + d.shape_id +
             "\", whose definition is collection \"" + cur->second.collection + "\"" +
             (stale ? " (the definition it replaced)" : ""));
  }
  if (s.tenant) tenant_write(e, *s.tenant, d);
  auto it = s.shape_lsn.find(d.shape_id);
  if (it != s.shape_lsn.end() && d.lsn <= it->second) {
    flag(e, "SHAPE-9", Level::Must,
         "ShapeDelta lsn " + std::to_string(d.lsn) + " for shape \"" + d.shape_id +
             "\" does not exceed " + std::to_string(it->second));
  }
  if (it == s.shape_lsn.end()) {
    s.shape_lsn.emplace(d.shape_id, d.lsn);
  } else {
    it->second = std::max(it->second, d.lsn);
  }
  shown(s, d.collection, d.lsn);
  lsn_follows(e, s, d);
  s.owed.erase({d.shape_id, d.lsn});
}

// SHAPE-10: a shape's lsns go up by one from the snapshot's, judged on what
// the server wrote (a relay, or a tap behind one, loses frames after it) and
// not once the session was throttled (its data queue may drop, THROTTLE-6).
void ShapeJudge::lsn_follows(const FrameEvent& e, State& s, const ShapeDelta& d) {
  const auto c = s.contiguous.find(d.shape_id);
  if (c == s.contiguous.end()) return;
  if (e.r.seen == Seen::Written && !s.lossy && d.lsn != c->second + 1)
    flag(e, "SHAPE-10", Level::Should,
         "ShapeDelta lsn " + std::to_string(d.lsn) + " for shape \"" + d.shape_id +
             "\" does not follow " + std::to_string(c->second) + " (expected " +
             std::to_string(c->second + 1) + ")");
  c->second = d.lsn;
}

// SHAPE-8 (notes): a ShapeDelta carries a write the server applied in the
// session's tenant (not another tenant's write of the same collection).
void ShapeJudge::tenant_write(const FrameEvent& e, std::uint32_t tenant, const ShapeDelta& d) {
  const auto w = writes_.find({tenant, d.collection});
  if (w != writes_.end() && w->second.size() >= kShapeMemory && d.lsn < w->second.begin()->first)
    return;  // forgotten
  const bool written =
      w != writes_.end() && w->second.count(d.lsn) && w->second.at(d.lsn) == d.document_id;
  if (!written)
    flag(e, "SHAPE-8", Level::Must,
         "ShapeDelta lsn " + std::to_string(d.lsn) + " of \"" + d.collection + "\"/\"" +
             d.document_id + "\" is no write the server applied in the session's tenant " +
             std::to_string(tenant));
}

// SHAPE-3 (notes): a write is owed as a ShapeDelta to every subscription of
// its collection in a session of its tenant whose snapshot is older, unless
// that session was throttled (THROTTLE-6 may drop) or purged it (PURGE-4).
void ShapeJudge::write_owed(const StateNote& n, std::uint32_t tenant, const std::string& collection,
                            std::uint64_t lsn) {
  for (auto& [conn, s] : conns_) {
    const auto v = views_.find(conn);
    if (s.tenant != tenant || s.lossy || s.purged.count(collection) || v == views_.end() ||
        !v->second.authenticated || v->second.closed || s.owed.size() >= kShapeMemory)
      continue;
    for (const auto& [id, def] : s.current) {
      const auto snap = s.snapshot_lsn.find(id);
      if (def.graph || def.collection != collection || snap == s.snapshot_lsn.end() ||
          snap->second >= lsn)
        continue;
      s.owed.emplace(std::make_pair(id, lsn), std::make_pair(collection, n.t));
    }
  }
}

void ShapeJudge::client_read(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* snap = std::get_if<ShapeSnapshot>(&e.m)) {
    if (s.read_snapshot.size() < kShapeMemory || s.read_snapshot.count(snap->shape_id))
      s.read_snapshot[snap->shape_id] = {snap->snapshot_lsn, shape_digest(snap->data)};
  } else if (const auto* ack = std::get_if<HandshakeAck>(&e.m)) {
    // SHAPE-14: every shape the Handshake listed as active is subscribed again.
    if (!ack->success) return;
    for (const auto& id : s.listed) s.resubscribe_owed.emplace(id, e.r.t);
  }
}

void ShapeJudge::noted(const StateNote& n) {
  if (n.side == Sender::Server && n.is("write_applied")) {  // any session's, or the harness's
    const std::string* collection = n.field("collection");
    const std::string* document = n.field("document_id");
    if (collection && document) {
      const auto tenant = static_cast<std::uint32_t>(note_u64(n, "tenant"));
      const std::uint64_t lsn = note_u64(n, "lsn");
      auto& w = writes_[{tenant, *collection}];
      w[lsn] = *document;
      if (w.size() > kShapeMemory) w.erase(w.begin());
      return write_owed(n, tenant, *collection, lsn);
    }
  }
  if (n.conn == 0) return;
  State& s = conns_[n.conn];
  if (n.side == Sender::Server) return server_noted(n, s);
  client_noted(n, s);
}

// The reference server's notes: the tenant a session authenticated as, each
// write it applied, and its data when it takes a snapshot.
void ShapeJudge::server_noted(const StateNote& n, State& s) {
  const std::string* shape = n.field("shape_id");
  if (n.is("session_tenant")) {
    s.tenant = static_cast<std::uint32_t>(note_u64(n, "tenant"));
  } else if (n.is("snapshot_taken") && shape && s.snapshot_notes.size() < kShapeMemory) {
    s.snapshot_notes.push_back(
        {*shape, note_u64(n, "lsn"), note_u64(n, "docs"), note_u64(n, "digest")});
  }
}

// The reference client's notes: a snapshot applied (SHAPE-11), a delta read
// (SHAPE-12), a shape removed locally (SHAPE-13).
void ShapeJudge::client_noted(const StateNote& n, State& s) {
  const std::string* shape = n.field("shape_id");
  if (!shape) return;
  const auto at = [&] { return std::to_string(n.t / kJudgeMs) + " ms"; };
  if (n.is("snapshot_applied")) {
    const auto read = s.read_snapshot.find(*shape);
    if (read == s.read_snapshot.end()) return;
    const auto [lsn, digest] = read->second;
    const std::uint64_t position = note_u64(n, "position");
    if (position < lsn || note_u64(n, "digest") != digest)
      report("SHAPE-11", Level::Must,
             "after the ShapeSnapshot of shape \"" + *shape + "\" (snapshot_lsn " +
                 std::to_string(lsn) + ") the client holds position " + std::to_string(position) +
                 (note_u64(n, "digest") != digest ? " and data other than the snapshot's" : ""),
             n.t, n.conn, "");
  } else if (n.is("delta_read")) {
    const std::uint64_t lsn = note_u64(n, "lsn"), position = note_u64(n, "position");
    if (position < lsn)
      report("SHAPE-12", Level::Must,
             "after the ShapeDelta lsn " + std::to_string(lsn) + " of shape \"" + *shape +
                 "\" the client's position is " + std::to_string(position) + " (at " + at() + ")",
             n.t, n.conn, "");
  } else if (n.is("shape_removed") && s.unsubscribe_owed.size() < kShapeMemory) {
    s.unsubscribe_owed.emplace(*shape, n.t);
  }
}

void ShapeJudge::finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  for (const auto& [shape, sent] : it->second.subscribes_unanswered) {
    if (!sent.empty() && sent.front().first <= cutoff)
      report("SHAPE-2", Level::Must, "ShapeSubscribe \"" + shape + "\" never answered", t, conn,
             "");
  }
  for (const auto& [key, owed] : it->second.owed) {
    if (owed.second > cutoff) continue;
    report("SHAPE-3", Level::Must,
           "no ShapeDelta for shape \"" + key.first + "\" of the write with lsn " +
               std::to_string(key.second) + " in \"" + owed.first +
               "\", above the shape's snapshot_lsn",
           t, conn, "");
    break;  // one finding per connection
  }
  for (const auto& [shape, since] : it->second.resubscribe_owed) {
    if (since > cutoff) continue;
    report("SHAPE-14", Level::Must,
           "shape \"" + shape +
               "\", listed in the Handshake's subscribed_shapes, not subscribed again after the "
               "successful HandshakeAck",
           t, conn, "");
    break;  // one finding per connection
  }
  for (const auto& [shape, since] : it->second.unsubscribe_owed) {
    if (since <= cutoff)
      report("SHAPE-13", Level::Should,
             "shape \"" + shape + "\" removed locally without a ShapeUnsubscribe", t, conn, "");
  }
}

}  // namespace

std::unique_ptr<Judge> make_shape_judge(const JudgeDeps& d) {
  return std::make_unique<ShapeJudge>(d);
}

}  // namespace syncsim::conformance
