// Tokens. The server: every TokenRefresh is answered (TOKEN-1) with the new
// token's remaining lifetime (TOKEN-3), and pushes are rejected as "token
// expired" exactly when the token has expired (TOKEN-9, on the server's clock
// when known). The client: one refresh at a time (TOKEN-7), refreshed at 80 %
// of the lifetime it knows (TOKEN-5) and early enough not to draw an expiry
// reject (TOKEN-10), pushes paused from a PermissionDenied until a refresh
// succeeds (TOKEN-6), and a refreshed token in every later Handshake
// (TOKEN-8). Owns the view's tenant and exp after a successful refresh.
#include <algorithm>
#include <deque>

#include "conformance/checker/judge.hpp"
#include "protocol/base64url.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

// TOKEN-9 is judged on any trace from the trace's own facts, and fully where
// the server's clock is known. The client's rules need to know that it can
// obtain tokens and the lifetime it was given (the profile, or a successful
// refresh the trace shows).
constexpr RuleDecl kTokenRules[] = {
    {"TOKEN-1"},
    {"TOKEN-7"},
    {"TOKEN-9"},
    {"TOKEN-3", Scope::ServerClock},
    {"TOKEN-5", Scope::Profile},
    {"TOKEN-6", Scope::Profile},
    {"TOKEN-8"},
    {"TOKEN-10", Scope::Profile},
};

constexpr std::size_t kMaxHolders = 4096, kMaxSuperseded = 16;

class TokenJudge final : public Judge {
 public:
  explicit TokenJudge(const JudgeDeps& d)
      : Judge(d.sink, "token"), options_(d.options), views_(d.views) {}
  std::span<const RuleDecl> rules() const override { return kTokenRules; }

  void client_wrote(const FrameEvent& e) override;
  void server_read(const FrameEvent& e) override {
    // Before the handshake (none succeeded, none pending) the server ignores
    // it (SESSION-6): it is owed no answer (D75). Behind a pending Handshake
    // its fate is that Handshake's (D115).
    if (const auto* tr = std::get_if<TokenRefresh>(&e.m))
      conns_[e.r.conn].refreshes.push_back({peek_token_claims(tr->new_token), e.r.t,
                                            e.view.authenticated || e.view.handshakes_pending > 0,
                                            e.view.handshakes_pending});
  }
  void server_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override;
  void deadlines(std::uint64_t conn, std::int64_t now) override { refresh_due(conn, now); }
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override;

