// Handshake and session: the client speaks first with a Handshake and waits
// for its answer; the server answers each Handshake, keeps one session id
// per connection and initiates nothing before a successful HandshakeAck.
// Owns the view's authentication, and tenant and exp as the handshake set them.
#include <deque>

#include "conformance/checker/judge.hpp"
#include "protocol/base64url.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kHandshakeRules[] = {
    {"HS-1"},
    {"HS-2"},
    {"HS-9"},
    {"HS-10"},
    {"HS-12"},
    {"HS-13"},
    {"SESSION-1"},
    {"SESSION-7"},
    {"TOKEN-4"},  // TOKEN-4: HS-1 for a TokenRefresh
    {"HS-14", Scope::Profile},
    {"HS-11", Scope::Simulator},  // from the client's handshake_after_fork notes
};

// The client's handshake wait on its own clock, as true time: a node's clock
// drifts by up to 10 % (sim/node_clock.hpp) and timers fire on whole ms.
std::int64_t longest_wait(std::int64_t ns) { return ns + ns / 8 + 50 * kJudgeMs; }

bool server_initiated(const Message& m) {
  return std::holds_alternative<ShapeDelta>(m) || std::holds_alternative<DeltaPush>(m) ||
         std::holds_alternative<CollectionPurged>(m) ||
         std::holds_alternative<PresenceBroadcast>(m) || std::holds_alternative<PresenceLeave>(m) ||
         std::holds_alternative<DefinitionSync>(m);
}

class HandshakeJudge final : public Judge {
 public:
  explicit HandshakeJudge(const JudgeDeps& d)
      : Judge(d.sink, "handshake"), options_(d.options), views_(d.views) {}
  std::span<const RuleDecl> rules() const override { return kHandshakeRules; }

  void client_wrote(const FrameEvent& e) override;
  void server_read(const FrameEvent& e) override {
    State& s = conns_[e.r.conn];
    if (const auto* h = std::get_if<Handshake>(&e.m)) {
      s.handshakes.push_back({e.r.t,
                              h->jwt_token.empty() ? std::optional<TokenClaims>(TokenClaims{})
                                                   : peek_token_claims(h->jwt_token),
                              h->lite_id, h->epoch});
      views_[e.r.conn].handshakes_pending = s.handshakes.size();
    } else if (const auto* p = std::get_if<PingPong>(&e.m);
               p && !p->is_pong && s.handshakes.empty() && !s.spoke) {
      ++s.early_pings;  // read before any Handshake: its Pong may come first
    }
  }
  void server_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override {
    State& s = conns_[e.r.conn];
    if (e.r.seen == Seen::Received) waited(e, s);  // at a tap the client reads later
    // HS-14: a first answer that is not a HandshakeAck fails the attempt.
    if (s.awaiting_ack) s.bad_first = !std::holds_alternative<HandshakeAck>(e.m);
    s.awaiting_ack.reset();
    if (const auto* ack = std::get_if<HandshakeAck>(&e.m)) {
      s.client_handshaken = s.client_handshaken || ack->success;
      s.failed_ack = !ack->success;
    }
  }

  void closed(std::uint64_t conn, std::int64_t) override {
    State& s = conns_[conn];
    if (s.session_id && !views_[conn].closed) {
      auto id = open_ids_.find(*s.session_id);
      if (id != open_ids_.end() && id->second == conn) open_ids_.erase(id);
    }
    s.handshakes.clear();
    s.awaiting_ack.reset();
    views_[conn].handshakes_pending = 0;
  }
  // HS-11: the client says which lite_id it was told is forked; a Handshake
  // of that connection (before or after the note) must not carry it.
  void noted(const StateNote& n) override {
    const std::string* forked = n.field("forked_lite_id");
    if (!n.is("handshake_after_fork") || n.side != Sender::Client || !forked || !n.conn) return;
    State& s = conns_[n.conn];
    s.forked = *forked;
    if (s.hs_lite_id) reused_lite_id(n.conn, s, n.t);
  }
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override {
    const auto it = conns_.find(conn);
    if (it != conns_.end() && !it->second.handshakes.empty() &&
        it->second.handshakes.front().read_at <= cutoff)
      report("HS-2", Level::Must, "a Handshake was never answered", t, conn, "");
  }

