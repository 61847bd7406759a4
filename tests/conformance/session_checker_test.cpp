// The session checker on hand-made traces: a conforming exchange raises
// nothing, and each rule fires on a trace that breaks it.
#include "conformance/checker/session_checker.hpp"

#include <gtest/gtest.h>

#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using conformance::FrameRecord;
using conformance::SessionChecker;

struct Trace {
  SessionChecker checker;
  std::int64_t t = 0;
  void c(const Message& m, std::uint64_t conn = 1) {
    checker.on_frame(FrameRecord{t += 1000, conn, Sender::Client, encode_frame(m)});
  }
  void s(const Message& m, std::uint64_t conn = 1) {
    checker.on_frame(FrameRecord{t += 1000, conn, Sender::Server, encode_frame(m)});
  }
  bool has(std::string_view rule) const {
    for (const auto& f : checker.findings()) {
      if (f.finding.rule == rule) return true;
    }
    return false;
  }
  std::string all() const {
    std::string out;
    for (const auto& f : checker.findings()) out += "\n  " + conformance::format_check_finding(f);
    return out;
  }
};

Handshake hs() {
  Handshake h;
  h.wire_version = 1;
  return h;
}
HandshakeAck ok_ack(std::string id = "sync-a:1-1") {
  HandshakeAck a;
  a.success = true;
  a.session_id = std::move(id);
  a.server_wire_version = 4;
  return a;
}
DeltaPush push(std::uint64_t mid) {
  DeltaPush p;
  p.collection = "orders";
  p.document_id = "d";
  p.delta = {1};
  p.peer_id = 9;
  p.mutation_id = mid;
  p.checksum = crc32c(p.delta);
  return p;
}

TEST(Checker, AConformingExchangeRaisesNothing) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  tr.c(PingPong{5, false});
  tr.s(PingPong{5, true});
  tr.c(push(1));
  tr.c(push(2));
  tr.s(DeltaAck{1, 1, std::nullopt});
  tr.s(DeltaAck{2, 2, std::nullopt});
  tr.c(push(2));
  tr.s(DeltaAck{2, 0, std::nullopt});
  tr.checker.finish(tr.t + 60'000'000'000);
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

TEST(HS_1, FramesBeforeTheHandshakeAreFlagged) {
  Trace tr;
  tr.c(PingPong{1, false});
  EXPECT_TRUE(tr.has("HS-1"));
  Trace early;
  early.c(hs());
  early.c(push(1));  // before the ack
  EXPECT_TRUE(early.has("HS-1"));
}

TEST(HS_2, AckWithoutHandshakeAndServerFramesBeforeTheAck) {
  Trace tr;
  tr.s(ok_ack());
  EXPECT_TRUE(tr.has("HS-2"));
  Trace early;
  early.c(hs());
  early.s(CollectionPurged{0, "orders", 3});
  EXPECT_TRUE(early.has("HS-2"));
  Trace never;
  never.c(hs());
  never.checker.finish(never.t + 60'000'000'000);
  EXPECT_TRUE(never.has("HS-2"));
}

TEST(HS_13, NothingAfterAFailedAck) {
  Trace tr;
  tr.c(hs());
  HandshakeAck fail = ok_ack();
  fail.success = false;
  fail.error = "JWT token expired";
  tr.s(fail);
  tr.c(PingPong{1, false});
  EXPECT_TRUE(tr.has("HS-13")) << tr.all();
}

TEST(SESSION_1, IdsAreStablePerConnectionAndUniqueAmongOpenOnes) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack("a"));
  tr.c(hs());
  tr.s(ok_ack("b"));
  EXPECT_TRUE(tr.has("SESSION-1"));
  Trace dup;
  dup.c(hs(), 1);
  dup.s(ok_ack("same"), 1);
  dup.c(hs(), 2);
  dup.s(ok_ack("same"), 2);
  EXPECT_TRUE(dup.has("SESSION-1"));
  Trace reused;  // fine once the first connection closed
  reused.c(hs(), 1);
  reused.s(ok_ack("same"), 1);
  reused.checker.on_close(1, reused.t);
  reused.c(hs(), 2);
  reused.s(ok_ack("same"), 2);
  EXPECT_FALSE(reused.has("SESSION-1"));
}

