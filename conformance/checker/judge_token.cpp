// Tokens: every TokenRefresh is answered (TOKEN-1), the client does not
// refresh again while one is pending or just failed (TOKEN-7), and the server
// rejects pushes as "token expired" exactly when the token has expired
// (TOKEN-9, on the server's clock when known). Owns the view's tenant and
// exp after a successful refresh.
#include <algorithm>
#include <deque>

#include "conformance/checker/judge.hpp"
#include "protocol/base64url.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

// TOKEN-9 is judged on any trace from the trace's own facts, and fully where
// the server's clock is known.
constexpr RuleDecl kTokenRules[] = {{"TOKEN-1"}, {"TOKEN-7"}, {"TOKEN-9"}};

class TokenJudge final : public Judge {
 public:
  explicit TokenJudge(const JudgeDeps& d)
      : Judge(d.sink, "token"), options_(d.options), views_(d.views) {}
  std::span<const RuleDecl> rules() const override { return kTokenRules; }

  void client_wrote(const FrameEvent& e) override;
  void server_read(const FrameEvent& e) override {
    // Before the handshake (none succeeded, none pending) the server ignores
    // it (SESSION-6): it is owed no answer (D75).
    if (const auto* tr = std::get_if<TokenRefresh>(&e.m))
      conns_[e.r.conn].refreshes.push_back({peek_token_claims(tr->new_token), e.r.t,
                                            e.view.authenticated || e.view.handshakes_pending > 0});
  }
  void server_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override {
    const auto* ack = std::get_if<TokenRefreshAck>(&e.m);
    if (!ack) return;
    State& s = conns_[e.r.conn];
    s.refresh_outstanding = false;
    if (ack->success) {
      s.refresh_failed_at.reset();
    } else {
      s.refresh_failed_at = e.r.t;
    }
  }
  void closed(std::uint64_t conn, std::int64_t) override { conns_[conn].refreshes.clear(); }
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override {
    const auto it = conns_.find(conn);
    if (it == conns_.end()) return;
    const auto& q = it->second.refreshes;
    const auto owed = std::find_if(q.begin(), q.end(), [](const Refresh& r) { return r.owed; });
    if (owed != q.end() && owed->read_at <= cutoff)
      report("TOKEN-1", Level::Must, "a TokenRefresh was never answered", t, conn, "");
  }

 private:
  struct Refresh {
    std::optional<TokenClaims> claims;  // of the new token, when readable
    std::int64_t read_at = 0;
    bool owed = true;  // false: read before the handshake, ignored (SESSION-6)
  };
  struct State {
    std::deque<Refresh> refreshes;     // TOKEN-1: read, unanswered
    bool refresh_outstanding = false;  // TOKEN-7: the client's view
    std::optional<std::int64_t> refresh_failed_at;
    bool expired = false;  // the server rejected a push as "token expired" (TOKEN-9)
  };
  void expiry(const FrameEvent& e, const FrameFacts::AnsweredPush& p);
  void by_the_trace(const FrameEvent& e, const FrameFacts::AnsweredPush& p);
  std::optional<std::int64_t> server_ms(std::int64_t t) const {
    if (options_.server_unix_ms) return options_.server_unix_ms(t);
    if (options_.server_unix_epoch_ms) return *options_.server_unix_epoch_ms + t / kJudgeMs;
    return std::nullopt;
  }

  const CheckerOptions& options_;
  Views& views_;
  std::map<std::uint64_t, State> conns_;
};

void TokenJudge::client_wrote(const FrameEvent& e) {
  if (!std::holds_alternative<TokenRefresh>(e.m)) return;
  State& s = conns_[e.r.conn];
  if (s.refresh_outstanding) {
    flag(e, "TOKEN-7", Level::Should, "TokenRefresh while an earlier one is unanswered");
  } else if (s.refresh_failed_at && e.r.t - *s.refresh_failed_at < 1000 * kJudgeMs) {
    flag(e, "TOKEN-7", Level::Should,
         "TokenRefresh " + ms_text(e.r.t - *s.refresh_failed_at) +
             " after a failed one was answered (at least 1 s)");
  }
  s.refresh_outstanding = true;
}

void TokenJudge::server_wrote(const FrameEvent& e) {
  if (e.facts.push) return expiry(e, *e.facts.push);
  State& s = conns_[e.r.conn];
  if (const auto* hs = std::get_if<HandshakeAck>(&e.m)) {
    if (hs->success) s.expired = false;  // a new identity
    // Refreshes read before this Handshake have been handled, in order
    // (FRAME-13): those the server ignored are answered by nothing.
    std::erase_if(s.refreshes, [](const Refresh& r) { return !r.owed; });
    return;
  }
  const auto* ack = std::get_if<TokenRefreshAck>(&e.m);
  if (!ack) return;
  if (s.refreshes.empty()) {
    flag(e, "TOKEN-1", Level::Must, "TokenRefreshAck without a TokenRefresh to answer");
    return;
  }
  const Refresh r = s.refreshes.front();
  s.refreshes.pop_front();
  if (!ack->success || !r.claims || !r.owed) return;
  SessionView& v = views_[e.r.conn];
  if (v.identity_known && r.claims->tenant_id != v.tenant) {  // AUTH-4: the tenant is fixed
    flag(e, "TOKEN-1", Level::Must,
         "refresh to a token of tenant " + std::to_string(r.claims->tenant_id) +
             " accepted on a session of tenant " + std::to_string(v.tenant) +
             " (expected {false, \"tenant mismatch\", 0})");
    return;
  }
  v.exp = r.claims->exp;  // TOKEN-9: a successful refresh ends expiry
  s.expired = false;
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
