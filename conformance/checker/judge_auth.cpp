// Authentication at the handshake: the answer to each Handshake agrees with
// its token. The empty token follows the configured trust mode (AUTH-1); a
// token that fails one of Appendix C's structural steps (1-6), which the
// trace shows, fails with that step's text, and a well-formed one never
// with a structural text (AUTH-2); expiry and not-before follow the
// server's clock when it is known (AUTH-3). The tenant is fixed for the
// session: purges of another tenant never reach it (AUTH-4). After a
// failed authentication the session originates nothing (AUTH-5).
#include <algorithm>
#include <deque>
#include <nlohmann/json.hpp>

#include "conformance/checker/judge.hpp"
#include "protocol/base64url.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kAuthRules[] = {
    {"AUTH-1", Scope::Profile}, {"AUTH-2"}, {"AUTH-3", Scope::ServerClock}, {"AUTH-4"}, {"AUTH-5"},
};

constexpr std::string_view kMalformed = "malformed JWT token";
constexpr std::string_view kBase64 = "JWT base64 decoding error";
constexpr std::string_view kClaims = "invalid JWT claims";
constexpr std::string_view kExpired = "JWT token expired";
constexpr std::string_view kNotYet = "JWT token not yet valid";
// Steps 7-12: what a well-formed token may still fail with.
constexpr std::string_view kLaterSteps[] = {"JWT algorithm not supported or not configured",
                                            "JWT signature verification failed",
                                            kExpired,
                                            kNotYet,
                                            "JWT issuer mismatch",
                                            "JWT audience mismatch"};

// What the trace alone can tell of a token: the text of the first structural
// step (Appendix C, 1-6) it fails, or its exp and nbf.
struct TokenShape {
  std::optional<std::string_view> error;
  std::int64_t exp = 0, nbf = 0;
};

bool typed_int(const nlohmann::json& j, const char* key, std::int64_t& out) {
  if (!j.contains(key)) return true;
  const auto& v = j[key];
  if (!v.is_number_integer()) return false;
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t{INT64_MAX}) return false;
  out = v.get<std::int64_t>();
  return true;
}

bool typed_claims(const nlohmann::json& j, TokenShape& t) {
  if (!j.is_object() || !j.contains("sub") || !j["sub"].is_string()) return false;
  auto is = [&](const char* key, auto pred) { return !j.contains(key) || pred(j[key]); };
  const bool tenant = is("tenant_id", [](const nlohmann::json& v) {
    return v.is_number_unsigned() && v.get<std::uint64_t>() <= 0xffffffffULL;
  });
  const bool user = is("user_id", [](const nlohmann::json& v) { return v.is_number_unsigned(); });
  const bool strings = is("iss", [](const nlohmann::json& v) { return v.is_string(); }) &&
                       is("aud", [](const nlohmann::json& v) { return v.is_string(); });
  const bool roles = is("roles", [](const nlohmann::json& v) {
    return v.is_array() &&
           std::all_of(v.begin(), v.end(), [](const auto& r) { return r.is_string(); });
  });
  const bool super = is("is_superuser", [](const nlohmann::json& v) { return v.is_boolean(); });
  std::int64_t iat = 0;
  const bool ints =
      typed_int(j, "exp", t.exp) && typed_int(j, "nbf", t.nbf) && typed_int(j, "iat", iat);
  return tenant && user && strings && roles && super && ints;
}

TokenShape token_shape(std::string_view token) {
  TokenShape t;
  auto fail = [&](std::string_view text) {
    t.error = text;
    return t;
  };
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return fail(kMalformed);
  const auto header = base64url_decode(token.substr(0, d1));
  if (!header) return fail(kBase64);
  const auto h = nlohmann::json::parse(*header, nullptr, false);
  if (!h.is_object() || !h.contains("alg") || !h["alg"].is_string()) return fail(kClaims);
  const auto claims = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!claims) return fail(kBase64);
  if (!typed_claims(nlohmann::json::parse(*claims, nullptr, false), t)) return fail(kClaims);
  if (!base64url_decode(token.substr(d2 + 1))) return fail(kBase64);
  return t;
}

bool originated_by_server(const Message& m) {
  return std::holds_alternative<CollectionPurged>(m) || std::holds_alternative<DefinitionSync>(m);
}

class AuthJudge final : public Judge {
 public:
  explicit AuthJudge(const JudgeDeps& d) : Judge(d.sink, "auth"), options_(d.options) {}
  std::span<const RuleDecl> rules() const override { return kAuthRules; }

  void server_read(const FrameEvent& e) override {
    if (const auto* h = std::get_if<Handshake>(&e.m))
      conns_[e.r.conn].handshakes.push_back({h->jwt_token, h->wire_version, e.r.t});
  }
  void server_wrote(const FrameEvent& e) override;
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }

 private:
  struct Offered {
    std::string token;
    std::uint32_t wire_version = 0;
    std::int64_t read_at = 0;
  };
  struct State {
    std::deque<Offered> handshakes;  // read, unanswered
    bool failed = false;             // the last answer failed authentication (AUTH-5)
  };
  void answer(const FrameEvent& e, const Offered& h, const HandshakeAck& ack);
  void empty_token(const FrameEvent& e, bool authenticated, const HandshakeAck& ack);
  void token(const FrameEvent& e, const Offered& h, bool authenticated, const HandshakeAck& ack);
  void clock(const FrameEvent& e, const Offered& h, const TokenShape& t, bool authenticated,
             const HandshakeAck& ack);

  const CheckerOptions& options_;
  std::map<std::uint64_t, State> conns_;
};

