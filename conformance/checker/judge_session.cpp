// Session lifecycle on the server side: a connection beyond the configured
// session cap gets no frame (SESSION-2); a session idle past the configured
// timeout is closed (SESSION-3), but never one whose client pings
// (SESSION-4, from the server's idle-close notes); before its handshake a
// session is answered only for Handshake and Ping (SESSION-6); a session's
// dedup table dies with it (SESSION-9).
//
// The wire never says who closed a connection, so SESSION-2 and SESSION-3
// rest on what the server demonstrably did: a session was open at the server
// from its first server event (a frame the server read or wrote) to its last.
// Those spans lie inside the server's own, so more overlapping spans than the
// cap, or a server event later than the idle deadline, is a sure breach.
#include <algorithm>
#include <deque>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kSessionRules[] = {
    {"SESSION-2", Scope::Profile},
    {"SESSION-3", Scope::Profile},
    {"SESSION-4", Scope::Simulator},
    {"SESSION-6"},
    {"SESSION-9"},
};

constexpr std::int64_t kPingPeriodNs = 30'000 * kJudgeMs;  // SESSION-4's 30 s

// A duration the server measures on its own clock, as true time: a node's
// clock drifts by up to 10 % (sim/node_clock.hpp) and timers fire on whole ms.
std::int64_t longest(std::int64_t ns) { return ns + ns / 8 + 50 * kJudgeMs; }
std::int64_t shortest(std::int64_t ns) { return ns - ns / 8 - 50 * kJudgeMs; }

bool answers_request(const Message& m) {
  return std::holds_alternative<ShapeSnapshot>(m) || std::holds_alternative<VectorClockSync>(m) ||
         std::holds_alternative<TokenRefreshAck>(m);
}

class SessionJudge final : public Judge {
 public:
  explicit SessionJudge(const JudgeDeps& d)
      : Judge(d.sink, "session"), options_(d.options), views_(d.views) {}
  std::span<const RuleDecl> rules() const override { return kSessionRules; }

  void decoded(const FrameRecord& r, const DecodedFrame&) override;
  void server_read(const FrameEvent& e) override {
    const auto it = conns_.find(e.r.conn);
    if (it == conns_.end()) return;
    if (const auto* p = std::get_if<PingPong>(&e.m); p && !p->is_pong) it->second.last_ping = e.r.t;
    if (const auto* d = std::get_if<DeltaPush>(&e.m)) {
      auto& q = it->second.pushes;
      q.push_back({d->mutation_id, d->peer_id, e.r.t});
      if (q.size() > kMaxPushes) q.pop_front();
    }
  }
  // SESSION-6 (HC): ShapeSubscribe, VectorClockSync and TokenRefresh read
  // before the handshake are ignored. A request read after a pending
  // Handshake is handled after it (FRAME-13), so it is owed an answer.
  void server_wrote(const FrameEvent& e) override {
    if (e.facts.push) dedup(e, *e.facts.push);
    if (answers_request(e.m) && !e.view.authenticated && e.view.handshakes_pending == 0) {
      flag(e, "SESSION-6", Level::Should,
           std::string(message_name(e.m)) +
               " answers a request read before a successful handshake (expected no answer)");
    }
  }
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }
  void noted(const StateNote& n) override;

 private:
  struct State {
    std::optional<std::int64_t> admitted;  // first server event: open then (SESSION-2)
    std::int64_t last = 0;                 // last server event, less the tap's tolerance
    std::size_t others = 0;                // other sessions known open at `admitted`
    bool cap_reported = false;
    std::optional<std::int64_t> last_inbound;  // SESSION-3: the last frame the server read
    bool idle_reported = false;
    std::optional<std::int64_t> last_ping;  // SESSION-4: the last Ping the server read
    struct Push {
      std::uint64_t mutation_id = 0, peer_id = 0;
      std::int64_t read_at = 0;
    };
    std::deque<Push> pushes;                              // SESSION-9: read, unanswered
    std::map<std::uint64_t, std::uint64_t> accepted_max;  // SESSION-9: peer -> max id here
  };
  static constexpr std::size_t kMaxPushes = 4096;
  void dedup(const FrameEvent& e, const FrameFacts::AnsweredPush& p);
  void admit(std::uint64_t conn, State& s, std::int64_t t, std::int64_t known);
  void extend(std::uint64_t conn, State& s, std::int64_t t, std::int64_t known);
  void check_cap(std::uint64_t conn, State& s, std::int64_t t);
  void check_idle(const FrameRecord& r, State& s, std::int64_t slack);

  const CheckerOptions& options_;
  Views& views_;
  std::map<std::uint64_t, State> conns_;  // live connections only
  bool server_lsns_ = false;              // SESSION-9: the server acks with real LSNs
};

