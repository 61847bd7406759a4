// The session judge (SESSION-2, -3, -4, -6) and the handshake wait (HS-14):
// for each rule a trace that breaks it and one that keeps it.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test {
namespace {

using namespace checker_trace;

// The side the first finding of `rule` blames, or nullopt.
std::optional<Sender> session_blamed(const Trace& tr, std::string_view rule) {
  for (const auto& f : tr.checker.findings()) {
    if (f.finding.rule == rule) return f.blamed;
  }
  return std::nullopt;
}

// A session the server serves, recorded as the simulator records it.
void open_session(Trace& tr, std::uint64_t conn) {
  tr.cw(hs(), conn);
  tr.sr(hs(), conn);
  tr.sw(ok_ack("sync-" + std::to_string(conn)), conn);
  tr.cr(ok_ack("sync-" + std::to_string(conn)), conn);
}
void ping_pong(Trace& tr, std::uint64_t conn) {
  tr.cw(PingPong{1, false}, conn);
  tr.sr(PingPong{1, false}, conn);
  tr.sw(PingPong{1, true}, conn);
  tr.cr(PingPong{1, true}, conn);
}

conformance::CheckerOptions with_cap(std::uint32_t cap) {
  conformance::CheckerOptions o;
  o.server_profile.max_sessions = cap;
  return o;
}

TEST(SESSION_2, AConnectionBeyondTheCapIsServedNoFrame) {
  Trace tr(with_cap(2));
  open_session(tr, 1);
  open_session(tr, 2);
  open_session(tr, 3);  // a third while two are open
  ping_pong(tr, 1);
  EXPECT_FALSE(tr.has("SESSION-2")) << tr.all();  // not yet shown: 2 may have closed
  ping_pong(tr, 2);
  EXPECT_TRUE(tr.has("SESSION-2")) << tr.all();
  EXPECT_EQ(session_blamed(tr, "SESSION-2"), Sender::Server);
}

TEST(SESSION_2, RefusedConnectionsAndFreedSlotsAreFine) {
  Trace tr(with_cap(2));
  open_session(tr, 1);
  open_session(tr, 2);
  tr.cw(hs(), 3);  // refused: the server never reads or writes on it
  tr.on_close_both(3);
  ping_pong(tr, 1);
  ping_pong(tr, 2);
  tr.on_close_both(1);
  open_session(tr, 4);  // a slot was freed
  ping_pong(tr, 2);
  ping_pong(tr, 4);
  EXPECT_FALSE(tr.has("SESSION-2")) << tr.all();

  Trace unknown;  // no profile: not judged
  for (std::uint64_t c : {1, 2, 3}) open_session(unknown, c);
  for (std::uint64_t c : {1, 2, 3}) ping_pong(unknown, c);
  EXPECT_FALSE(unknown.has("SESSION-2"));
}

conformance::CheckerOptions with_idle(std::int64_t ms) {
  conformance::CheckerOptions o;
  o.server_profile.idle_timeout_ns = ms * kMs;
  return o;
}

TEST(SESSION_3, ASessionIdlePastTheTimeoutIsStillServed) {
  Trace tr(with_idle(5'000));
  open_session(tr, 1);
  tr.wait_ms(7'000);
  ping_pong(tr, 1);  // the server read it: the session was still open
  EXPECT_TRUE(tr.has("SESSION-3")) << tr.all();
  EXPECT_EQ(session_blamed(tr, "SESSION-3"), Sender::Server);
}

TEST(SESSION_3, ActivityWithinTheTimeoutKeepsTheSession) {
  Trace tr(with_idle(5'000));
  open_session(tr, 1);
  for (int i = 0; i < 5; ++i) {
    tr.wait_ms(4'900);
    ping_pong(tr, 1);
  }
  EXPECT_FALSE(tr.has("SESSION-3")) << tr.all();
}

TEST(SESSION_3, AnIdleCloseBeforeTheTimeoutIsFlagged) {
  Trace tr(with_idle(5'000));
  open_session(tr, 1);
  tr.wait_ms(2'000);
  tr.checker.on_note({tr.t, 1, Sender::Server, "idle_close", {{"idle_ms", "2000"}}});
  EXPECT_TRUE(tr.has("SESSION-3")) << tr.all();

  Trace ok(with_idle(5'000));
  open_session(ok, 1);
  ok.wait_ms(5'000);
  ok.checker.on_note({ok.t, 1, Sender::Server, "idle_close", {{"idle_ms", "5000"}}});
  EXPECT_FALSE(ok.has("SESSION-3")) << ok.all();
}

TEST(SESSION_4, NoIdleCloseRightAfterAPing) {
  Trace tr(with_idle(5'000));
  open_session(tr, 1);
  tr.wait_ms(4'000);
  ping_pong(tr, 1);
  tr.wait_ms(1'000);
  tr.checker.on_note({tr.t, 1, Sender::Server, "idle_close", {{"idle_ms", "5000"}}});
  EXPECT_TRUE(tr.has("SESSION-4")) << tr.all();
  EXPECT_EQ(session_blamed(tr, "SESSION-4"), Sender::Server);
}

TEST(SESSION_4, AnIdleCloseLongAfterThePingIsFine) {
  Trace tr(with_idle(60'000));
  open_session(tr, 1);
  ping_pong(tr, 1);
  tr.wait_ms(60'000);  // pings stopped: idle for the whole timeout
  tr.checker.on_note({tr.t, 1, Sender::Server, "idle_close", {{"idle_ms", "60000"}}});
  EXPECT_FALSE(tr.has("SESSION-4")) << tr.all();
  EXPECT_FALSE(tr.has("SESSION-3")) << tr.all();
}

TEST(SESSION_6, NoAnswerToARequestReadBeforeTheHandshake) {
  Trace tr;
  tr.c(subscribe("s1"));  // the client breaks HS-1; the server must ignore it
  tr.s(ShapeSnapshot{"s1", Bytes{0x90}, 0, 0});
  EXPECT_TRUE(tr.has("SESSION-6")) << tr.all();
  EXPECT_EQ(session_blamed(tr, "SESSION-6"), Sender::Server);

  Trace vc;
  vc.c(VectorClockSync{{}, 1});
  vc.s(VectorClockSync{{}, 0});
  EXPECT_TRUE(vc.has("SESSION-6")) << vc.all();
}

TEST(SESSION_6, RequestsAfterTheHandshakeAreAnswered) {
  Trace tr;
  tr.c(subscribe("s0"));  // ignored, rightly
  tr.c(hs());
  tr.s(ok_ack());
  tr.c(subscribe("s1"));
  tr.s(ShapeSnapshot{"s1", Bytes{0x90}, 0, 0});
  tr.c(VectorClockSync{{}, 1});
  tr.s(VectorClockSync{{}, 0});
  EXPECT_FALSE(tr.has("SESSION-6")) << tr.all();
}

TEST(SESSION_9, ADedupTableDoesNotOutliveItsSession) {
  Trace tr;
  tr.c(hs(), 1);
  tr.s(ok_ack("sync-1"), 1);
  tr.c(push(1), 1);
  tr.s(DeltaAck{1, 1, std::nullopt}, 1);
  tr.on_close_both(1);
  tr.c(hs(), 2);
  tr.s(ok_ack("sync-2"), 2);
  tr.c(push(1), 2);  // retransmitted on a new session: applied again
  tr.s(DeltaAck{1, 0, std::nullopt}, 2);
  EXPECT_TRUE(tr.has("SESSION-9")) << tr.all();
  EXPECT_EQ(session_blamed(tr, "SESSION-9"), Sender::Server);
}

TEST(SESSION_9, DuplicatesWithinASessionAndLsnlessServersAreFine) {
  Trace tr;
  tr.c(hs(), 1);
  tr.s(ok_ack("sync-1"), 1);
  tr.c(push(1), 1);
  tr.s(DeltaAck{1, 1, std::nullopt}, 1);
  tr.c(push(1), 1);  // a duplicate of this session's own
  tr.s(DeltaAck{1, 0, std::nullopt}, 1);
  tr.on_close_both(1);
  tr.c(hs(), 2);
  tr.s(ok_ack("sync-2"), 2);
  tr.c(push(1), 2);
  tr.s(DeltaAck{1, 2, std::nullopt}, 2);
  EXPECT_FALSE(tr.has("SESSION-9")) << tr.all();

  Trace origin;  // acks everything with lsn 0 (DELTA-8's concern)
  for (std::uint64_t conn : {1, 2}) {
    origin.c(hs(), conn);
    origin.s(ok_ack("sync-" + std::to_string(conn)), conn);
    origin.c(push(1), conn);
    origin.s(DeltaAck{1, 0, std::nullopt}, conn);
    origin.on_close_both(conn);
  }
  EXPECT_FALSE(origin.has("SESSION-9")) << origin.all();
}

conformance::CheckerOptions with_wait(std::int64_t ms) {
  conformance::CheckerOptions o;
  o.client_profile.handshake_wait_ns = ms * kMs;
  return o;
}

TEST(HS_14, TheClientWaitsAtMostItsHandshakeWait) {
  Trace tr(with_wait(10'000));
  tr.cw(hs());
  tr.sr(hs());
  tr.sw(ok_ack());
  tr.wait_ms(15'000);
  tr.cr(ok_ack());  // still there 15 s on
  EXPECT_TRUE(tr.has("HS-14")) << tr.all();
  EXPECT_EQ(session_blamed(tr, "HS-14"), Sender::Client);
}

TEST(HS_14, AnAnswerWithinTheWaitIsFine) {
  Trace tr(with_wait(10'000));
  tr.cw(hs());
  tr.sr(hs());
  tr.sw(ok_ack());
  tr.wait_ms(9'000);
  tr.cr(ok_ack());
  tr.wait_ms(30'000);
  ping_pong(tr, 1);
  EXPECT_FALSE(tr.has("HS-14")) << tr.all();

  Trace gave_up(with_wait(10'000));  // closed at the wait: a new connection
  gave_up.cw(hs(), 1);
  gave_up.wait_ms(10'000);
  gave_up.on_close_both(1);
  gave_up.wait_ms(20'000);
  open_session(gave_up, 2);
  EXPECT_FALSE(gave_up.has("HS-14")) << gave_up.all();
}

TEST(HS_14, AFirstAnswerOtherThanHandshakeAckEndsTheAttempt) {
  Trace tr(with_wait(10'000));
  tr.cw(hs());
  tr.sw(PingPong{1, true});
  tr.cr(PingPong{1, true});
  tr.cw(PingPong{2, false});  // carries on instead of giving up
  EXPECT_TRUE(tr.has("HS-14")) << tr.all();
}

conformance::StateNote fork_note(std::int64_t t, std::uint64_t conn, std::string lite_id) {
  return {
      t, conn, Sender::Client, "handshake_after_fork", {{"forked_lite_id", std::move(lite_id)}}};
}
Handshake hs_as(std::string lite_id, std::uint64_t epoch) {
  Handshake h = hs();
  h.lite_id = std::move(lite_id);
  h.epoch = epoch;
  return h;
}

TEST(HS_11, AForkedLiteIdIsNeverOfferedAgain) {
  Trace tr;
  tr.checker.on_note(fork_note(tr.t, 2, "L1"));  // the client's note precedes its Handshake
  tr.cw(hs_as("L1", 3), 2);
  EXPECT_TRUE(tr.has("HS-11")) << tr.all();
  EXPECT_EQ(session_blamed(tr, "HS-11"), Sender::Client);

  Trace after;  // or follows it
  after.cw(hs_as("L1", 3), 2);
  after.checker.on_note(fork_note(after.t, 2, "L1"));
  EXPECT_TRUE(after.has("HS-11")) << after.all();
}

TEST(HS_11, ANewLiteIdAfterTheForkIsFine) {
  Trace tr;
  tr.checker.on_note(fork_note(tr.t, 2, "L1"));
  tr.cw(hs_as("L2", 1), 2);
  EXPECT_FALSE(tr.has("HS-11")) << tr.all();
}

}  // namespace
}  // namespace syncsim::test
