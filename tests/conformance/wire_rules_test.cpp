// Rules judged on traces since issue 15's second round (D80): each has a
// trace that breaks it and one that keeps it, and the side it binds is blamed.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using namespace checker_trace;

void open(Trace& tr, std::uint64_t conn = 1, std::string lite_id = "", std::uint64_t epoch = 0) {
  Handshake h = hs();
  h.lite_id = std::move(lite_id);
  h.epoch = epoch;
  tr.c(h, conn);
  tr.s(ok_ack("sync-a:" + std::to_string(conn)), conn);
}

// The findings of `rule`, and whether every one blames `side`.
std::size_t count(const Trace& tr, std::string_view rule, Sender side) {
  std::size_t n = 0;
  for (const auto& f : tr.checker.findings()) {
    if (f.finding.rule != rule) continue;
    EXPECT_EQ(f.blamed, side) << tr.all();
    ++n;
  }
  return n;
}

// ---- DELTA-1: increasing mutation ids, one meaning each, a fixed peer_id ----

TEST(DELTA_1, AMutationIdReusedForAnotherDocumentBreaksIt) {
  Trace tr;
  open(tr);
  tr.c(push(1));
  tr.s(DeltaAck{1, 1, std::nullopt});
  DeltaPush other = push(1);
  other.document_id = "e";
  tr.c(other);
  EXPECT_EQ(count(tr, "DELTA-1", Sender::Client), 1u) << tr.all();
}

TEST(DELTA_1, RetransmissionsAndIncreasingIdsKeepIt) {
  Trace tr;
  open(tr, 1, "lite-a", 1);
  tr.c(push(1));
  tr.c(push(2));
  tr.c(push(1));  // a retransmission: the same mutation
  tr.on_close_both(1);
  open(tr, 2, "lite-a", 2);
  tr.c(push(2), 2);  // resent on the next connection, below nothing new
  tr.c(push(3), 2);
  EXPECT_FALSE(tr.has("DELTA-1")) << tr.all();
}

TEST(DELTA_1, AFirstTransmissionBelowAnEarlierIdBreaksIt) {
  Trace tr;
  open(tr);
  tr.c(push(5));
  tr.c(push(3));  // never sent before, yet below 5
  EXPECT_EQ(count(tr, "DELTA-1", Sender::Client), 1u) << tr.all();
}

TEST(DELTA_1, APeerIdThatChangesOnAConnectionBreaksIt) {
  Trace tr;
  open(tr);
  tr.c(push(1));
  DeltaPush p = push(2);
  p.peer_id = 10;
  tr.c(p);
  EXPECT_EQ(count(tr, "DELTA-1", Sender::Client), 1u) << tr.all();
}

// ---- DELTA-5: an empty delta is rejected "empty delta" ----

TEST(DELTA_5, AnEmptyDeltaAcknowledgedOrRejectedForAnotherReasonBreaksIt) {
  DeltaPush empty = push(1);
  empty.delta = {};
  empty.checksum = 0;
  Trace acked;
  open(acked);
  acked.c(empty);
  acked.s(DeltaAck{1, 1, std::nullopt});
  EXPECT_EQ(count(acked, "DELTA-5", Sender::Server), 1u) << acked.all();

  Trace other;
  open(other);
  other.c(empty);
  other.s(DeltaReject{1, "identity not established", compensation::PermissionDenied{}});
  EXPECT_EQ(count(other, "DELTA-5", Sender::Server), 1u) << other.all();
}

TEST(DELTA_5, AnEmptyDeltaRejectedAsEmptyKeepsIt) {
  DeltaPush empty = push(1);
  empty.delta = {};
  empty.checksum = 0;
  Trace tr;
  open(tr);
  tr.c(empty);
  tr.s(DeltaReject{1, "empty delta", std::nullopt});
  EXPECT_FALSE(tr.has("DELTA-5")) << tr.all();
  Trace early;  // step 1 decides before step 2
  early.c(hs());
  early.s(HandshakeAck{});
  early.c(empty);
  early.s(DeltaReject{1, "not authenticated", compensation::PermissionDenied{}});
  EXPECT_FALSE(early.has("DELTA-5")) << early.all();
}