TEST(SESSION_5, PushesBeforeTheHandshakeAreRejectedAsNotAuthenticated) {
  Trace tr;
  tr.c(hs());
  HandshakeAck fail = ok_ack();
  fail.success = false;
  fail.error = "x";
  tr.checker.on_frame(
      FrameRecord{1, 1, Sender::Client, encode_frame(push(1))});  // a hostile client
  tr.s(fail);
  tr.s(DeltaAck{1, 1, std::nullopt});
  EXPECT_TRUE(tr.has("SESSION-5")) << tr.all();
}

TEST(DELTA_6, AnAppliedDuplicateIsFlagged) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  tr.c(push(5));
  tr.s(DeltaAck{5, 1, std::nullopt});
  tr.c(push(5));
  tr.s(DeltaAck{5, 2, std::nullopt});
  EXPECT_TRUE(tr.has("DELTA-6")) << tr.all();
}

TEST(DELTA_8, LsnsOfACollectionMustIncrease) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  tr.c(push(1));
  tr.c(push(2));
  tr.s(DeltaAck{1, 4, std::nullopt});
  tr.s(DeltaAck{2, 4, std::nullopt});
  EXPECT_TRUE(tr.has("DELTA-8"));
}

TEST(DELTA_9, AnswersFollowPushOrder) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  tr.c(push(1));
  tr.c(push(2));
  tr.s(DeltaAck{2, 1, std::nullopt});  // push 1 was dropped silently: allowed
  EXPECT_FALSE(tr.has("DELTA-9"));
  tr.s(DeltaAck{1, 2, std::nullopt});  // but it cannot be answered now
  EXPECT_TRUE(tr.has("DELTA-9"));
  Trace stray;
  stray.c(hs());
  stray.s(ok_ack());
  stray.s(DeltaReject{7, "empty delta", std::nullopt});
  EXPECT_TRUE(stray.has("DELTA-9"));
}

TEST(PING_2, PongsEchoAndEveryPingIsAnswered) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  tr.c(PingPong{5, false});
  tr.s(PingPong{6, true});
  EXPECT_TRUE(tr.has("PING-2"));
  Trace silent;
  silent.c(hs());
  silent.s(ok_ack());
  silent.c(PingPong{5, false});
  silent.checker.finish(silent.t + 1'000'000'000);  // within the grace period
  EXPECT_FALSE(silent.has("PING-2"));
  silent.checker.finish(silent.t + 60'000'000'000);
  EXPECT_TRUE(silent.has("PING-2"));
}

TEST(SHAPE_2, EverySubscribeGetsASnapshot) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  ShapeSubscribe sub;
  sub.shape.shape_id = "s1";
  tr.c(sub);
  tr.checker.finish(tr.t + 60'000'000'000);
  EXPECT_TRUE(tr.has("SHAPE-2"));
}

TEST(SHAPE_9, DeltaLsnsStayAboveTheSnapshotAndIncrease) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  tr.s(ShapeSnapshot{"s1", Bytes{0x90}, 5, 0});
  tr.s(ShapeDelta{"s1", "orders", "d", "INSERT", {1}, 5});
  EXPECT_TRUE(tr.has("SHAPE-9"));
}

TEST(PURGE_4, NoDeltasOfAPurgedCollection) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  tr.s(CollectionPurged{0, "orders", 9});
  tr.s(ShapeDelta{"s1", "orders", "d", "INSERT", {1}, 10});
  EXPECT_TRUE(tr.has("PURGE-4"));
}

TEST(Checker, FrameRulesAreJudgedToo) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  HandshakeAck bad = ok_ack();
  bad.server_wire_version = 3;
  tr.c(hs());
  tr.s(bad);
  EXPECT_TRUE(tr.has("HS-5"));
  // A finding carries the frames before it.
  ASSERT_FALSE(tr.checker.findings().empty());
  EXPECT_FALSE(tr.checker.findings().back().context.empty());
}

}  // namespace
}  // namespace syncsim::test