 private:
  struct Offered {
    std::int64_t read_at = 0;
    std::optional<TokenClaims> claims;  // of its token, if readable
    std::string lite_id;                // HS-9
    std::uint64_t epoch = 0;
  };
  struct State {
    std::deque<Offered> handshakes;  // read, unanswered (HS-2)
    std::optional<std::string> session_id;
    bool client_handshaken = false;            // the client read a successful ack (SESSION-7)
    bool failed_ack = false;                   // ... or its last ack failed (HS-13)
    bool spoke = false;                        // the server wrote a frame other than an early Pong
    std::size_t early_pings = 0;               // Pings read before any Handshake, unanswered
    std::optional<std::int64_t> awaiting_ack;  // HS-14: the client's Handshake, unanswered
    bool bad_first = false;                    // HS-14: its first answer was something else
    bool wait_reported = false;
    std::optional<std::string> hs_lite_id, forked;  // HS-11: first Handshake's lite_id, the note's
  };
  void reused_lite_id(std::uint64_t conn, const State& s, std::int64_t t) {
    if (s.forked && s.hs_lite_id && *s.forked == *s.hs_lite_id) {
      report("HS-11", Level::Must,
             "Handshake with lite_id " + *s.hs_lite_id +
                 ", which the server rejected as forked: the client must take a new one",
             t, conn, "");
    }
  }
  void handshake_ack(const FrameEvent& e, const HandshakeAck& ack);
  void waited(const FrameEvent& e, State& s);
  void fork_table(const FrameEvent& e, const Offered& h, const HandshakeAck& ack);

  const CheckerOptions& options_;
  Views& views_;
  std::map<std::uint64_t, State> conns_;
  std::map<std::string, std::uint64_t> open_ids_;  // SESSION-1: session id -> conn
  std::map<std::string, std::uint64_t> epochs_;    // HS-12: lite_id -> highest epoch sent
  std::map<std::string, std::uint64_t> accepted_;  // HS-9: lite_id -> highest epoch accepted
};

// HS-14: the client still on the connection well after its wait ended. Only
// the client's own frames prove it there (a crashed client closes nothing).
void HandshakeJudge::waited(const FrameEvent& e, State& s) {
  const auto& wait = options_.client_profile.handshake_wait_ns;
  if (!wait || !s.awaiting_ack || s.wait_reported) return;
  const std::int64_t slack = options_.at_tap ? options_.tap_tolerance_ns : 0;
  const std::int64_t waited_ns = e.r.t - *s.awaiting_ack;
  if (waited_ns <= longest_wait(*wait) + slack) return;
  s.wait_reported = true;
  flag(e, "HS-14", Level::Must,
       "the client " + std::string(e.r.from == Sender::Client ? "wrote" : "read") + " " +
           std::string(message_name(e.m)) + " " + ms_text(waited_ns) +
           " after its Handshake without a HandshakeAck (it waits at most " + ms_text(*wait) +
           ", then the attempt has failed)");
}

void HandshakeJudge::client_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (s.bad_first && e.r.seen == Seen::Written && !options_.at_tap) {
    flag(e, "HS-14", Level::Must,
         "the client wrote on after its first answer was not a HandshakeAck (the attempt failed)");
    s.bad_first = false;
  }
  waited(e, s);
  if (const auto* h = std::get_if<Handshake>(&e.m); h && e.first) {
    s.awaiting_ack = e.r.t;
    s.hs_lite_id = h->lite_id;
    reused_lite_id(e.r.conn, s, e.r.t);
  }
  if (s.failed_ack)
    flag(e, "HS-13", Level::Must, "client wrote a frame after a failed HandshakeAck");
  if (const auto* h = std::get_if<Handshake>(&e.m)) {
    if (s.client_handshaken) {
      flag(e, "SESSION-7", Level::Should,
           "a second Handshake on a connection whose handshake already succeeded");
    }
    if (h->lite_id.empty()) return;
    auto [it, fresh] = epochs_.emplace(h->lite_id, h->epoch);
    if (!fresh && h->epoch <= it->second) {
      flag(e, "HS-12", Level::Must,
           "Handshake epoch " + std::to_string(h->epoch) + " for lite_id " + h->lite_id +
               " does not exceed the " + std::to_string(it->second) + " it sent before");
    }
    it->second = std::max(it->second, h->epoch);
    return;
  }
  if (e.first) {
    flag(e, "HS-1", Level::Must,
         "the client's first frame is " + std::string(message_name(e.m)) + ", not Handshake");
  } else if (!s.client_handshaken && !s.failed_ack) {
    const bool refresh = std::holds_alternative<TokenRefresh>(e.m);
    flag(e, refresh ? "TOKEN-4" : "HS-1", Level::Must,
         std::string(message_name(e.m)) +
             " before a successful HandshakeAck (the client must wait for it)");
  }
}