 private:
  struct Refresh {
    std::optional<TokenClaims> claims;  // of the new token, when readable
    std::int64_t read_at = 0;
    bool owed = true;       // false: read before the handshake, ignored (SESSION-6)
    std::size_t ahead = 0;  // Handshakes read before it and not yet answered
  };
  struct State {
    std::deque<Refresh> refreshes;     // TOKEN-1: read, unanswered
    bool refresh_outstanding = false;  // TOKEN-7: the client's view
    std::optional<std::int64_t> refresh_failed_at;
    bool expired = false;  // the server rejected a push as "token expired" (TOKEN-9)
    // The client's side of the connection.
    std::string hs_token;                   // of its last Handshake
    std::deque<std::string> sent;           // TokenRefreshes written, unanswered as it reads
    std::optional<std::int64_t> authed_ms;  // its clock when it read a successful HandshakeAck
    std::optional<std::int64_t> denied_at;  // TOKEN-6: it read a PermissionDenied (trace time)
    bool denied_refreshed = false, denied_flagged = false;
  };
  // A client's token as it holds it, across its connections (by client_key).
  struct Holder {
    std::string token;
    std::int64_t set_t = 0, set_ms = 0;  // when it read the ack that set it (trace, its clock)
    std::int64_t ack_lifetime_s = 0;     // TOKEN-5 (HC): the last successful ack's expires_in_secs
    std::optional<std::int64_t> refreshed_t;   // its last TokenRefresh written
    bool has_source = false;                   // a refresh of its succeeded
    bool flagged5 = false, flagged10 = false;  // for the current token
    std::deque<std::string> superseded;        // TOKEN-8: tokens a successful refresh replaced
  };
  void token_ack(const FrameEvent& e, const TokenRefreshAck& ack);
  void check_lifetime(const FrameEvent& e, const TokenRefreshAck& ack, const TokenClaims& claims,
                      std::int64_t read_at);
  void client_ack(const FrameEvent& e, const TokenRefreshAck& ack);
  void reject_read(const FrameEvent& e, const DeltaReject& r);
  void refresh_due(std::uint64_t conn, std::int64_t now);
  void expiry(const FrameEvent& e, const FrameFacts::AnsweredPush& p);
  void by_the_trace(const FrameEvent& e, const FrameFacts::AnsweredPush& p);
  std::optional<std::int64_t> server_ms(std::int64_t t) const {
    if (options_.server_unix_ms) return options_.server_unix_ms(t);
    if (options_.server_unix_epoch_ms) return *options_.server_unix_epoch_ms + t / kJudgeMs;
    return std::nullopt;
  }
  // The client's own clock where the harness knows it, else the trace's:
  // TOKEN-5/10 measure the lifetime as the client does.
  std::int64_t client_ms(std::uint64_t conn, std::int64_t t) const {
    if (options_.client_unix_ms) {
      if (const auto ms = options_.client_unix_ms(conn, t)) return *ms;
    }
    return t / kJudgeMs;
  }
  Holder* holder(const std::string& key) {
    const auto it = holders_.find(key);
    if (it != holders_.end()) return &it->second;
    if (holders_.size() >= kMaxHolders) return nullptr;
    return &holders_[key];
  }
  // A client that can obtain new tokens: so configured, or seen to.
  bool can_obtain(const Holder& h) const {
    return h.has_source || options_.client_profile.token_source.value_or(false);
  }
  std::int64_t lifetime_s(const Holder& h) const {
    return h.ack_lifetime_s > 0 ? h.ack_lifetime_s
                                : options_.client_profile.token_lifetime_s.value_or(0);
  }
  bool refreshed_since_set(const Holder& h) const {
    return h.refreshed_t && *h.refreshed_t >= h.set_t;
  }

  const CheckerOptions& options_;
  Views& views_;
  std::map<std::uint64_t, State> conns_;
  std::map<std::string, Holder> holders_;
};

void TokenJudge::client_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* h = std::get_if<Handshake>(&e.m)) {
    s.hs_token = h->jwt_token;
    const Holder* k = h->jwt_token.empty() ? nullptr : holder(e.view.client_key);
    if (k && std::find(k->superseded.begin(), k->superseded.end(), h->jwt_token) !=
                 k->superseded.end()) {
      flag(e, "TOKEN-8", Level::Should,
           "Handshake with a token that a successful TokenRefresh replaced (use the new one)");
    }
    return;
  }
  if (std::holds_alternative<DeltaPush>(e.m)) {
    const Holder* k = holder(e.view.client_key);
    // At a tap a push that passes just after the reject may have been
    // written before the client read it (D81).
    const bool at_tap = options_.at_tap || e.r.seen == Seen::Both;
    const bool maybe_before =
        at_tap && s.denied_at && e.r.t - *s.denied_at < options_.tap_tolerance_ns;
    if (s.denied_at && !s.denied_flagged && !maybe_before && k && can_obtain(*k)) {
      flag(e, "TOKEN-6", Level::Must,
           "DeltaPush " + ms_text(e.r.t - *s.denied_at) +
               " after a PermissionDenied reject, before a successful TokenRefreshAck");
      s.denied_flagged = true;
    }
    return;
  }
  const auto* tr = std::get_if<TokenRefresh>(&e.m);
  if (!tr) return;
  // The second is the client's: a fast clock may count it sooner than the
  // trace does, a clock jumping back later, so only what both deny is late.
  const auto waited = [&](std::int64_t since) {
    return std::max(e.r.t - since,
                    (client_ms(e.r.conn, e.r.t) - client_ms(e.r.conn, since)) * kJudgeMs);
  };
  if (s.refresh_outstanding) {
    flag(e, "TOKEN-7", Level::Should, "TokenRefresh while an earlier one is unanswered");
  } else if (s.refresh_failed_at && waited(*s.refresh_failed_at) < 1000 * kJudgeMs) {
    flag(e, "TOKEN-7", Level::Should,
         "TokenRefresh " + ms_text(waited(*s.refresh_failed_at)) +
             " after a failed one was answered (at least 1 s)");
  }
  s.refresh_outstanding = true;
  if (s.sent.size() < 64) s.sent.push_back(tr->new_token);
  if (s.denied_at) s.denied_refreshed = true;
  if (Holder* k = holder(e.view.client_key)) k->refreshed_t = e.r.t;
}

