// The token judge: TOKEN-1's refreshes behind a pending Handshake, TOKEN-3's
// remaining lifetime, and the client's TOKEN-5/6/8/10. Each rule has a trace
// that breaks it and one that keeps it.
#include <gtest/gtest.h>

#include "conformance/live/round_trips.hpp"
#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test {
namespace {

using namespace checker_trace;
using conformance::CheckerOptions;

TokenRefresh refresh(std::string jwt) { return TokenRefresh{std::move(jwt)}; }
DeltaReject denied(std::uint64_t mid, std::string reason = "token expired") {
  return DeltaReject{mid, std::move(reason), compensation::PermissionDenied{}};
}
Handshake hs_of(std::string jwt, std::string lite_id, std::uint64_t epoch) {
  Handshake h = hs(std::move(jwt));
  h.lite_id = std::move(lite_id);
  h.epoch = epoch;
  return h;
}
std::size_t blamed_on(const Trace& tr, Sender side) {
  std::size_t n = 0;
  for (const auto& f : tr.checker.findings()) n += f.blamed == side;
  return n;
}
// A client that can obtain tokens and was told they live `life` seconds.
CheckerOptions refreshing(std::int64_t life, std::int64_t ping_s = 5) {
  CheckerOptions o;
  o.client_profile.token_source = true;
  o.client_profile.token_lifetime_s = life;
  o.client_profile.ping_interval_ns = ping_s * kS;
  return o;
}
// Handshake and its successful ack, recorded apart as the simulator does.
void open_apart(Trace& tr, const Handshake& h, std::uint64_t conn = 1) {
  tr.cw(h, conn);
  tr.sr(h, conn);
  tr.sw(ok_ack("sync-a:" + std::to_string(conn)), conn);
  tr.cr(ok_ack("sync-a:" + std::to_string(conn)), conn);
}
template <class M>
void to_server(Trace& tr, const M& m, std::uint64_t conn = 1) {
  tr.cw(m, conn);
  tr.sr(m, conn);
}
template <class M>
void to_client(Trace& tr, const M& m, std::uint64_t conn = 1) {
  tr.sw(m, conn);
  tr.cr(m, conn);
}

// ---- TOKEN-1: a refresh behind a pending Handshake shares its fate (D115) ----

TEST(TOKEN_1, ARefreshBehindAFailedHandshakeIsOwedNothing) {
  Trace tr;
  tr.c(hs(token(0)));
  tr.c(refresh(token(0)));  // the client breaks TOKEN-4 / HS-1
  HandshakeAck refused;
  refused.session_id = "sync-a:1-1";
  refused.error = "JWT signature verification failed";
  refused.server_wire_version = 4;
  tr.s(refused);
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_FALSE(tr.has("TOKEN-1")) << tr.all();
  EXPECT_EQ(blamed_on(tr, Sender::Server), 0u) << tr.all();
}

TEST(TOKEN_1, ARefreshBehindASuccessfulHandshakeIsOwedItsAnswer) {
  Trace tr;
  tr.c(hs(token(0)));
  tr.c(refresh(token(0)));
  tr.s(ok_ack());
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_TRUE(tr.blamed("TOKEN-1", Sender::Server)) << tr.all();
}

TEST(TOKEN_1, AnIgnoredRefreshDoesNotSkewTheIdentityOfALaterOne) {
  CheckerOptions o;
  o.server_unix_epoch_ms = 1'000'000;  // the server's clock: 1000 s at t = 0
  Trace tr(o);
  tr.c(hs(token(900)));       // expired (AUTH-3: 900 s < 1000 s - 60 s of leeway)
  tr.c(refresh(token(100)));  // expired; ignored with the failed handshake
  HandshakeAck refused;
  refused.session_id = "sync-a:1-1";
  refused.error = "JWT token expired";
  refused.server_wire_version = 4;
  tr.s(refused);
  tr.c(hs(token(2000)));  // again on the same connection (HS-13 is the client's)
  tr.s(ok_ack());
  tr.c(refresh(token(5000)));
  tr.s(TokenRefreshAck{true, std::nullopt, 4000});
  tr.wait_ms(1500 * 1000);  // 2500 s: only the handshake's token would have expired
  tr.c(push(1));
  tr.s(DeltaAck{1, 1, std::nullopt});
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_EQ(blamed_on(tr, Sender::Server), 0u) << tr.all();
}

// ---- TOKEN-3: expires_in_secs is the remaining lifetime -------------------

TEST(TOKEN_3, ASuccessfulAckCarriesTheRemainingLifetime) {
  CheckerOptions o;
  o.server_unix_epoch_ms = 1'000'000;  // 1000 s at t = 0
  for (const std::uint64_t said : {std::uint64_t{500}, std::uint64_t{3600}}) {
    Trace tr(o);
    tr.c(hs(token(2000)));
    tr.s(ok_ack());
    tr.c(refresh(token(1500)));
    tr.s(TokenRefreshAck{true, std::nullopt, said});
    EXPECT_EQ(tr.blamed("TOKEN-3", Sender::Server), said != 500) << said << tr.all();
  }
}

TEST(TOKEN_3, WithoutExpiryTheAnswerIs3600) {
  for (const std::uint64_t said : {std::uint64_t{3600}, std::uint64_t{60}}) {
    Trace tr;  // no server clock needed
    tr.c(hs(token(0)));
    tr.s(ok_ack());
    tr.c(refresh(token(0)));
    tr.s(TokenRefreshAck{true, std::nullopt, said});
    EXPECT_EQ(tr.blamed("TOKEN-3", Sender::Server), said != 3600) << said << tr.all();
  }
}

TEST(TOKEN_3, AnExpiredButAcceptedTokenHasZeroLeft) {
  CheckerOptions o;
  o.server_unix_epoch_ms = 1'000'000;
  Trace tr(o);
  tr.c(hs(token(2000)));
  tr.s(ok_ack());
  tr.c(refresh(token(980)));  // 20 s past exp, within the 60 s leeway
  tr.s(TokenRefreshAck{true, std::nullopt, 0});
  EXPECT_FALSE(tr.has("TOKEN-3")) << tr.all();
}

// ---- TOKEN-5: refresh at 80 % of the lifetime, checked at a ping tick ------

TEST(TOKEN_5, NoRefreshBy80PercentAndATickIsLate) {
  Trace late(refreshing(100));
  open_apart(late, hs(token(0)));
  late.wait_ms(87'000);  // 80 s + one 5 s tick + 1 s
  to_server(late, PingPong{1, false});
  EXPECT_TRUE(late.blamed("TOKEN-5", Sender::Client)) << late.all();

  Trace on_time(refreshing(100));
  open_apart(on_time, hs(token(0)));
  on_time.wait_ms(84'000);
  to_server(on_time, refresh(token(0)));
  on_time.wait_ms(100'000);
  to_server(on_time, PingPong{1, false});
  on_time.checker.finish(on_time.t);
  EXPECT_FALSE(on_time.has("TOKEN-5")) << on_time.all();
}

TEST(TOKEN_5, TheLifetimeOfASuccessfulAckReplacesTheConfiguredOne) {
  Trace tr(refreshing(1000));
  open_apart(tr, hs(token(0)));
  to_server(tr, refresh(token(0)));
  to_client(tr, TokenRefreshAck{true, std::nullopt, 50});
  tr.wait_ms(47'000);  // 40 s + 5 s + 1 s passed: due by the ack's 50 s
  to_server(tr, PingPong{1, false});
  EXPECT_TRUE(tr.blamed("TOKEN-5", Sender::Client)) << tr.all();
}

TEST(TOKEN_5, JudgedOnTheClientsClock) {
  CheckerOptions o = refreshing(100);
  // A client clock running at half speed: 90 s of trace are 45 s to it.
  o.client_unix_ms = [](std::uint64_t, std::int64_t t) -> std::optional<std::int64_t> {
    return t / kMs / 2;
  };
  Trace tr(o);
  open_apart(tr, hs(token(0)));
  tr.wait_ms(90'000);
  to_server(tr, PingPong{1, false});
  tr.wait_ms(90'000);  // 90 s to it now: late
  to_server(tr, PingPong{2, false});
  // Only the token rules: this trace leaves out the keepalive (PING-1).
  std::vector<conformance::CheckFinding> token;
  for (const auto& f : tr.checker.findings())
    if (f.finding.rule.rfind("TOKEN-", 0) == 0) token.push_back(f);
  ASSERT_EQ(token.size(), 1u) << tr.all();
  EXPECT_EQ(token[0].finding.rule, "TOKEN-5");
  EXPECT_GT(token[0].t, 150 * kS);
}

TEST(TOKEN_5, NotJudgedWithoutATokenSourceOrLifetime) {
  CheckerOptions o;  // nothing known of the client's tokens
  Trace tr(o);
  open_apart(tr, hs(token(0)));
  tr.wait_ms(500'000);
  to_server(tr, PingPong{1, false});
  EXPECT_FALSE(tr.has("TOKEN-5")) << tr.all();
}

// ---- TOKEN-6: pushes paused from a PermissionDenied to a successful refresh -

TEST(TOKEN_6, APushAfterPermissionDeniedWaitsForASuccessfulRefresh) {
  Trace tr(refreshing(0));
  open_apart(tr, hs(token(0)));
  to_server(tr, push(1));
  to_client(tr, denied(1));
  to_server(tr, refresh(token(0)));
  to_client(tr, TokenRefreshAck{false, "JWT signature verification failed", 0});
  to_server(tr, push(1));  // resumed after a failed refresh
  EXPECT_TRUE(tr.blamed("TOKEN-6", Sender::Client)) << tr.all();

  Trace good(refreshing(0));
  open_apart(good, hs(token(0)));
  to_server(good, push(1));
  to_server(good, push(2));  // already written when the reject is read
  to_client(good, denied(1));
  to_client(good, denied(2));
  to_server(good, refresh(token(0)));
  to_client(good, TokenRefreshAck{true, std::nullopt, 3600});
  to_server(good, push(1));
  to_server(good, push(2));
  good.checker.finish(good.t + 60 * kS);
  EXPECT_FALSE(good.has("TOKEN-6")) << good.all();
}

TEST(TOKEN_6, ARefreshIsOwedAfterPermissionDenied) {
  Trace tr(refreshing(0));
  open_apart(tr, hs(token(0)));
  to_server(tr, push(1));
  to_client(tr, denied(1, "permission denied"));
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_TRUE(tr.blamed("TOKEN-6", Sender::Client)) << tr.all();
}

TEST(TOKEN_6, AtATapAPushJustAfterTheRejectMayPrecedeItsRead) {
  Trace tr(refreshing(0));
  tr.c(hs(token(0)));
  tr.s(ok_ack());
  tr.c(push(1));
  tr.s(denied(1));
  tr.c(push(2));  // 1 us later at the tap: written before the read, perhaps
  tr.c(refresh(token(0)));
  EXPECT_FALSE(tr.has("TOKEN-6")) << tr.all();
  tr.wait_ms(100);
  tr.c(push(3));  // still unanswered refresh, well past the tolerance
  EXPECT_TRUE(tr.blamed("TOKEN-6", Sender::Client)) << tr.all();
}

TEST(TOKEN_6, NotJudgedForAClientNotKnownToObtainTokens) {
  Trace tr;
  open_apart(tr, hs(token(0)));
  to_server(tr, push(1));
  to_client(tr, denied(1));
  to_server(tr, push(2));
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_FALSE(tr.has("TOKEN-6")) << tr.all();
}

// ---- TOKEN-8: the refreshed token in every later Handshake -----------------

TEST(TOKEN_8, ALaterHandshakeCarriesTheRefreshedToken) {
  for (const bool stale : {true, false}) {
    Trace tr;
    const std::string old_token = token(1000), new_token = token(2000);
    open_apart(tr, hs_of(old_token, "lite-a", 1));
    to_server(tr, refresh(new_token));
    to_client(tr, TokenRefreshAck{true, std::nullopt, 3600});
    tr.on_close_both(1);
    open_apart(tr, hs_of(stale ? old_token : new_token, "lite-a", 2), 2);
    EXPECT_EQ(tr.blamed("TOKEN-8", Sender::Client), stale) << tr.all();
  }
}

TEST(TOKEN_8, AFailedRefreshReplacesNothing) {
  Trace tr;
  const std::string old_token = token(1000);
  open_apart(tr, hs_of(old_token, "lite-a", 1));
  to_server(tr, refresh(token(2000)));
  to_client(tr, TokenRefreshAck{false, "JWT signature verification failed", 0});
  tr.on_close_both(1);
  open_apart(tr, hs_of(old_token, "lite-a", 2), 2);
  EXPECT_FALSE(tr.has("TOKEN-8")) << tr.all();
}

// ---- TOKEN-10: no "token expired" for a client that could see it coming ----

TEST(TOKEN_10, AnExpiryRejectAfterAWholeLifetimeWithoutRefresh) {
  Trace tr(refreshing(100));
  open_apart(tr, hs(token(0)));
  tr.wait_ms(170'000);
  to_server(tr, push(1));
  to_client(tr, denied(1));
  EXPECT_TRUE(tr.blamed("TOKEN-10", Sender::Client)) << tr.all();
}

TEST(TOKEN_10, AnExpiryTheClientCouldNotForeseeIsNotItsFault) {
  // The server's clock jumped: the token expired 50 s into its 100 s.
  Trace jump(refreshing(100));
  open_apart(jump, hs(token(0)));
  jump.wait_ms(50'000);
  to_server(jump, push(1));
  to_client(jump, denied(1));
  EXPECT_FALSE(jump.has("TOKEN-10")) << jump.all();
  // It tried: its refresh was refused.
  Trace refused(refreshing(100));
  open_apart(refused, hs(token(0)));
  refused.wait_ms(80'000);
  to_server(refused, refresh(token(0)));
  to_client(refused, TokenRefreshAck{false, "JWT signature verification failed", 0});
  refused.wait_ms(90'000);
  to_server(refused, push(1));
  to_client(refused, denied(1));
  EXPECT_FALSE(refused.has("TOKEN-10")) << refused.all();
  // It does not know the lifetime.
  Trace unknown(refreshing(0));
  open_apart(unknown, hs(token(0)));
  unknown.wait_ms(500'000);
  to_server(unknown, push(1));
  to_client(unknown, denied(1));
  EXPECT_FALSE(unknown.has("TOKEN-10")) << unknown.all();
}

// ---- TOKEN-9 on the server's clock, jumps included -------------------------

TEST(TOKEN_9, JudgedOnTheServersClockJumpsIncluded) {
  CheckerOptions o;
  // 1000 s at t = 0, ten minutes forward at t = 50 s.
  o.server_unix_ms = [](std::int64_t t) {
    return 1'000'000 + t / kMs + (t >= 50 * kS ? 600'000 : 0);
  };
  for (const bool accepted : {false, true}) {
    Trace tr(o);
    tr.c(hs(token(1300)));  // valid to 1360 s on the server's clock
    tr.s(ok_ack());
    tr.wait_ms(60'000);  // server time 1660 s: expired only through the jump
    tr.c(push(1));
    if (accepted) {
      tr.s(DeltaAck{1, 1, std::nullopt});
    } else {
      tr.s(denied(1));
    }
    EXPECT_EQ(tr.blamed("TOKEN-9", Sender::Server), accepted) << tr.all();
  }
}

// ---- D118: the tap tolerance follows the round trips measured -------------

TEST(RESYNC_2, TheTapToleranceFollowsTheMeasuredRoundTrip) {
  conformance::RoundTrips rt;
  EXPECT_EQ(rt.tolerance_ns(50 * kMs), 50 * kMs);  // nothing measured: the floor
  rt.frame(1, Sender::Client, hs(), 0);
  rt.frame(1, Sender::Server, ok_ack(), 4 * kMs);  // the server's side: 4 ms
  EXPECT_EQ(rt.tolerance_ns(50 * kMs), 50 * kMs);
  rt.frame(1, Sender::Client, PingPong{7, false}, 124 * kMs);  // the client reacts: 120 ms
  rt.frame(1, Sender::Server, PingPong{7, true}, 125 * kMs);
  EXPECT_EQ(*rt.max_ns(), 120 * kMs);
  EXPECT_EQ(rt.tolerance_ns(50 * kMs), 180 * kMs);  // plus half again
  rt.frame(1, Sender::Client, PingPong{8, false}, 10'000 * kMs);
  rt.frame(1, Sender::Server, PingPong{8, true}, 13'000 * kMs);  // 3 s: idleness, not a trip
  EXPECT_EQ(*rt.max_ns(), 120 * kMs);
  // The checker reads the tolerance as it judges: a push 100 ms after a gap
  // at a tap is judged with 50 ms, not with 180 ms.
  for (const std::int64_t tolerance : {50 * kMs, 180 * kMs}) {
    CheckerOptions o;
    o.at_tap = true;
    Trace tr(o);
    tr.checker.set_tap_tolerance_ns(tolerance);
    tr.c(hs());
    tr.s(ok_ack());
    tr.c(subscribe("s"));
    tr.s(ShapeSnapshot{"s", {}, 10, 0});
    tr.s(delta("s", 11));
    tr.s(delta("s", 14));
    tr.wait_ms(100);
    tr.c(push(1));
    EXPECT_EQ(tr.has("RESYNC-2"), tolerance == 50 * kMs) << tr.all();
  }
}

// ---- HS-2 at a proxy: a Pong answering a Ping read before the Handshake ----

TEST(HS_2, AtAProxyAPongAnsweringAnEarlyPingMayComeFirst) {
  // The proxy records a frame as written when it reaches it and as read
  // when it passes it on; here the Ping was held back behind nothing.
  for (const bool ping_first : {true, false}) {
    Trace tr;
    const Handshake h = hs(token(0));
    if (ping_first) {
      tr.cw(PingPong{5, false});
      tr.cw(h);
      tr.sr(PingPong{5, false});
      tr.sr(h);
    } else {  // the relay let the Handshake overtake the Ping
      tr.cw(PingPong{5, false});
      tr.cw(h);
      tr.sr(h);
      tr.sr(PingPong{5, false});
    }
    tr.sw(ping_first ? Message{PingPong{5, true}} : Message{ok_ack()});
    tr.sw(ping_first ? Message{ok_ack()} : Message{PingPong{5, true}});
    tr.cr(PingPong{5, true});
    tr.cr(ok_ack());
    tr.checker.finish(tr.t + 60 * kS);
    EXPECT_EQ(blamed_on(tr, Sender::Server), 0u) << ping_first << tr.all();
  }
  Trace bad;  // a Pong first, though the Handshake was read before the Ping
  bad.cw(hs(token(0)));
  bad.sr(hs(token(0)));
  bad.cw(PingPong{5, false});
  bad.sr(PingPong{5, false});
  bad.sw(PingPong{5, true});
  bad.sw(ok_ack());
  EXPECT_TRUE(bad.blamed("HS-2", Sender::Server)) << bad.all();
}

}  // namespace
}  // namespace syncsim::test