void HandshakeJudge::server_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  const auto* pong = std::get_if<PingPong>(&e.m);
  if (pong && pong->is_pong && s.early_pings > 0 && !s.spoke) {
    --s.early_pings;  // answers a Ping read before the Handshake (FRAME-13 order)
    return;
  }
  const bool first = !s.spoke;
  s.spoke = true;
  if (const auto* ack = std::get_if<HandshakeAck>(&e.m)) return handshake_ack(e, *ack);
  if (first && !s.handshakes.empty()) {
    flag(e, "HS-2", Level::Must,
         "the server's first frame is " + std::string(message_name(e.m)) + ", not HandshakeAck");
  }
  if (!server_initiated(e.m)) return;
  if (e.view.fork_rejected) {
    flag(e, "HS-10", Level::Must,
         std::string(message_name(e.m)) +
             " to a session whose handshake failed with fork_detected (it is not authenticated)");
  } else if (!e.view.ever_authenticated) {
    flag(e, "HS-2", Level::Must,
         std::string(message_name(e.m)) + " before the first successful HandshakeAck");
  }
}

void HandshakeJudge::handshake_ack(const FrameEvent& e, const HandshakeAck& ack) {
  State& s = conns_[e.r.conn];
  std::optional<TokenClaims> claims;
  if (s.handshakes.empty()) {
    flag(e, "HS-2", Level::Must, "HandshakeAck without a Handshake to answer");
  } else {
    claims = s.handshakes.front().claims;
    fork_table(e, s.handshakes.front(), ack);
    s.handshakes.pop_front();
  }
  views_[e.r.conn].handshakes_pending = s.handshakes.size();
  // SESSION-1: one id per connection, unique among open sessions.
  if (s.session_id && *s.session_id != ack.session_id) {
    flag(e, "SESSION-1", Level::Must,
         "session_id changed from \"" + *s.session_id + "\" to \"" + ack.session_id + "\"");
  }
  if (!s.session_id) {
    auto [it, fresh] = open_ids_.emplace(ack.session_id, e.r.conn);
    if (!fresh && it->second != e.r.conn) {
      flag(e, "SESSION-1", Level::Must,
           "session_id \"" + ack.session_id + "\" is already used by open connection " +
               std::to_string(it->second));
    }
    s.session_id = ack.session_id;
  }
  SessionView& v = views_[e.r.conn];
  v.authenticated = ack.success;
  v.fork_rejected = !ack.success && ack.fork_detected;
  if (!ack.success) return;
  v.ever_authenticated = true;
  v.tenant = claims ? claims->tenant_id : 0;
  v.exp = claims ? claims->exp : 0;
  v.identity_known = claims.has_value();
}

// HS-9: an epoch at or below one the server accepted earlier for the same
// lite_id must be refused as a fork. Only the trace's own acceptances are
// known, so a fork rejection is never blamed (the server may have run before).
void HandshakeJudge::fork_table(const FrameEvent& e, const Offered& h, const HandshakeAck& ack) {
  if (!ack.success || h.lite_id.empty() || h.epoch == 0) return;
  auto [it, fresh] = accepted_.emplace(h.lite_id, h.epoch);
  if (!fresh && h.epoch <= it->second) {
    flag(e, "HS-9", Level::Must,
         "Handshake with epoch " + std::to_string(h.epoch) + " for lite_id " + h.lite_id +
             " accepted, though epoch " + std::to_string(it->second) +
             " was accepted before (expected a fork_detected rejection)");
  }
  it->second = std::max(it->second, h.epoch);
}

}  // namespace

std::unique_ptr<Judge> make_handshake_judge(const JudgeDeps& d) {
  return std::make_unique<HandshakeJudge>(d);
}

}  // namespace syncsim::conformance