void TokenJudge::client_read(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* ack = std::get_if<TokenRefreshAck>(&e.m)) return client_ack(e, *ack);
  if (const auto* r = std::get_if<DeltaReject>(&e.m)) return reject_read(e, *r);
  const auto* hs = std::get_if<HandshakeAck>(&e.m);
  if (!hs) return;
  if (!hs->success) {
    s.authed_ms.reset();
    return;
  }
  s.authed_ms = client_ms(e.r.conn, e.r.t);
  Holder* k = s.hs_token.empty() ? nullptr : holder(e.view.client_key);
  if (!k || k->token == s.hs_token) return;  // the same token: set when first accepted
  k->token = s.hs_token;
  k->set_t = e.r.t;
  k->set_ms = *s.authed_ms;
  k->flagged5 = k->flagged10 = false;
}

// The client's view of a refresh's answer (TOKEN-5/6/7/8).
void TokenJudge::client_ack(const FrameEvent& e, const TokenRefreshAck& ack) {
  State& s = conns_[e.r.conn];
  s.refresh_outstanding = false;
  if (!ack.success) {
    s.refresh_failed_at = e.r.t;
    if (!s.sent.empty()) s.sent.pop_front();
    return;
  }
  s.refresh_failed_at.reset();
  s.denied_at.reset();  // TOKEN-6: pushing may resume
  s.denied_flagged = false;
  if (s.sent.empty()) return;
  const std::string token = std::move(s.sent.front());
  s.sent.pop_front();
  Holder* k = holder(e.view.client_key);
  if (!k) return;
  if (!k->token.empty() && k->token != token) {
    k->superseded.push_back(k->token);
    if (k->superseded.size() > kMaxSuperseded) k->superseded.pop_front();
  }
  std::erase(k->superseded, token);
  k->token = token;
  k->set_t = e.r.t;
  k->set_ms = client_ms(e.r.conn, e.r.t);
  if (ack.expires_in_secs > 0)
    k->ack_lifetime_s = static_cast<std::int64_t>(std::min<std::uint64_t>(
        ack.expires_in_secs, std::uint64_t{1} << 40));  // a third party's number: bounded
  k->has_source = true;
  k->flagged5 = k->flagged10 = false;
}

// TOKEN-6 starts at a PermissionDenied; TOKEN-10 judges a "token expired".
void TokenJudge::reject_read(const FrameEvent& e, const DeltaReject& r) {
  State& s = conns_[e.r.conn];
  if (!s.authed_ms) return;  // before the handshake: HS-1's business
  const bool denied =
      r.compensation && std::holds_alternative<compensation::PermissionDenied>(*r.compensation);
  if (denied && !s.denied_at) {
    s.denied_at = e.r.t;
    s.denied_refreshed = s.refresh_outstanding;  // one already on its way will do (TOKEN-7)
    s.denied_flagged = false;
  }
  if (r.reason != "token expired") return;
  Holder* k = holder(e.view.client_key);
  if (!k || k->token.empty() || k->flagged10 || !can_obtain(*k) || refreshed_since_set(*k)) return;
  // Only an expiry the client could see coming is its fault: its whole
  // lifetime has passed on its own clock without a refresh. A token that
  // expired sooner (a server clock jump) or a refresh refused is a fault.
  const std::int64_t life = lifetime_s(*k);
  const std::int64_t held_ms = client_ms(e.r.conn, e.r.t) - k->set_ms;
  if (life <= 0 || held_ms < life * 1000) return;
  k->flagged10 = true;
  flag(e, "TOKEN-10", Level::Should,
       "a \"token expired\" reject read " + std::to_string(held_ms / 1000) +
           " s after the token was set, with a known lifetime of " + std::to_string(life) +
           " s and no TokenRefresh since");
}

