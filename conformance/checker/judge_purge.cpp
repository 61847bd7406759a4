// Purges: every session of the tenant that used a purged collection is told
// (PURGE-1), purge_lsn passes everything delivered (PURGE-2), nothing of the
// collection follows the notice (PURGE-4), and the client drops what it made
// before it (PURGE-7). After each successful handshake the server replays
// the tenant's purges it announced before (PURGE-5); a client does not hang
// up on such a repeat (PURGE-8).
#include <set>
#include <tuple>
#include <utility>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kPurgeRules[] = {{"PURGE-1"}, {"PURGE-2"}, {"PURGE-3"},
                                    {"PURGE-4"}, {"PURGE-5"}, {"PURGE-6", Scope::Simulator},
                                    {"PURGE-7"}, {"PURGE-8"}};

bool is_queued_data(const Message& m) {  // what the data queue holds (PURGE-3)
  return std::holds_alternative<ShapeDelta>(m) || std::holds_alternative<DeltaPush>(m);
}

class PurgeJudge final : public Judge {
 public:
  explicit PurgeJudge(const JudgeDeps& d)
      : Judge(d.sink, "purge"), options_(d.options), views_(d.views) {}
  std::span<const RuleDecl> rules() const override { return kPurgeRules; }

  void client_wrote(const FrameEvent& e) override;
  void server_read(const FrameEvent& e) override {
    const auto* sub = std::get_if<ShapeSubscribe>(&e.m);
    if (!sub || !e.view.authenticated) return;
    const std::string coll = shape_collection(sub->shape);
    if (!coll.empty()) conns_[e.r.conn].touched.insert(coll);
  }
  void server_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override {
    State& s = conns_[e.r.conn];
    if (const auto* ack = std::get_if<HandshakeAck>(&e.m)) s.ack_read = ack->success;
    // A notice read before the client read its HandshakeAck (a reordering
    // relay) is one the client may drop unprocessed: PURGE-7 binds it only
    // once it is read in session.
    if (const auto* p = std::get_if<CollectionPurged>(&e.m); p && s.ack_read) {
      ClientRecord& rec = clients_[e.view.client_key];
      auto& below = rec.purged_below[p->name];
      below = std::max(below, rec.max_mutation_id);
      const auto [lsn, first] = rec.notice_lsn.try_emplace(p->name, p->purge_lsn);
      if (!first && p->purge_lsn <= lsn->second)  // PURGE-8: a repeat, no change, no error
        s.repeat =
            Repeat{e.r.t, exact_read(e.r.seen, options_), p->name, p->purge_lsn, lsn->second};
      lsn->second = std::max(lsn->second, p->purge_lsn);
    }
  }
  void hung_up(std::uint64_t conn, Sender side, std::int64_t t) override;
  void closed(std::uint64_t conn, std::int64_t t) override {
    State& s = conns_[conn];
    s.ack_read = false;  // a connection id may be used again
    s.purge_owed.clear();
    s.notice_due.clear();
    if (s.replay_since && t - *s.replay_since > options_.grace_ns) replay_missing(conn, s, t);
    s.replay_owed.clear();
  }
  void purged(std::uint32_t tenant, const std::string& collection, std::int64_t t) override;
  void noted(const StateNote& n) override;
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override;

 private:
  struct Repeat {
    std::int64_t t = 0;
    bool exact = false;  // read and hang-up times are the client's own (the simulator)
    std::string collection;
    std::uint64_t lsn = 0, recorded = 0;
  };
  struct State {
    std::set<std::string> touched;                     // collections pushed or subscribed
    std::set<std::string> purged;                      // PURGE-4: notices written
    std::map<std::string, std::int64_t> purge_owed;    // PURGE-1: collection -> since
    std::map<std::string, std::uint64_t> replay_owed;  // PURGE-5: collection -> purge_lsn
    std::optional<std::int64_t> replay_since;          // ... owed since this HandshakeAck
    std::uint64_t replayed_lsn = 0;                    // ... the last replayed purge_lsn
    bool ack_read = false;         // PURGE-7: the client read a successful HandshakeAck
    std::optional<Repeat> repeat;  // PURGE-8: the last repeated notice read
    // PURGE-3: purges made while the session was authenticated, whose notice
    // (if it comes) is not delayed: collection -> (purged at, data frames since).
    std::map<std::string, std::pair<std::int64_t, std::uint64_t>> notice_due;
  };
  void handled(const StateNote& n);
  struct ClientRecord {  // per client, across its connections (PURGE-7)
    std::uint64_t max_mutation_id = 0;
    std::map<std::string, std::uint64_t> notice_lsn;    // PURGE-8: the highest purge_lsn read
    std::map<std::string, std::uint64_t> purged_below;  // collection -> max id before the purge
  };
  void notice(const FrameEvent& e, State& s, const CollectionPurged& p);
  void delivered(const FrameEvent& e, const std::string& collection, std::uint64_t lsn) {
    auto& d = delivered_lsn_[{e.view.tenant, collection}];
    d = std::max(d, lsn);
  }
  void owe(std::uint32_t tenant, const std::string& collection, std::int64_t t);
  void replay(const FrameEvent& e, State& s, const CollectionPurged& p);
  void replay_missing(std::uint64_t conn, State& s, std::int64_t t);

