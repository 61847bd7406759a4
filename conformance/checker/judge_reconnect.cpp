// Reconnects of one client (linked by its lite_id, the view's client_key):
// the wait between the end of a connection and the next one (CONN-4 at
// least 1 s; CONN-1 the exponential backoff), and the mutations left
// unanswered when a connection ended, which the next authenticated
// connection pushes again (CONN-2).
//
// What the trace shows is a lower bound on the client's backoff attempt:
// attempts that failed before a connection was established are not in it,
// and they only lengthen the wait. The end of a connection is its first
// close record, no later than the client learnt of it. A client process
// that starts afresh owes no wait and has lost its unsent mutations, and the
// wire cannot tell a restart from a reconnect: the rules are judged for
// clients that state each start of theirs (a "client_start" note).
#include <set>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kReconnectRules[] = {
    {"CONN-1", Scope::Simulator}, {"CONN-2", Scope::Simulator}, {"CONN-4", Scope::Simulator}};

constexpr std::int64_t kMinReconnectNs = 1'000'000'000;  // the 1 s floor
constexpr std::int64_t kReconnectSlackNs = 5'000'000;    // whole-millisecond timers
constexpr std::size_t kMaxOwed = 1 << 12;

class ReconnectJudge final : public Judge {
 public:
  explicit ReconnectJudge(const JudgeDeps& d) : Judge(d.sink, "reconnect"), options_(d.options) {}
  std::span<const RuleDecl> rules() const override { return kReconnectRules; }

  void client_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override;
  void closed(std::uint64_t conn, std::int64_t t) override;
  void noted(const StateNote& n) override {
    const std::string* id = n.field("lite_id");
    if (n.side != Sender::Client || !n.is("client_start") || !id) return;
    clients_[*id] = Client{};  // a new process: no wait owed, nothing kept
    clients_[*id].states_starts = true;
  }

 private:
  struct Conn {
    std::string key;  // lite_id, empty when unknown
    bool authed = false;
    bool ended = false;  // closed by one side: the client may still read answers on it
    std::map<std::uint64_t, std::string> in_flight;  // pushed, unanswered: id -> collection
  };
  struct Owed {  // CONN-2: unanswered when its connection ended
    std::string collection;
    std::uint64_t from_conn = 0;
  };
  struct Client {
    std::optional<std::int64_t> ended_at;  // the last connection's end, awaiting the next
    std::uint64_t last_conn = 0;
    std::uint32_t attempt = 0;  // CONN-1's a, as far as the trace shows
    std::uint64_t authed_conn = 0;
    std::int64_t authed_at = 0;  // when the client could push again
    bool paused = false;         // waiting for a token after "permission denied"
    std::map<std::uint64_t, Owed> owed;
    std::set<std::string> purged;  // collections the client learnt were purged
    bool states_starts = false;    // its restarts are known: the rules apply
  };
  std::int32_t drift() const {
    return options_.client_profile.clock_drift_ppm.value_or(static_cast<int>(kDefaultDriftPpm));
  }
  std::int64_t slack(const FrameEvent& e) const {
    const bool tap = options_.at_tap || e.r.seen == Seen::Both;
    return kReconnectSlackNs + (tap ? options_.tap_tolerance_ns : 0);
  }
  void new_connection(const FrameEvent& e, Client& c);
  void answered(Conn& conn, Client* c, std::uint64_t mid);
  void owed_check(const FrameEvent& e, Client& c);

  const CheckerOptions& options_;
  std::map<std::uint64_t, Conn> conns_;
  std::map<std::string, Client> clients_;
};

// CONN-1/4 at the Handshake that opens a connection after another ended.
void ReconnectJudge::new_connection(const FrameEvent& e, Client& c) {
  if (c.ended_at && c.last_conn != e.r.conn && c.states_starts) {
    const std::int64_t gap = e.r.t - *c.ended_at;
    if (gap < shortest_ns(kMinReconnectNs, drift()) - slack(e)) {
      flag(e, "CONN-4", Level::Must,
           "connected again " + ms_text(gap) + " after connection " + std::to_string(c.last_conn) +
               " ended (at least 1000 ms)");
    }
    const auto base = options_.client_profile.backoff_base_ns;
    const auto most = options_.client_profile.backoff_max_ns;
    if (base && most) {
      const std::uint32_t a = c.attempt == 0 ? 0 : std::min<std::uint32_t>(c.attempt - 1, 30);
      const std::int64_t wait = std::min(*most, *base << std::min<std::uint32_t>(a, 20));
      if (gap < shortest_ns(wait, drift()) - slack(e)) {
        flag(e, "CONN-1", Level::Should,
             "connected again " + ms_text(gap) + " after connection " +
                 std::to_string(c.last_conn) + " ended; backoff attempt " + std::to_string(a) +
                 " waits " + ms_text(wait));
      }
    }
  }
  c.ended_at.reset();
  c.last_conn = e.r.conn;
}