// TOKEN-5: a TokenRefresh by 80 % of the lifetime, checked (as Lite does)
// at a ping tick: one ping interval of slack, counted from the handshake
// when the token was already that old on connecting.
void TokenJudge::refresh_due(std::uint64_t conn, std::int64_t now) {
  const auto it = conns_.find(conn);
  const auto v = views_.find(conn);
  if (it == conns_.end() || !it->second.authed_ms || v == views_.end() || v->second.closed) return;
  const auto h = holders_.find(v->second.client_key);
  if (h == holders_.end()) return;
  Holder& k = h->second;
  const std::int64_t life = lifetime_s(k);
  if (k.token.empty() || k.flagged5 || life <= 0 || !can_obtain(k) || refreshed_since_set(k))
    return;
  const std::int64_t tick_ms =
      options_.client_profile.ping_interval_ns.value_or(30'000 * kJudgeMs) / kJudgeMs;
  const std::int64_t due_ms = std::max(k.set_ms + life * 800, *it->second.authed_ms);
  const std::int64_t late_ms = client_ms(conn, now) - (due_ms + tick_ms + 1000);
  if (late_ms <= 0) return;
  k.flagged5 = true;
  report("TOKEN-5", Level::Should,
         "no TokenRefresh " + std::to_string((client_ms(conn, now) - k.set_ms) / 1000) +
             " s after the token was set; 80 % of its " + std::to_string(life) +
             " s lifetime passed (plus one " + std::to_string(tick_ms) + " ms ping tick)",
         now, conn, "");
}

void TokenJudge::finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  const State& s = it->second;
  const auto& q = s.refreshes;
  const auto owed =
      std::find_if(q.begin(), q.end(), [](const Refresh& r) { return r.owed && r.ahead == 0; });
  if (owed != q.end() && owed->read_at <= cutoff)
    report("TOKEN-1", Level::Must, "a TokenRefresh was never answered", t, conn, "");
  const auto v = views_.find(conn);
  const auto k = v == views_.end() ? holders_.end() : holders_.find(v->second.client_key);
  if (s.denied_at && *s.denied_at <= cutoff && !s.denied_refreshed && k != holders_.end() &&
      can_obtain(k->second) && !v->second.closed) {
    report("TOKEN-6", Level::Must,
           "no TokenRefresh after a PermissionDenied reject (pushes stay paused until one "
           "succeeds)",
           t, conn, "");
  }
}

void TokenJudge::server_wrote(const FrameEvent& e) {
  if (e.facts.push) return expiry(e, *e.facts.push);
  State& s = conns_[e.r.conn];
  if (const auto* hs = std::get_if<HandshakeAck>(&e.m)) {
    if (hs->success) s.expired = false;  // a new identity
    // Refreshes read behind this Handshake share its outcome: answered on
    // success, ignored on failure (SESSION-6); the server handles a
    // session's frames in order (FRAME-13).
    for (Refresh& r : s.refreshes) {
      if (r.ahead > 0 && --r.ahead == 0) r.owed = hs->success;
    }
    std::erase_if(s.refreshes, [](const Refresh& r) { return !r.owed; });
    return;
  }
  if (const auto* ack = std::get_if<TokenRefreshAck>(&e.m)) token_ack(e, *ack);
}

void TokenJudge::token_ack(const FrameEvent& e, const TokenRefreshAck& ack) {
  State& s = conns_[e.r.conn];
  if (s.refreshes.empty()) {
    flag(e, "TOKEN-1", Level::Must, "TokenRefreshAck without a TokenRefresh to answer");
    return;
  }
  const Refresh r = s.refreshes.front();
  s.refreshes.pop_front();
  if (!ack.success || !r.claims || !r.owed) return;
  SessionView& v = views_[e.r.conn];
  if (v.identity_known && r.claims->tenant_id != v.tenant) {  // AUTH-4: the tenant is fixed
    flag(e, "TOKEN-1", Level::Must,
         "refresh to a token of tenant " + std::to_string(r.claims->tenant_id) +
             " accepted on a session of tenant " + std::to_string(v.tenant) +
             " (expected {false, \"tenant mismatch\", 0})");
    return;
  }
  check_lifetime(e, ack, *r.claims, r.read_at);
  v.exp = r.claims->exp;  // TOKEN-9: a successful refresh ends expiry
  s.expired = false;
}