  const CheckerOptions& options_;
  const Views& views_;
  std::map<std::uint64_t, State> conns_;
  std::map<std::pair<std::uint32_t, std::string>, std::uint64_t> delivered_lsn_;  // PURGE-2
  std::set<std::tuple<std::uint32_t, std::string, std::uint64_t>> purges_seen_;   // PURGE-1
  // PURGE-5: tenant -> collection -> the latest purge_lsn announced.
  std::map<std::uint32_t, std::map<std::string, std::uint64_t>> latest_purge_;
  std::map<std::string, ClientRecord> clients_;
  // PURGE-2: the highest lsn delivered when the harness purged (the commit),
  // for a purge whose first notice comes later.
  std::map<std::pair<std::uint32_t, std::string>, std::uint64_t> delivered_at_purge_;
};

void PurgeJudge::purged(std::uint32_t tenant, const std::string& collection, std::int64_t t) {
  const auto d = delivered_lsn_.find({tenant, collection});
  delivered_at_purge_[{tenant, collection}] = d == delivered_lsn_.end() ? 0 : d->second;
  for (auto& [conn, s] : conns_) {
    const auto v = views_.find(conn);
    if (v == views_.end() || v->second.closed || !v->second.authenticated ||
        !v->second.identity_known || v->second.tenant != tenant)
      continue;
    // At a live tap the operator's hook reports after the server acted: a
    // notice already seen on this connection was this purge's (D167).
    if (options_.at_tap && s.purged.count(collection)) continue;
    s.notice_due[collection] = {t, 0};
  }
  owe(tenant, collection, t);
}

// PURGE-8 on the wire: a client that hangs up at once after reading a
// notice that repeats one it had (a replay, PURGE-5) treated it as an error.
// As FRAME-10: at once in the simulator, within the hang-up window at a tap.
// What it wrote meanwhile does not count: frames it queued on reading the
// HandshakeAck that came just before may leave after it read the replay.
void PurgeJudge::hung_up(std::uint64_t conn, Sender side, std::int64_t t) {
  const auto it = conns_.find(conn);
  if (side != Sender::Client || it == conns_.end() || !it->second.repeat) return;
  const Repeat r = *std::exchange(it->second.repeat, std::nullopt);
  if (!hung_up_on_it(r.t, r.exact, t, options_)) return;
  report("PURGE-8", Level::Must,
         "the client hung up " + ms_text(t - r.t) + " after reading a CollectionPurged for \"" +
             r.collection + "\" with purge_lsn " + std::to_string(r.lsn) + ", not above the " +
             std::to_string(r.recorded) +
             " it had read: a repeated purge changes nothing and is no error",
         t, conn, "");
}

void PurgeJudge::client_wrote(const FrameEvent& e) {
  const auto* p = std::get_if<DeltaPush>(&e.m);
  if (!p) return;
  ClientRecord& rec = clients_[e.view.client_key];
  if (auto it = rec.purged_below.find(p->collection);
      it != rec.purged_below.end() && p->mutation_id <= it->second) {
    flag(e, "PURGE-7", Level::Must,
         "DeltaPush of mutation " + std::to_string(p->mutation_id) + " to \"" + p->collection +
             "\", made before the client read its CollectionPurged (ids up to " +
             std::to_string(it->second) + " predate it)");
  }
  rec.max_mutation_id = std::max(rec.max_mutation_id, p->mutation_id);
}