// SESSION-9: a DeltaAck with lsn 0 marks a duplicate. On a push that is no
// duplicate of this session's own, from a server that otherwise acks with
// LSNs, it shows a dedup table that outlived its session. (Origin acks
// everything with lsn 0, DELTA-8: its acks are not judged here.)
void SessionJudge::dedup(const FrameEvent& e, const FrameFacts::AnsweredPush& p) {
  const auto it = conns_.find(e.r.conn);
  if (it == conns_.end()) return;
  auto& q = it->second.pushes;
  const auto read = std::find_if(q.begin(), q.end(), [&](const State::Push& r) {
    return r.mutation_id == p.mutation_id && r.read_at == p.read_at;
  });
  if (read == q.end()) return;
  const State::Push push = *read;
  q.erase(q.begin(), read + 1);
  auto& mx = it->second.accepted_max;
  const auto known = mx.find(push.peer_id);
  const bool duplicate = known != mx.end() && push.mutation_id <= known->second;
  const auto* ack = std::get_if<DeltaAck>(&e.m);
  if (ack && ack->lsn == 0 && !duplicate && server_lsns_) {
    flag(e, "SESSION-9", Level::Must,
         "mutation " + std::to_string(push.mutation_id) + " of peer " +
             std::to_string(push.peer_id) +
             " acknowledged as a duplicate (lsn 0), but this session never accepted it: the "
             "dedup table of an earlier session was kept");
  }
  if (ack && ack->lsn > 0) server_lsns_ = true;
  if (p.accepted)
    mx[push.peer_id] = std::max(known == mx.end() ? 0 : known->second, push.mutation_id);
}

// Every record: did the server read or write a frame (decodable or not)?
void SessionJudge::decoded(const FrameRecord& r, const DecodedFrame&) {
  const auto v = views_.find(r.conn);
  if (v != views_.end() && v->second.closed) return;  // in flight after a close
  const bool tap = options_.at_tap || r.seen == Seen::Both;
  const bool server_wrote = r.from == Sender::Server && r.seen != Seen::Received;
  const bool server_read = r.from == Sender::Client && r.seen != Seen::Written;
  // At a tap a client frame passes before the server reads it, if it ever
  // does: only the server's own frames prove the session open there.
  if (!server_wrote && !(server_read && !tap)) {
    if (server_read) conns_[r.conn].last_inbound = r.t;
    return;
  }
  const std::int64_t slack = tap ? options_.tap_tolerance_ns : 0;
  State& s = conns_[r.conn];
  check_idle(r, s, slack);
  if (server_read) s.last_inbound = r.t;
  if (!s.admitted) {
    admit(r.conn, s, r.t, r.t - slack);
  } else {
    extend(r.conn, s, r.t, r.t - slack);
  }
}

void SessionJudge::admit(std::uint64_t conn, State& s, std::int64_t t, std::int64_t known) {
  s.admitted = t;
  s.last = known;
  for (const auto& [c, o] : conns_) {
    if (c != conn && o.admitted && *o.admitted <= t && o.last >= t) ++s.others;
  }
  check_cap(conn, s, t);
}

// The session was open until `known` at least: the sessions admitted since
// its last event, while it was open, had it beside them.
void SessionJudge::extend(std::uint64_t conn, State& s, std::int64_t t, std::int64_t known) {
  if (known <= s.last) return;
  const std::int64_t old = s.last;
  s.last = known;
  for (auto& [c, o] : conns_) {
    if (c == conn || !o.admitted) continue;
    if (*o.admitted > old && *o.admitted <= known && *s.admitted <= *o.admitted) {
      ++o.others;
      check_cap(c, o, t);
    }
  }
  check_cap(conn, s, t);
}

void SessionJudge::check_cap(std::uint64_t conn, State& s, std::int64_t t) {
  const auto& cap = options_.server_profile.max_sessions;
  if (!cap || s.cap_reported || s.others < *cap || s.last < *s.admitted) return;
  s.cap_reported = true;
  report("SESSION-2", Level::Must,
         "the server served this connection while " + std::to_string(s.others) +
             " other sessions were open (max_sessions " + std::to_string(*cap) +
             "): it must be closed at once without a frame",
         t, conn, "");
}

// SESSION-3: a server event after the idle deadline shows the session open.
void SessionJudge::check_idle(const FrameRecord& r, State& s, std::int64_t slack) {
  const auto& idle = options_.server_profile.idle_timeout_ns;
  if (!idle || !s.last_inbound || s.idle_reported) return;
  const std::int64_t quiet = r.t - slack - *s.last_inbound;
  if (quiet <= longest(*idle) + slack) return;
  s.idle_reported = true;
  report("SESSION-3", Level::Must,
         "the server still " + std::string(r.from == Sender::Server ? "wrote" : "read") +
             " on this session " + ms_text(quiet) + " after the last frame it read (idle timeout " +
             ms_text(*idle) + "): it must have closed it",
         r.t, r.conn, "");
}

// The server's own account of an idle close (Scope::Simulator): not earlier
// than its timeout (SESSION-3), never soon after a Ping (SESSION-4).
void SessionJudge::noted(const StateNote& n) {
  if (!n.is("idle_close") || n.side != Sender::Server) return;
  const auto it = conns_.find(n.conn);
  const auto& idle = options_.server_profile.idle_timeout_ns;
  if (it == conns_.end() || !idle) return;
  const State& s = it->second;
  const std::int64_t ping_window = shortest(std::min(kPingPeriodNs, *idle));
  if (s.last_ping && n.t - *s.last_ping < ping_window) {
    report("SESSION-4", Level::Must,
           "closed for idleness " + ms_text(n.t - *s.last_ping) +
               " after the server read a Ping (a Ping is activity)",
           n.t, n.conn, "");
  }
  if (s.last_inbound && n.t - *s.last_inbound < shortest(*idle)) {
    report("SESSION-3", Level::Must,
           "closed for idleness " + ms_text(n.t - *s.last_inbound) +
               " after the last frame the server read (idle timeout " + ms_text(*idle) + ")",
           n.t, n.conn, "");
  }
}

}  // namespace

std::unique_ptr<Judge> make_session_judge(const JudgeDeps& d) {
  return std::make_unique<SessionJudge>(d);
}

}  // namespace syncsim::conformance