void AuthJudge::server_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* ack = std::get_if<HandshakeAck>(&e.m)) {
    if (s.handshakes.empty()) return;  // HS-2's concern
    const Offered h = s.handshakes.front();
    s.handshakes.pop_front();
    return answer(e, h, *ack);
  }
  if (const auto* p = std::get_if<CollectionPurged>(&e.m);
      p && e.view.authenticated && e.view.identity_known && p->tenant_id != e.view.tenant) {
    flag(e, "AUTH-4", Level::Must,
         "CollectionPurged of tenant " + std::to_string(p->tenant_id) +
             " sent to a session of tenant " + std::to_string(e.view.tenant));
  }
  // Before any success HS-2 judges this, after a fork rejection HS-10.
  if (originated_by_server(e.m) && s.failed && e.view.ever_authenticated && !e.view.fork_rejected) {
    flag(e, "AUTH-5", Level::Must,
         std::string(message_name(e.m)) +
             " to a session whose last handshake failed authentication (it is not authenticated)");
  }
}

void AuthJudge::answer(const FrameEvent& e, const Offered& h, const HandshakeAck& ack) {
  State& s = conns_[e.r.conn];
  s.failed = false;
  if ((h.wire_version == 0 ? 1 : h.wire_version) > 4) return;  // HS-4: the token is not looked at
  // A fork rejection (HS-9) comes after a successful authentication.
  const bool authenticated = ack.success || ack.fork_detected;
  s.failed = !authenticated;
  if (h.token.empty()) return empty_token(e, authenticated, ack);
  token(e, h, authenticated, ack);
}

void AuthJudge::empty_token(const FrameEvent& e, bool authenticated, const HandshakeAck& ack) {
  const auto& trust = options_.server_profile.trust_mode;
  if (!trust) return;
  if (*trust && !authenticated) {
    flag(e, "AUTH-1", Level::Must,
         "the empty token failed (\"" + ack.error.value_or("") +
             "\") though trust mode is on: it authenticates as \"sync-client\", tenant 0");
  } else if (!*trust && (authenticated || ack.error != kMalformed)) {
    flag(e, "AUTH-1", Level::Must,
         std::string(authenticated
                         ? "the empty token authenticated"
                         : "the empty token failed with \"" + ack.error.value_or("") + "\"") +
             " with trust mode off (expected \"malformed JWT token\")");
  }
}

void AuthJudge::token(const FrameEvent& e, const Offered& h, bool authenticated,
                      const HandshakeAck& ack) {
  const TokenShape t = token_shape(h.token);
  const std::string error = ack.error.value_or("");
  if (t.error && (authenticated || error != *t.error)) {
    flag(e, "AUTH-2", Level::Must,
         std::string(authenticated ? "a token failing Appendix C's structural checks "
                                     "authenticated"
                                   : "a token failed with \"" + error + "\"") +
             " (its first failing step answers \"" + std::string(*t.error) + "\")");
    return;
  }
  if (t.error) return;
  if (!authenticated &&
      std::find(std::begin(kLaterSteps), std::end(kLaterSteps), error) == std::end(kLaterSteps)) {
    flag(e, "AUTH-2", Level::Must,
         "a well-formed token failed with \"" + error +
             "\", not the text of one of Appendix C's steps 7-12");
  }
  clock(e, h, t, authenticated, ack);
}

// AUTH-3 on the server's clock when it read the Handshake, in whole seconds.
void AuthJudge::clock(const FrameEvent& e, const Offered& h, const TokenShape& t,
                      bool authenticated, const HandshakeAck& ack) {
  std::optional<std::int64_t> ms;
  if (options_.server_unix_ms) ms = options_.server_unix_ms(h.read_at);
  if (!ms && options_.server_unix_epoch_ms)
    ms = *options_.server_unix_epoch_ms + h.read_at / kJudgeMs;
  if (!ms) return;
  // Claims are any i64: clamped to +-2^40 s so the arithmetic cannot overflow.
  constexpr std::int64_t kFar = std::int64_t{1} << 40;
  const std::int64_t tol = options_.clock_tolerance_ms;
  const std::int64_t expires_ms = (std::clamp(t.exp, -kFar, kFar) + 60) * 1000;
  const std::int64_t valid_ms = (std::clamp(t.nbf, -kFar, kFar) - 60) * 1000;
  const bool expired = t.exp > 0 && *ms > expires_ms + 1000 + tol;
  const bool not_yet = t.nbf > 0 && *ms < valid_ms - tol;
  const std::string when = " (server time " + std::to_string(*ms / 1000) + " s, exp " +
                           std::to_string(t.exp) + ", nbf " + std::to_string(t.nbf) +
                           ", 60 s leeway)";
  if (authenticated && (expired || not_yet)) {
    flag(e, "AUTH-3", Level::Must,
         std::string(expired ? "an expired" : "a not yet valid") + " token authenticated" + when);
  }
  const bool may_be_expired = t.exp > 0 && *ms >= expires_ms - tol;
  const bool may_be_early = t.nbf > 0 && *ms <= valid_ms + 1000 + tol;
  if ((ack.error == kExpired && !may_be_expired) || (ack.error == kNotYet && !may_be_early)) {
    flag(e, "AUTH-3", Level::Must, "the handshake failed with \"" + *ack.error + "\"" + when);
  }
}

}  // namespace

std::unique_ptr<Judge> make_auth_judge(const JudgeDeps& d) {
  return std::make_unique<AuthJudge>(d);
}

}  // namespace syncsim::conformance
