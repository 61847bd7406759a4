// check --server cases of §5.2: tokens that expire during a session, and
// refreshes the server must refuse.
#include <chrono>

#include "conformance/live/server_case.hpp"

namespace syncsim::conformance::server_case {

using namespace protocol;

namespace token_steps {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// AUTH-3: a token is expired once the server's whole-second clock passes exp + 60.
constexpr std::int64_t kLeewayS = 60;

bool permission_denied(const DeltaReject& r) {
  return r.compensation && std::holds_alternative<compensation::PermissionDenied>(*r.compensation);
}

}  // namespace token_steps

std::vector<Case> token_cases(const CaseContext& ctx) {
  using namespace token_steps;
  const std::string coll = ctx.collection("tokens");
  const std::uint32_t other = ctx.tenant == 0xFFFF'FFFFu ? ctx.tenant - 1 : ctx.tenant + 1;
  // A token that still passes the handshake (exp + 60 s not yet past) and
  // expires within two seconds: its exp, once minted, for the wait.
  auto exp_s = std::make_shared<std::int64_t>(0);
  auto short_lived = [ctx, exp_s]() -> Message {
    *exp_s = unix_ms() / 1000 - (kLeewayS - 1);
    return handshake(ctx.mint(ctx.tenant, *exp_s));
  };
  auto refresh_with = [ctx](std::uint32_t tenant) {
    return [ctx, tenant]() -> Message { return TokenRefresh{ctx.mint(tenant)}; };
  };
  DeltaPush late = push(2, {7, 2}, coll);
  return {
      {{"token-expires-mid-session", "TOKEN-9",
        "a token that expires during the session: pushes after exp (+ 60 s leeway) are rejected "
        "\"token expired\" with PermissionDenied, pings still answered, a refresh ends it",
        "tokens"},
       {send_made(short_lived), handshake_ok(), send(push(1, {7, 1}, coll)), acked(1),
        [&] {
          // Wall-clock time, whatever the time scale: the server's clock must pass exp + 60.
          Step s = await(
              "the token's exp + 60 s to pass on this machine's clock",
              [exp_s](const View&) { return unix_ms() > (*exp_s + kLeewayS + 1) * 1000 + 200; },
              4000);
          s.unscaled = true;
          return s;
        }(),
        send(late),
        forbidding(
            expect<DeltaReject>("DeltaReject{mutation_id: 2, reason: \"token expired\", "
                                "compensation: PermissionDenied}",
                                [](const DeltaReject& r) {
                                  return r.mutation_id == 2 && r.reason == "token expired" &&
                                         permission_denied(r);
                                }),
            [](const Message& m) { return std::holds_alternative<DeltaAck>(m); },
            "TOKEN-9 (HARNESS CHOICE: the server re-checks expiry during a session; NodeDB "
            "Origin does not) broken: a push after the token expired was accepted"),
        send(PingPong{92, false}), pong(92), send_made(refresh_with(ctx.tenant)),
        expect<TokenRefreshAck>("TokenRefreshAck{success: true}",
                                [](const TokenRefreshAck& a) { return a.success; }),
        send(push(3, {7, 3}, coll)), acked(3)},
       true},
      {{"refresh-other-tenant-refused", "TOKEN-1",
        "a TokenRefresh with a valid token of another tenant is refused \"tenant mismatch\", and "
        "the session keeps its identity",
        "tokens"},
       {send_made([ctx]() -> Message { return handshake(ctx.mint(ctx.tenant)); }), handshake_ok(),
        send_made(refresh_with(other)),
        expect<TokenRefreshAck>("TokenRefreshAck{success: false, error: \"tenant mismatch\", "
                                "expires_in_secs: 0}",
                                [](const TokenRefreshAck& a) {
                                  return !a.success && a.error == "tenant mismatch" &&
                                         a.expires_in_secs == 0;
                                }),
        send(push(1, {7, 1}, coll)), acked(1)},
       true},
      {{"refresh-empty-token-refused", "TOKEN-1",
        "a TokenRefresh with an empty token is refused \"empty token\"; the session stays",
        "tokens"},
       {send(handshake(ctx.token)), handshake_ok(), send(TokenRefresh{""}),
        expect<TokenRefreshAck>(
            "TokenRefreshAck{success: false, error: \"empty token\", expires_in_secs: 0}",
            [](const TokenRefreshAck& a) {
              return !a.success && a.error == "empty token" && a.expires_in_secs == 0;
            }),
        send(PingPong{93, false}), pong(93)}},
  };
}

}  // namespace syncsim::conformance::server_case