void ReconnectJudge::client_wrote(const FrameEvent& e) {
  Conn& conn = conns_[e.r.conn];
  if (const auto* h = std::get_if<Handshake>(&e.m); h && e.first && !h->lite_id.empty()) {
    conn.key = h->lite_id;
    new_connection(e, clients_[conn.key]);
  }
  if (conn.key.empty() || conn.ended) return;
  Client& c = clients_[conn.key];
  if (conn.authed) owed_check(e, c);
  if (const auto* p = std::get_if<DeltaPush>(&e.m)) {
    conn.in_flight[p->mutation_id] = p->collection;
    if (conn.in_flight.size() > kMaxOwed) conn.in_flight.erase(conn.in_flight.begin());
    c.owed.erase(p->mutation_id);
  }
}

// CONN-2: mutations left unanswered by an earlier connection, not pushed on
// this one although it has been authenticated (and not paused) for the grace period.
void ReconnectJudge::owed_check(const FrameEvent& e, Client& c) {
  if (!c.states_starts || c.paused || c.authed_conn != e.r.conn ||
      e.r.t - c.authed_at <= options_.grace_ns)
    return;
  for (auto it = c.owed.begin(); it != c.owed.end(); ++it) {
    if (it->second.from_conn == e.r.conn || c.purged.count(it->second.collection)) continue;
    flag(e, "CONN-2", Level::Must,
         "mutation " + std::to_string(it->first) + ", unanswered when connection " +
             std::to_string(it->second.from_conn) + " ended, not pushed again in the " +
             ms_text(e.r.t - c.authed_at) + " since this connection's handshake");
    c.owed.clear();  // once per episode
    return;
  }
}

void ReconnectJudge::answered(Conn& conn, Client* c, std::uint64_t mid) {
  conn.in_flight.erase(mid);
  if (c) c->owed.erase(mid);
}

void ReconnectJudge::client_read(const FrameEvent& e) {
  Conn& conn = conns_[e.r.conn];
  Client* c = conn.key.empty() ? nullptr : &clients_[conn.key];
  if (c && conn.authed && !conn.ended && e.r.seen == Seen::Received) owed_check(e, *c);
  if (const auto* a = std::get_if<HandshakeAck>(&e.m); a && a->success && !conn.authed) {
    conn.authed = true;
    if (!c) return;
    // CONN-1 (HC): a successful handshake starts the backoff over (read after
    // the connection's end was recorded, that end counts after it).
    c->attempt = conn.ended ? 1 : 0;
    c->authed_conn = e.r.conn;
    c->authed_at = e.r.t;
  } else if (const auto* ack = std::get_if<DeltaAck>(&e.m)) {
    answered(conn, c, ack->mutation_id);
  } else if (const auto* rej = std::get_if<DeltaReject>(&e.m)) {
    answered(conn, c, rej->mutation_id);
    const auto& hint = rej->compensation;
    if (c && hint && std::holds_alternative<compensation::PermissionDenied>(*hint))
      c->paused = true;
  } else if (const auto* ra = std::get_if<TokenRefreshAck>(&e.m); c && ra && ra->success) {
    if (c->paused) c->authed_at = std::max(c->authed_at, e.r.t);
    c->paused = false;
  } else if (const auto* pu = std::get_if<CollectionPurged>(&e.m); c && pu) {
    if (c->purged.size() < kMaxOwed) c->purged.insert(pu->name);
  }
}

void ReconnectJudge::closed(std::uint64_t conn_id, std::int64_t t) {
  const auto it = conns_.find(conn_id);
  if (it == conns_.end()) return;
  Conn& conn = it->second;
  if (conn.ended) {  // the other side's close record: nothing more comes
    conns_.erase(it);
    return;
  }
  conn.ended = true;  // answers the client reads after this still count
  auto cit = conn.key.empty() ? clients_.end() : clients_.find(conn.key);
  if (cit != clients_.end() && cit->second.last_conn == conn_id) {
    Client& c = cit->second;
    c.ended_at = t;
    ++c.attempt;  // the wait before the next connection is attempt - 1's
    for (const auto& [mid, coll] : conn.in_flight) {
      if (c.owed.size() < kMaxOwed) c.owed[mid] = Owed{coll, conn_id};
    }
  }
  conn.in_flight.clear();
  // Ended connections whose second close record never comes: the oldest go.
  if (conns_.size() > kMaxOwed) {
    for (auto old = conns_.begin(); old != conns_.end(); ++old) {
      if (old->second.ended && old->first != conn_id) {
        conns_.erase(old);
        break;
      }
    }
  }
}

}  // namespace

std::unique_ptr<Judge> make_reconnect_judge(const JudgeDeps& d) {
  return std::make_unique<ReconnectJudge>(d);
}

}  // namespace syncsim::conformance