// ---- DELTA-7: an accepted push is answered by exactly one frame ----

TEST(DELTA_7, AnAcceptedPushAnsweredTwiceBreaksIt) {
  Trace tr;
  open(tr);
  tr.c(push(1));
  tr.s(DeltaAck{1, 1, std::nullopt});
  tr.s(DeltaReject{1, "unique violation", compensation::UniqueViolation{"unknown", "d"}});
  EXPECT_EQ(count(tr, "DELTA-7", Sender::Server), 1u) << tr.all();
}

TEST(DELTA_7, EachTransmissionAnsweredOnceKeepsIt) {
  Trace tr;
  open(tr);
  tr.c(push(1));
  tr.c(push(1));  // retransmitted before the answer came
  tr.s(DeltaAck{1, 1, std::nullopt});
  tr.s(DeltaAck{1, 0, std::nullopt});  // the duplicate
  EXPECT_FALSE(tr.has("DELTA-7")) << tr.all();
  EXPECT_FALSE(tr.has("DELTA-9")) << tr.all();
}

// ---- HS-9: the fork table ----

TEST(HS_9, AnEpochAcceptedAgainBreaksIt) {
  Trace tr;
  open(tr, 1, "lite-a", 3);
  tr.on_close_both(1);
  open(tr, 2, "lite-a", 3);  // a restored disk: the same epoch, accepted
  EXPECT_EQ(count(tr, "HS-9", Sender::Server), 1u) << tr.all();
}

TEST(HS_9, AHigherEpochOrAForkRejectionKeepsIt) {
  Trace tr;
  open(tr, 1, "lite-a", 3);
  tr.on_close_both(1);
  open(tr, 2, "lite-a", 4);
  open(tr, 3, "lite-b", 1);  // another client
  Handshake again = hs();
  again.lite_id = "lite-a";
  again.epoch = 4;
  tr.c(again, 4);
  HandshakeAck fork;
  fork.error = "FORK_DETECTED: regenerate LiteId and reconnect";
  fork.fork_detected = true;
  tr.s(fork, 4);
  open(tr, 5, "", 0);  // no lite_id: no fork check
  open(tr, 6, "", 0);
  EXPECT_FALSE(tr.has("HS-9")) << tr.all();
}

// ---- RESYNC-2: the request answers the gap that was read ----

void gap(Trace& tr) {
  tr.c(hs());
  tr.s(ok_ack());
  tr.s(ShapeSnapshot{"s1", Bytes{0x90}, 0, 0});
  tr.s(delta("s1", 1));
  tr.s(delta("s1", 3));  // lsn 2 never arrived
}

TEST(RESYNC_2, AResyncWithAnotherReasonOrAnOlderGapBreaksIt) {
  Trace reason;
  gap(reason);
  reason.wait_ms(60);  // past the tap tolerance (D81)
  reason.c(ResyncRequest{resync_reason::CorruptedState{}, 0, ""});
  EXPECT_EQ(count(reason, "RESYNC-2", Sender::Client), 1u) << reason.all();

  Trace older;
  gap(older);
  older.wait_ms(60);
  older.c(ResyncRequest{resync_reason::SequenceGap{2, 2}, 2, ""});
  EXPECT_GE(count(older, "RESYNC-2", Sender::Client), 1u) << older.all();
}

