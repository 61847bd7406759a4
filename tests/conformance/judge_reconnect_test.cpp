// Reconnect judges on hand-made traces: connections of one client (one
// lite_id) and the waits between them (CONN-1, CONN-4), and the mutations an
// ended connection left unanswered (CONN-2). Each rule once broken, once kept.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test {
namespace reconnect_judge_tests {

using namespace protocol;
using namespace checker_trace;

conformance::CheckerOptions backoff() {
  conformance::CheckerOptions o;
  o.client_profile.backoff_base_ns = kS;
  o.client_profile.backoff_max_ns = 60 * kS;
  o.client_profile.clock_drift_ppm = 0;
  return o;
}

// Client "L" states that its process started (it states every start: the
// reconnect rules apply to it).
void start(Trace& tr) {
  tr.checker.on_note(
      conformance::StateNote{tr.t, 0, Sender::Client, "client_start", {{"lite_id", "L"}}});
}

// Connection `conn` of client "L": its Handshake, and the answer the client reads.
void open(Trace& tr, std::uint64_t conn, std::uint64_t epoch, bool success = true) {
  if (conn == 1) start(tr);
  Handshake h = hs();
  h.lite_id = "L";
  h.epoch = epoch;
  tr.cw(h, conn);
  tr.sr(h, conn);
  HandshakeAck a = ok_ack("sync-a:" + std::to_string(conn));
  if (!success) {
    a.success = false;
    a.error = "malformed JWT token";
  }
  tr.sw(a, conn);
  tr.cr(a, conn);
}

TEST(CONN_4, AReconnectWithinASecondIsFlagged) {
  Trace tr;
  open(tr, 1, 1);
  tr.on_close_both(1);
  tr.wait_ms(100);
  open(tr, 2, 2);
  EXPECT_TRUE(tr.has("CONN-4")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("CONN-4", Sender::Client));
}

TEST(CONN_4, AReconnectAfterASecondIsKept) {
  Trace tr;
  open(tr, 1, 1);
  tr.on_close_both(1);
  tr.on_close_both(1);  // both sides' close records: the first one counts
  tr.wait_ms(1'100);
  open(tr, 2, 2);
  EXPECT_FALSE(tr.has("CONN-4")) << tr.all();
}

TEST(CONN_4, AProcessStartingAfreshOwesNoWait) {
  Trace tr;
  open(tr, 1, 1);
  tr.on_close_both(1);
  start(tr);  // a restart, not a reconnect
  open(tr, 2, 2);
  EXPECT_FALSE(tr.has("CONN-4")) << tr.all();
}

TEST(CONN_4, AClientThatDoesNotStateItsStartsIsNotJudged) {
  Trace tr;
  Handshake h = hs();
  h.lite_id = "M";  // no client_start note: a restart would look like this
  h.epoch = 1;
  tr.cw(h, 1);
  tr.cr(ok_ack(), 1);
  tr.on_close_both(1);
  h.epoch = 2;
  tr.cw(h, 2);
  EXPECT_FALSE(tr.has("CONN-4")) << tr.all();
}

TEST(CONN_1, FailuresInARowWithoutBackingOffAreFlagged) {
  Trace tr(backoff());
  open(tr, 1, 1);
  tr.on_close_both(1);
  tr.wait_ms(1'100);  // attempt 0: 1 s
  open(tr, 2, 2, false);
  tr.on_close_both(2);
  tr.wait_ms(1'100);  // attempt 1: 2 s owed
  open(tr, 3, 3);
  EXPECT_TRUE(tr.has("CONN-1")) << tr.all();
  EXPECT_FALSE(tr.has("CONN-4")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("CONN-1", Sender::Client));
}

TEST(CONN_1, DoublingWaitsAndAResetAfterSuccessAreKept) {
  Trace tr(backoff());
  open(tr, 1, 1);
  tr.on_close_both(1);
  tr.wait_ms(1'000);
  open(tr, 2, 2, false);
  tr.on_close_both(2);
  tr.wait_ms(2'000);
  open(tr, 3, 3, false);
  tr.on_close_both(3);
  tr.wait_ms(4'000);
  open(tr, 4, 4);  // success: the next wait is 1 s again
  tr.on_close_both(4);
  tr.wait_ms(1'000);
  open(tr, 5, 5);
  EXPECT_FALSE(tr.has("CONN-1")) << tr.all();
  Trace unknown;  // no configured backoff: only CONN-4's floor is judged
  open(unknown, 1, 1, false);
  unknown.on_close_both(1);
  unknown.wait_ms(1'000);
  open(unknown, 2, 2, false);
  unknown.on_close_both(2);
  unknown.wait_ms(1'000);
  open(unknown, 3, 3);
  EXPECT_FALSE(unknown.has("CONN-1")) << unknown.all();
}

TEST(CONN_2, AMutationLeftUnansweredAndNeverPushedAgainIsFlagged) {
  Trace tr;
  open(tr, 1, 1);
  tr.cw(push(1), 1);
  tr.on_close_both(1);
  tr.wait_ms(1'000);
  open(tr, 2, 2);
  tr.cw(PingPong{1, false}, 2);
  tr.wait_ms(11'000);
  tr.cw(PingPong{2, false}, 2);  // alive, authenticated for 11 s, and 1 not pushed
  EXPECT_TRUE(tr.has("CONN-2")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("CONN-2", Sender::Client));
}

TEST(CONN_2, MutationsPushedAgainAnsweredOrPurgedAreKept) {
  Trace tr;
  open(tr, 1, 1);
  DeltaPush other = push(3);
  other.collection = "gone";
  tr.cw(push(1), 1);
  tr.cw(push(2), 1);
  tr.cw(other, 1);
  tr.cr(DeltaAck{2, 5, std::nullopt}, 1);
  tr.on_close_both(1);
  tr.wait_ms(1'000);
  open(tr, 2, 2);
  tr.cr(CollectionPurged{0, "gone", 9}, 2);
  tr.cw(push(1), 2);  // 1 again; 2 was answered; "gone" was purged
  tr.wait_ms(11'000);
  tr.cw(PingPong{2, false}, 2);
  EXPECT_FALSE(tr.has("CONN-2")) << tr.all();
}

}  // namespace reconnect_judge_tests
}  // namespace syncsim::test