// TOKEN-3: exp - now in whole seconds of the server's clock, somewhere
// between reading the refresh and answering it; 3600 without exp.
void TokenJudge::check_lifetime(const FrameEvent& e, const TokenRefreshAck& ack,
                                const TokenClaims& claims, std::int64_t read_at) {
  const auto got =
      static_cast<std::int64_t>(std::min<std::uint64_t>(ack.expires_in_secs, 1ULL << 50));
  if (claims.exp <= 0) {
    if (got != 3600)
      flag(e, "TOKEN-3", Level::Should,
           "expires_in_secs " + std::to_string(got) + " for a token without exp (expected 3600)");
    return;
  }
  const auto read_ms = server_ms(read_at), answered_ms = server_ms(e.r.t);
  if (!read_ms || !answered_ms) return;
  constexpr std::int64_t kFar = std::int64_t{1} << 40;  // exp is any i64 (found by fuzz/)
  const std::int64_t exp = std::min(claims.exp, kFar);
  const std::int64_t tol_s = (options_.clock_tolerance_ms + 999) / 1000;
  const std::int64_t lo = std::max<std::int64_t>(0, exp - (*answered_ms + 999) / 1000 - tol_s);
  const std::int64_t hi = std::max<std::int64_t>(0, exp - *read_ms / 1000 + tol_s);
  if (got < lo || got > hi) {
    flag(e, "TOKEN-3", Level::Should,
         "expires_in_secs " + std::to_string(got) + " but the token expires at " +
             std::to_string(exp) + ", " + std::to_string(exp - *read_ms / 1000) +
             " s after the server read the refresh (remaining lifetime expected)");
  }
}

// TOKEN-9 without the server's clock, from what the trace shows: a token
// without exp never expires, and an expiry lasts until a successful refresh
// (the server's clock does not go back).
void TokenJudge::by_the_trace(const FrameEvent& e, const FrameFacts::AnsweredPush& p) {
  State& s = conns_[e.r.conn];
  if (p.expired_reject) {
    if (e.view.identity_known && e.view.exp == 0) {
      flag(e, "TOKEN-9", Level::Must,
           "mutation " + std::to_string(p.mutation_id) +
               " rejected as \"token expired\" but the token has no expiry");
    }
    s.expired = true;
  } else if (p.accepted && s.expired) {
    flag(e, "TOKEN-9", Level::Must,
         "mutation " + std::to_string(p.mutation_id) +
             " accepted after the server rejected an earlier push as \"token expired\", with no "
             "successful TokenRefresh since");
    s.expired = false;  // reported once per episode
  }
}

// TOKEN-9 on the push a DeltaAck or DeltaReject answered.
void TokenJudge::expiry(const FrameEvent& e, const FrameFacts::AnsweredPush& p) {
  const auto read_at = server_ms(p.read_at), answered_at = server_ms(e.r.t);
  if (!read_at || !answered_at) return by_the_trace(e, p);
  const std::int64_t exp = e.view.exp;
  // AUTH-3's 60 s leeway. exp is a third party's claim, any i64: clamped to
  // ±2^40 s (35 000 years) so the arithmetic cannot overflow (found by fuzz/).
  constexpr std::int64_t kFar = std::int64_t{1} << 40;
  const std::int64_t deadline_ms = (std::clamp(exp, -kFar, kFar) + 60) * 1000;
  if (p.accepted && exp > 0 && *read_at > deadline_ms + options_.clock_tolerance_ms) {
    flag(e, "TOKEN-9", Level::Must,
         "mutation " + std::to_string(p.mutation_id) +
             " accepted although the session's token expired at " + std::to_string(exp) +
             " (read at server time " + std::to_string(*read_at / 1000) +
             " s, leeway 60 s); expected DeltaReject \"token expired\"");
  }
  if (p.expired_reject && (exp == 0 || *answered_at < deadline_ms - options_.clock_tolerance_ms)) {
    flag(e, "TOKEN-9", Level::Must,
         "mutation " + std::to_string(p.mutation_id) +
             " rejected as \"token expired\" but the token " +
             (exp == 0 ? std::string("has no expiry")
                       : "is valid until " + std::to_string(exp) + " + 60 s"));
  }
}

}  // namespace

std::unique_ptr<Judge> make_token_judge(const JudgeDeps& d) {
  return std::make_unique<TokenJudge>(d);
}

}  // namespace syncsim::conformance