void PurgeJudge::server_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  auto after_notice = [&](const std::string& collection) {
    if (s.purged.count(collection))
      flag(e, "PURGE-4", Level::Must,
           std::string(message_name(e.m)) + " for \"" + collection + "\" after CollectionPurged");
  };
  if (e.facts.push && e.facts.push->accepted)  // §5.3.2 step 8 records the collection
    s.touched.insert(e.facts.push->collection);
  if (is_queued_data(e.m)) {
    // At a live tap, data passing within the tap tolerance of the moment the
    // hook reported may have been written before the purge (D167).
    for (auto& [coll, due] : s.notice_due) {
      if (!options_.at_tap || e.r.t - due.first >= options_.tap_tolerance_ns) ++due.second;
    }
  }
  if (const auto* ack = std::get_if<DeltaAck>(&e.m); ack && e.facts.push && ack->lsn != 0) {
    delivered(e, e.facts.push->collection, ack->lsn);
  } else if (const auto* snap = std::get_if<ShapeSnapshot>(&e.m)) {
    if (auto sh = e.view.shapes.find(snap->shape_id);
        sh != e.view.shapes.end() && !sh->second.empty())
      delivered(e, sh->second, snap->snapshot_lsn);
  } else if (const auto* d = std::get_if<ShapeDelta>(&e.m)) {
    after_notice(d->collection);
    delivered(e, d->collection, d->lsn);
  } else if (const auto* push = std::get_if<DeltaPush>(&e.m)) {
    after_notice(push->collection);
  } else if (const auto* p = std::get_if<CollectionPurged>(&e.m)) {
    replay(e, s, *p);
    notice(e, s, *p);
  } else if (const auto* hs = std::get_if<HandshakeAck>(&e.m);
             hs && hs->success && e.view.identity_known) {
    // PURGE-5: every purge of the tenant announced so far is owed again.
    const auto known = latest_purge_.find(e.view.tenant);
    s.replay_owed = known == latest_purge_.end() ? decltype(s.replay_owed){} : known->second;
    s.replay_since = e.r.t;
    s.replayed_lsn = 0;
  }
}

// PURGE-5: a notice owed since the handshake settles it; the replayed ones
// go out in increasing purge_lsn order.
void PurgeJudge::replay(const FrameEvent& e, State& s, const CollectionPurged& p) {
  const auto owed = s.replay_owed.find(p.name);
  if (owed != s.replay_owed.end() && p.purge_lsn >= owed->second) {
    if (p.purge_lsn < s.replayed_lsn) {
      flag(e, "PURGE-5", Level::Should,
           "replayed CollectionPurged for \"" + p.name + "\" with purge_lsn " +
               std::to_string(p.purge_lsn) + " after one with " + std::to_string(s.replayed_lsn) +
               " (increasing purge_lsn order)");
    }
    s.replayed_lsn = std::max(s.replayed_lsn, p.purge_lsn);
    s.replay_owed.erase(owed);
  }
  auto& latest = latest_purge_[p.tenant_id][p.name];
  latest = std::max(latest, p.purge_lsn);
}

void PurgeJudge::replay_missing(std::uint64_t conn, State& s, std::int64_t t) {
  for (const auto& [collection, lsn] : s.replay_owed) {
    report("PURGE-5", Level::Should,
           "\"" + collection + "\" was purged (purge_lsn " + std::to_string(lsn) +
               ") before this session's handshake, which was never told",
           t, conn, "");
  }
  s.replay_owed.clear();
}

void PurgeJudge::notice(const FrameEvent& e, State& s, const CollectionPurged& p) {
  if (const auto due = s.notice_due.find(p.name); due != s.notice_due.end()) {
    const auto [at, data] = due->second;
    s.notice_due.erase(due);
    if (data > 0) {
      flag(e, "PURGE-3", Level::Must,
           std::to_string(data) + " data frames were written after the purge of \"" + p.name +
               "\" and before its CollectionPurged (it goes ahead of queued data)");
    } else if (e.r.t - at > options_.control_delay_ns) {
      flag(e, "PURGE-3", Level::Must,
           "CollectionPurged for \"" + p.name + "\" left " + ms_text(e.r.t - at) +
               " after the purge (never throttled or queued behind data)");
    }
  }
  if (e.view.authenticated && e.view.identity_known && p.tenant_id != e.view.tenant) {
    flag(e, "PURGE-1", Level::Must,
         "CollectionPurged for tenant " + std::to_string(p.tenant_id) +
             " sent to a session of tenant " + std::to_string(e.view.tenant));
  }
  // Judged where the purge is first announced: telling a reconnecting
  // session about it later (PURGE-8) repeats a position that deliveries
  // since (a snapshot at the purge's lsn) may equal.
  // A purge the harness made is judged against what was delivered when it
  // committed: a notice may come later (a replay), after deliveries since.
  const bool first_announced = !purges_seen_.count({p.tenant_id, p.name, p.purge_lsn});
  const auto at_purge = delivered_at_purge_.find({p.tenant_id, p.name});
  const auto d = delivered_lsn_.find({p.tenant_id, p.name});
  const std::optional<std::uint64_t> before = at_purge != delivered_at_purge_.end()
                                                  ? std::optional(at_purge->second)
                                              : d != delivered_lsn_.end() ? std::optional(d->second)
                                                                          : std::nullopt;
  if (first_announced && before && p.purge_lsn <= *before) {
    flag(e, "PURGE-2", Level::Must,
         "purge_lsn " + std::to_string(p.purge_lsn) + " does not exceed lsn " +
             std::to_string(*before) + ", already acknowledged or delivered for \"" + p.name +
             "\"");
  }
  if (first_announced) delivered_at_purge_.erase({p.tenant_id, p.name});
  s.purged.insert(p.name);
  s.purge_owed.erase(p.name);
  if (purges_seen_.emplace(p.tenant_id, p.name, p.purge_lsn).second)
    owe(p.tenant_id, p.name, e.r.t);
}

