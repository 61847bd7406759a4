// Keepalive judges on hand-made traces: the client's Ping timer (PING-1),
// its answers to the server's Pings (PING-5), its dead-link timeout (PING-6),
// and the server's silence after a Pong (PING-3). Each rule once broken, once kept.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test {
namespace ping_judge_tests {

using namespace protocol;
using namespace checker_trace;

conformance::CheckerOptions client_timers() {
  conformance::CheckerOptions o;
  o.client_profile.ping_interval_ns = 30 * kS;
  o.client_profile.dead_after_ns = 90 * kS;
  o.client_profile.clock_drift_ppm = 0;
  return o;
}

// A simulated connection up to the client's reading of a successful HandshakeAck.
void connect(Trace& tr) {
  tr.cw(hs());
  tr.sr(hs());
  tr.sw(ok_ack());
  tr.cr(ok_ack());
}

TEST(PING_1, NoPingAfterTheHandshakeIsFlaggedOnceTheClientActs) {
  Trace tr(client_timers());
  connect(tr);
  tr.wait_ms(2'000);
  tr.cw(subscribe("s"));  // alive, and it never pinged
  EXPECT_TRUE(tr.has("PING-1")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("PING-1", Sender::Client));
}

TEST(PING_1, APingOverdueByTheIntervalIsFlagged) {
  Trace tr(client_timers());
  connect(tr);
  tr.cw(PingPong{1, false});
  tr.wait_ms(45'000);
  tr.cw(PingPong{2, false});
  EXPECT_TRUE(tr.has("PING-1")) << tr.all();
}

TEST(PING_1, PingsAtOnceAndEveryIntervalAreKept) {
  Trace tr(client_timers());
  connect(tr);
  for (int i = 0; i < 5; ++i) {
    tr.cw(PingPong{static_cast<std::uint64_t>(i), false});
    tr.wait_ms(30'000);
  }
  tr.cw(PingPong{9, false});
  EXPECT_FALSE(tr.has("PING-1")) << tr.all();
}

TEST(PING_1, AClientThatFallsSilentMayHaveCrashedAndIsNotFlagged) {
  Trace tr(client_timers());
  connect(tr);
  tr.checker.finish(tr.t + 600 * kS);
  EXPECT_FALSE(tr.has("PING-1")) << tr.all();
  Trace unknown;  // no configured interval: only the first Ping is judged
  connect(unknown);
  unknown.cw(PingPong{1, false});
  unknown.wait_ms(100'000);
  unknown.cw(subscribe("s"));
  EXPECT_FALSE(unknown.has("PING-1")) << unknown.all();
}

// D180: the Ping due at once needs no interval, so any client is judged on it.
TEST(PING_1, NoFirstPingIsFlaggedWithoutAConfiguredInterval) {
  Trace tr;
  connect(tr);
  tr.wait_ms(2'000);
  tr.cw(subscribe("s"));
  EXPECT_TRUE(tr.has("PING-1")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("PING-1", Sender::Client));
}

TEST(PING_3, APongAnsweredByTheServerIsFlagged) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  tr.c(PingPong{7, true});
  tr.s(PingPong{7, true});
  EXPECT_TRUE(tr.has("PING-3")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("PING-3", Sender::Server));
}

TEST(PING_3, APongLeftUnansweredIsKept) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  tr.c(PingPong{7, true});
  tr.c(PingPong{8, false});
  tr.s(PingPong{8, true});
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_FALSE(tr.has("PING-3")) << tr.all();
  EXPECT_FALSE(tr.has("PING-2")) << tr.all();
}

TEST(PING_5, AServerPingLeftUnansweredOrMisechoedIsFlagged) {
  Trace ignored;
  connect(ignored);
  ignored.sw(PingPong{5, false});
  ignored.cr(PingPong{5, false});
  ignored.wait_ms(11'000);
  ignored.cw(PingPong{6, false});
  EXPECT_TRUE(ignored.has("PING-5")) << ignored.all();
  EXPECT_TRUE(ignored.first_blamed("PING-5", Sender::Client));

  Trace wrong;
  connect(wrong);
  wrong.sw(PingPong{5, false});
  wrong.cr(PingPong{5, false});
  wrong.cw(PingPong{4, true});
  EXPECT_TRUE(wrong.has("PING-5")) << wrong.all();
}

TEST(PING_5, AServerPingEchoedIsKept) {
  Trace tr;
  connect(tr);
  tr.sw(PingPong{5, false});
  tr.cr(PingPong{5, false});
  tr.cw(PingPong{5, true});
  tr.wait_ms(20'000);
  tr.cw(PingPong{6, false});
  EXPECT_FALSE(tr.has("PING-5")) << tr.all();
}

TEST(PING_6, AClientStillOnASilentConnectionIsFlagged) {
  Trace tr(client_timers());
  connect(tr);
  for (int i = 0; i < 4; ++i) {  // pings into a link that answers nothing
    tr.cw(PingPong{static_cast<std::uint64_t>(i), false});
    tr.wait_ms(30'000);
  }
  tr.cw(PingPong{9, false});
  EXPECT_TRUE(tr.has("PING-6")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("PING-6", Sender::Client));
}

TEST(PING_6, AConnectionThatAnswersIsKept) {
  Trace tr(client_timers());
  connect(tr);
  for (int i = 0; i < 6; ++i) {
    const PingPong ping{static_cast<std::uint64_t>(i), false};
    tr.cw(ping);
    tr.sr(ping);
    tr.sw(PingPong{ping.timestamp_ms, true});
    tr.cr(PingPong{ping.timestamp_ms, true});
    tr.wait_ms(30'000);
  }
  tr.cw(PingPong{9, false});
  EXPECT_FALSE(tr.has("PING-6")) << tr.all();
}

conformance::StateNote idle_close(std::int64_t t, std::uint64_t conn) {
  return conformance::StateNote{t, conn, Sender::Server, "idle_close", {{"idle_ms", "0"}}};
}

TEST(PING_4, ASessionClosedAsIdleSoonAfterAPingIsFlagged) {
  conformance::CheckerOptions o;
  o.server_profile.idle_timeout_ns = 300 * kS;
  o.server_profile.clock_drift_ppm = 0;
  Trace tr(o);
  connect(tr);
  tr.wait_ms(250'000);
  tr.cw(PingPong{1, false});
  tr.sr(PingPong{1, false});
  tr.sw(PingPong{1, true});
  tr.wait_ms(60'000);
  tr.checker.on_note(idle_close(tr.t, 1));  // idle since the handshake, not since the Ping
  EXPECT_TRUE(tr.has("PING-4")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("PING-4", Sender::Server));
}

TEST(PING_4, AnIdleCloseAfterTheTimeoutIsKept) {
  conformance::CheckerOptions o;
  o.server_profile.idle_timeout_ns = 300 * kS;
  o.server_profile.clock_drift_ppm = 0;
  Trace tr(o);
  connect(tr);
  tr.cw(PingPong{1, false});
  tr.sr(PingPong{1, false});
  tr.sw(PingPong{1, true});
  tr.wait_ms(300'000);
  tr.checker.on_note(idle_close(tr.t, 1));
  EXPECT_FALSE(tr.has("PING-4")) << tr.all();
}

}  // namespace ping_judge_tests
}  // namespace syncsim::test