TEST(RESYNC_2, TheSequenceGapOfTheDeltaReadKeepsIt) {
  Trace tr;
  gap(tr);
  tr.c(ResyncRequest{resync_reason::SequenceGap{2, 3}, 2, ""});
  tr.checker.finish(tr.t + 60'000 * kMs);
  EXPECT_FALSE(tr.has("RESYNC-2")) << tr.all();
}

// ---- RESYNC-2 at a tap: a frame may have left before the gap was read (D81) ----

TEST(RESYNC_2, AtATapAPushWithinTheToleranceOfTheGapIsNotJudged) {
  Trace tr;  // c() and s() record Seen::Both, as a proxy or `check` does
  gap(tr);
  tr.wait_ms(10);
  tr.c(push(1));  // may have been on the wire when the gap arrived
  tr.wait_ms(20);
  tr.c(ResyncRequest{resync_reason::SequenceGap{2, 3}, 2, ""});
  tr.checker.finish(tr.t + 60'000 * kMs);
  EXPECT_FALSE(tr.has("RESYNC-2")) << tr.all();
}

TEST(RESYNC_2, AtATapAPushLaterThanTheToleranceBreaksIt) {
  Trace tr;
  gap(tr);
  tr.wait_ms(60);
  tr.c(push(1));
  EXPECT_EQ(count(tr, "RESYNC-2", Sender::Client), 1u) << tr.all();
}

TEST(RESYNC_2, OffATapThereIsNoTolerance) {
  Trace tr;  // the simulator's records: written, then read
  tr.c(hs());
  tr.s(ok_ack());
  tr.sw(ShapeSnapshot{"s1", Bytes{0x90}, 0, 0});
  tr.cr(ShapeSnapshot{"s1", Bytes{0x90}, 0, 0});
  tr.sw(delta("s1", 1));
  tr.cr(delta("s1", 1));
  tr.sw(delta("s1", 3));
  tr.cr(delta("s1", 3));
  tr.cw(push(1));  // written after the gap was read
  EXPECT_EQ(count(tr, "RESYNC-2", Sender::Client), 1u) << tr.all();
}

TEST(RESYNC_2, AtAProxyTheWrittenAndReadTimesAreTheTaps) {
  auto run = [](bool at_tap) {
    conformance::CheckerOptions o;
    o.at_tap = at_tap;  // the proxy records Written/Received as frames pass it
    Trace tr(o);
    tr.c(hs());
    tr.s(ok_ack());
    for (std::uint64_t lsn : {1, 3}) {
      tr.sw(delta("s1", lsn));
      tr.cr(delta("s1", lsn));
    }
    tr.wait_ms(10);
    tr.cw(push(1));  // left the client before the gap reached it
    return tr.has("RESYNC-2");
  };
  EXPECT_FALSE(run(true));
  EXPECT_TRUE(run(false));
}

TEST(RESYNC_2, AtATapTheDeadlineGetsTheTolerance) {
  conformance::CheckerOptions o;
  o.tap_tolerance_ns = 100 * kMs;
  Trace in_time(o);
  gap(in_time);
  in_time.wait_ms(250);  // 200 ms + up to 100 ms on the way there and back
  in_time.c(ResyncRequest{resync_reason::SequenceGap{2, 3}, 2, ""});
  in_time.checker.finish(in_time.t + 60'000 * kMs);
  EXPECT_FALSE(in_time.has("RESYNC-2")) << in_time.all();

  Trace late(o);
  gap(late);
  late.wait_ms(350);
  late.c(ResyncRequest{resync_reason::SequenceGap{2, 3}, 2, ""});
  EXPECT_EQ(count(late, "RESYNC-2", Sender::Client), 1u) << late.all();
}

// ---- RESYNC-8: fresh snapshots in increasing shape_id order ----

void two_shapes(Trace& tr) {
  tr.c(hs());
  tr.s(ok_ack());
  tr.c(subscribe("b"));
  tr.s(ShapeSnapshot{"b", Bytes{0x90}, 0, 0});
  tr.c(subscribe("a"));
  tr.s(ShapeSnapshot{"a", Bytes{0x90}, 0, 0});
  tr.c(ResyncRequest{resync_reason::CorruptedState{}, 0, ""});
}

TEST(RESYNC_8, FreshSnapshotsOutOfShapeIdOrderBreakIt) {
  Trace tr;
  two_shapes(tr);
  tr.s(ShapeSnapshot{"b", Bytes{0x90}, 4, 0});
  tr.s(ShapeSnapshot{"a", Bytes{0x90}, 4, 0});
  EXPECT_EQ(count(tr, "RESYNC-8", Sender::Server), 1u) << tr.all();
}

TEST(RESYNC_8, FreshSnapshotsInShapeIdOrderKeepIt) {
  Trace tr;
  two_shapes(tr);
  tr.s(ShapeSnapshot{"a", Bytes{0x90}, 4, 0});
  tr.s(ShapeSnapshot{"b", Bytes{0x90}, 4, 0});
  tr.checker.finish(tr.t + 60'000 * kMs);
  EXPECT_FALSE(tr.has("RESYNC-8")) << tr.all();
}

// ---- THROTTLE-5: snapshots and refresh answers are not paced ----

TEST(THROTTLE_5, ASnapshotOrRefreshAnswerHeldBackWhileThrottledBreaksIt) {
  Trace tr;
  open(tr);
  tr.c(Throttle{true, 1000, 10});
  tr.c(subscribe("s1"));
  tr.c(TokenRefresh{""});
  tr.wait_ms(2000);
  tr.s(ShapeSnapshot{"s1", Bytes{0x90}, 0, 0});
  tr.s(TokenRefreshAck{true, std::nullopt, 3600});
  EXPECT_EQ(count(tr, "THROTTLE-5", Sender::Server), 2u) << tr.all();
}

TEST(THROTTLE_5, PromptAnswersOrSlowOnesUnthrottledKeepIt) {
  Trace tr;
  open(tr);
  tr.c(subscribe("s1"));
  tr.wait_ms(2000);  // slow, but nothing throttles the session
  tr.s(ShapeSnapshot{"s1", Bytes{0x90}, 0, 0});
  tr.c(Throttle{true, 1000, 10});
  tr.c(subscribe("s2"));
  tr.c(TokenRefresh{""});
  tr.wait_ms(100);
  tr.s(ShapeSnapshot{"s2", Bytes{0x90}, 0, 0});
  tr.s(TokenRefreshAck{true, std::nullopt, 3600});
  EXPECT_FALSE(tr.has("THROTTLE-5")) << tr.all();
}

// ---- PURGE-5: purges announced before a handshake are replayed after it ----

void purged_then_reconnect(Trace& tr) {
  open(tr, 1);
  tr.s(CollectionPurged{0, "items", 3}, 1);
  tr.s(CollectionPurged{0, "orders", 5}, 1);
  tr.on_close_both(1);
  open(tr, 2);
}

TEST(PURGE_5, AHandshakeNeverToldOfEarlierPurgesBreaksIt) {
  Trace tr;
  purged_then_reconnect(tr);
  tr.s(CollectionPurged{0, "items", 3}, 2);  // "orders" is never replayed
  tr.checker.finish(tr.t + 60'000 * kMs);
  EXPECT_EQ(count(tr, "PURGE-5", Sender::Server), 1u) << tr.all();
}

TEST(PURGE_5, ReplaysOutOfPurgeLsnOrderBreakIt) {
  Trace tr;
  purged_then_reconnect(tr);
  tr.s(CollectionPurged{0, "orders", 5}, 2);
  tr.s(CollectionPurged{0, "items", 3}, 2);
  EXPECT_EQ(count(tr, "PURGE-5", Sender::Server), 1u) << tr.all();
}

TEST(PURGE_5, EveryPurgeReplayedInOrderKeepsIt) {
  Trace tr;
  purged_then_reconnect(tr);
  tr.s(CollectionPurged{0, "items", 3}, 2);
  tr.s(CollectionPurged{0, "orders", 5}, 2);
  Handshake other = hs(token(4'000'000'000, 7));  // another tenant: nothing owed
  tr.c(other, 3);
  tr.s(ok_ack("sync-a:3"), 3);
  tr.checker.finish(tr.t + 60'000 * kMs);
  EXPECT_FALSE(tr.has("PURGE-5")) << tr.all();
}

}  // namespace
}  // namespace syncsim::test