void PurgeJudge::owe(std::uint32_t tenant, const std::string& collection, std::int64_t t) {
  for (auto& [conn, s] : conns_) {
    const auto v = views_.find(conn);
    if (v == views_.end() || v->second.closed || !v->second.authenticated ||
        v->second.tenant != tenant)
      continue;
    if (!s.touched.count(collection) || s.purged.count(collection)) continue;
    s.purge_owed.emplace(collection, t);
  }
}

void PurgeJudge::finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  if (it->second.replay_since && *it->second.replay_since <= cutoff)
    replay_missing(conn, it->second, t);
  for (const auto& [collection, since] : it->second.purge_owed) {
    if (since <= cutoff)
      report("PURGE-1", Level::Must,
             "\"" + collection + "\" was purged but this session (tenant " +
                 std::to_string(views_.at(conn).tenant) +
                 ", which pushed to or subscribed it) never got CollectionPurged",
             t, conn, "");
  }
}

void PurgeJudge::noted(const StateNote& n) {
  if (n.is("purge_handled") && n.side == Sender::Client) handled(n);
}

// PURGE-6: a new purge leaves nothing of the collection (documents, pending
// mutations, shapes) and records purge_lsn; PURGE-8: one at or below the
// recorded purge_lsn changes nothing.
void PurgeJudge::handled(const StateNote& n) {
  std::map<std::string, std::uint64_t> v;
  for (const char* k : {"purge_lsn", "recorded_before", "recorded", "documents_before", "documents",
                        "pending_before", "pending", "shapes_before", "shapes"}) {
    const auto* f = n.field(k);
    const auto value = f ? plain_u64(*f) : std::nullopt;
    if (!value) return;
    v[k] = *value;
  }
  const std::string* name = n.field("collection");
  const std::string coll = name ? "\"" + *name + "\"" : "the collection";
  const bool repeat = v["recorded_before"] != 0 && v["purge_lsn"] <= v["recorded_before"];
  std::string wrong;
  if (repeat) {
    for (const char* k : {"recorded", "documents", "pending", "shapes"}) {
      const std::string before =
          k == std::string("recorded") ? "recorded_before" : std::string(k) + "_before";
      if (v[k] != v[before] && wrong.empty())
        wrong = std::string(k) + " went from " + std::to_string(v[before]) + " to " +
                std::to_string(v[k]);
    }
    if (!wrong.empty())
      report("PURGE-8", Level::Must,
             "a CollectionPurged for " + coll + " with purge_lsn " +
                 std::to_string(v["purge_lsn"]) + ", not above the recorded " +
                 std::to_string(v["recorded_before"]) + ", changed the client's state: " + wrong,
             n.t, n.conn, "");
    return;
  }
  for (const char* k : {"documents", "pending", "shapes"}) {
    if (v[k] != 0 && wrong.empty()) wrong = std::to_string(v[k]) + " " + k + " of it remain";
  }
  if (wrong.empty() && v["recorded"] != v["purge_lsn"])
    wrong = "it recorded purge_lsn " + std::to_string(v["recorded"]);
  if (!wrong.empty())
    report("PURGE-6", Level::Must,
           "after CollectionPurged for " + coll + " (purge_lsn " + std::to_string(v["purge_lsn"]) +
               ") " + wrong,
           n.t, n.conn, "");
}

}  // namespace

std::unique_ptr<Judge> make_purge_judge(const JudgeDeps& d) {
  return std::make_unique<PurgeJudge>(d);
}

}  // namespace syncsim::conformance
