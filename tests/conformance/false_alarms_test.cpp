// False alarms reported against the checker (issue 15) and checks it made too
// weakly: each trace is correct behaviour the checker must accept, or a
// break it must catch, and names the side to blame.
#include <gtest/gtest.h>

#include "protocol/validate.hpp"
#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using namespace checker_trace;

void open(Trace& tr, std::string jwt = "", std::uint64_t conn = 1) {
  tr.c(hs(std::move(jwt)), conn);
  tr.s(ok_ack("sync-a:" + std::to_string(conn)), conn);
}

std::size_t blamed_on(const Trace& tr, Sender side) {
  std::size_t n = 0;
  for (const auto& f : tr.checker.findings()) n += f.blamed == side;
  return n;
}

DeltaPush server_push(std::uint64_t mid, Bytes delta, std::uint32_t checksum) {
  DeltaPush p;
  p.collection = "orders";
  p.document_id = "d";
  p.delta = std::move(delta);
  p.mutation_id = mid;
  p.checksum = checksum;
  return p;
}

// ---- DELTA-17: a server's DeltaPush is judged by the server's rules -------

TEST(DELTA_17, ServerDeltaPushesAsOriginSendsThemAreNotBlamedOnTheClient) {
  Trace tr;
  open(tr);
  tr.s(server_push(1, {0x81, 0xa1, 0x61, 0x01}, 0));  // a row, checksum 0
  tr.s(server_push(0, {0x01}, 0));                    // catalog-driven: mutation_id 0
  tr.s(server_push(2, {}, 0));                        // a delete: empty delta
  const Bytes row = {1, 2, 3};
  tr.s(server_push(3, row, crc32c(row)));
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

TEST(DELTA_17, AServerChecksumThatIsNeitherZeroNorTheCrcIsTheServers) {
  Trace tr;
  open(tr);
  tr.s(server_push(1, {1, 2, 3}, 0xdead));
  EXPECT_TRUE(tr.has("DELTA-17")) << tr.all();
  EXPECT_EQ(blamed_on(tr, Sender::Client), 0u) << tr.all();
}

// ---- DELTA-4: step 2 (empty delta) decides before step 3 (checksum) ---------

DeltaReject reject(std::uint64_t mid, std::string reason) {  // with the hint of §5.3.3
  DeltaReject r;
  r.mutation_id = mid;
  if (reason.starts_with("CRC32C")) r.compensation = compensation::IntegrityViolation{};
  if (reason == "token expired" || reason == "identity not established")
    r.compensation = compensation::PermissionDenied{};
  r.reason = std::move(reason);
  return r;
}

TEST(DELTA_4, AnEmptyDeltaWithAChecksumRejectedAsEmptyIsRight) {
  Trace tr;
  open(tr);
  DeltaPush p = push(1);
  p.delta = {};
  p.checksum = 0x1234;
  tr.c(p);                         // the client breaks DELTA-1/DELTA-2 ...
  tr.s(reject(1, "empty delta"));  // ... and the server answers by step 2
  EXPECT_FALSE(tr.has("DELTA-4")) << tr.all();
  EXPECT_EQ(blamed_on(tr, Sender::Server), 0u) << tr.all();
}

TEST(DELTA_4, TheRejectNamesThePushsChecksumAndTheCrcOfItsDelta) {
  DeltaPush p = push(1);
  p.checksum = 0xdead;
  const std::uint32_t crc = crc32c(p.delta);
  Trace right;
  open(right);
  right.c(p);
  right.s(reject(1, crc_mismatch_reason(0xdead, crc)));
  EXPECT_FALSE(right.has("DELTA-4")) << right.all();

  Trace wrong_crc;  // computed over other bytes
  open(wrong_crc);
  wrong_crc.c(p);
  wrong_crc.s(reject(1, crc_mismatch_reason(0xdead, crc ^ 1)));
  EXPECT_TRUE(wrong_crc.has("DELTA-4")) << wrong_crc.all();

  Trace wrong_expected;
  open(wrong_expected);
  wrong_expected.c(p);
  wrong_expected.s(reject(1, crc_mismatch_reason(0xbeef, crc)));
  EXPECT_TRUE(wrong_expected.has("DELTA-4")) << wrong_expected.all();

  Trace good_push;  // a correct checksum rejected as a mismatch
  open(good_push);
  good_push.c(push(1));
  good_push.s(reject(1, crc_mismatch_reason(crc, crc ^ 1)));
  EXPECT_TRUE(good_push.has("DELTA-4")) << good_push.all();
}

// ---- TOKEN-1: a TokenRefresh before the handshake is ignored (SESSION-6) ----

TokenRefresh refresh(std::string jwt) {
  TokenRefresh r;
  r.new_token = std::move(jwt);
  return r;
}

TEST(TOKEN_1, ARefreshBeforeTheHandshakeIsOwedNothing) {
  Trace tr;
  tr.c(refresh(token(100)));  // the client breaks TOKEN-4 / HS-1
  open(tr);
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_FALSE(tr.has("TOKEN-1")) << tr.all();
  EXPECT_EQ(blamed_on(tr, Sender::Server), 0u) << tr.all();
}

TEST(TOKEN_1, AnIgnoredEarlyRefreshDoesNotTakeTheAnswerOfALaterOne) {
  conformance::CheckerOptions o;
  o.server_unix_epoch_ms = 1'000'000;  // the server's clock: 1000 s at t = 0
  Trace tr(o);
  tr.c(refresh(token(100)));   // long expired, ignored before the handshake
  open(tr, token(2000));       // valid
  tr.c(refresh(token(5000)));  // valid, answered
  tr.s(TokenRefreshAck{true, std::nullopt, 4000});
  tr.wait_ms(1500 * 1000);  // server time 2500 s: the handshake's token would have expired
  tr.c(push(1));
  tr.s(DeltaAck{1, 1, std::nullopt});
  EXPECT_FALSE(tr.has("TOKEN-9")) << tr.all();
  EXPECT_FALSE(tr.has("TOKEN-1")) << tr.all();
}

TEST(TOKEN_1, ARefreshStillOwesItsAnswerAfterTheHandshake) {
  Trace tr;
  open(tr);
  tr.c(refresh(token(0)));
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_TRUE(tr.has("TOKEN-1")) << tr.all();
}

TEST(TOKEN_1, ARefreshToAnotherTenantMustFail) {
  Trace other;
  open(other, token(0, 7));
  other.c(refresh(token(0, 8)));
  other.s(TokenRefreshAck{true, std::nullopt, 0});
  EXPECT_TRUE(other.has("TOKEN-1")) << other.all();
  Trace refused;
  open(refused, token(0, 7));
  refused.c(refresh(token(0, 8)));
  refused.s(TokenRefreshAck{false, "tenant mismatch", 0});
  Trace same;
  open(same, token(0, 7));
  same.c(refresh(token(0, 7)));
  same.s(TokenRefreshAck{true, std::nullopt, 3600});  // no exp: 3600 (TOKEN-3)
  EXPECT_TRUE(refused.checker.findings().empty()) << refused.all();
  EXPECT_TRUE(same.checker.findings().empty()) << same.all();
}

// ---- TOKEN-9 without the server's clock: from the trace's own facts -------

TEST(TOKEN_9, ATokenWithoutExpiryNeverExpires) {
  Trace tr;  // trust mode: an empty token
  open(tr);
  tr.c(push(1));
  tr.s(reject(1, "token expired"));
  EXPECT_TRUE(tr.has("TOKEN-9")) << tr.all();
}

TEST(TOKEN_9, AnExpiryLastsUntilASuccessfulRefresh) {
  Trace resumed;
  open(resumed, token(100));
  resumed.c(push(1));
  resumed.s(reject(1, "token expired"));
  resumed.c(push(2));
  resumed.s(DeltaAck{2, 1, std::nullopt});
  EXPECT_TRUE(resumed.has("TOKEN-9")) << resumed.all();

  Trace refreshed;
  open(refreshed, token(100));
  refreshed.c(push(1));
  refreshed.s(reject(1, "token expired"));
  refreshed.c(refresh(token(0)));
  refreshed.s(TokenRefreshAck{true, std::nullopt, 3600});  // no exp: 3600 (TOKEN-3)
  refreshed.c(push(2));
  refreshed.s(DeltaAck{2, 1, std::nullopt});
  EXPECT_TRUE(refreshed.checker.findings().empty()) << refreshed.all();
}

// ---- PURGE-1: collections the session's accepted pushes touched -------------

TEST(PURGE_1, ARejectedPushDoesNotMakeTheSessionOwedANotice) {
  Trace tr;
  open(tr);
  tr.c(push(1));
  tr.s(reject(1, "identity not established"));
  tr.checker.on_purge(0, "orders", tr.t);
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_FALSE(tr.has("PURGE-1")) << tr.all();
}

TEST(PURGE_1, AnAcceptedPushDoes) {
  Trace tr;
  open(tr);
  tr.c(push(1));
  tr.s(DeltaAck{1, 1, std::nullopt});
  tr.checker.on_purge(0, "orders", tr.t);
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_TRUE(tr.has("PURGE-1")) << tr.all();
}

TEST(PURGE_1, NeverToASessionOfAnotherTenant) {
  Trace tr;
  open(tr, token(0, 7));
  tr.s(CollectionPurged{8, "orders", 3});
  EXPECT_TRUE(tr.has("PURGE-1")) << tr.all();
  Trace own;
  open(own, token(0, 7));
  own.s(CollectionPurged{7, "orders", 3});
  EXPECT_FALSE(own.has("PURGE-1")) << own.all();
}

// ---- RESYNC-4: t is the lsn of the last ShapeDelta received (RESYNC-1) ------

TEST(RESYNC_4, AGapAfterALowerDeltaIsOneTheClientMayReport) {
  Trace tr;
  open(tr);
  tr.c(subscribe("s"));
  tr.s(delta("s", 5));
  tr.s(delta("s", 3));  // lower (the server breaks SHAPE-9): t = 3
  tr.s(delta("s", 5));  // 5 > 3 + 1: a gap
  ResyncRequest rq;
  rq.reason = resync_reason::SequenceGap{4, 5};
  rq.from_mutation_id = 4;
  tr.c(rq);
  EXPECT_FALSE(tr.has("RESYNC-4")) << tr.all();
  EXPECT_EQ(blamed_on(tr, Sender::Client), 0u) << tr.all();
}

TEST(RESYNC_4, AGapNoDeltaShowedIsStillFlagged) {
  Trace tr;
  open(tr);
  tr.c(subscribe("s"));
  tr.s(delta("s", 5));
  tr.s(delta("s", 6));
  ResyncRequest rq;
  rq.reason = resync_reason::SequenceGap{4, 5};
  rq.from_mutation_id = 4;
  tr.c(rq);
  EXPECT_TRUE(tr.has("RESYNC-4")) << tr.all();
}

// ---- HS-2: at a tap, a Pong answering a Ping read before the Handshake ------

TEST(HS_2, APongAnsweringAPingReadBeforeTheHandshakeMayComeFirst) {
  Trace tr;  // as a proxy sees it: both client frames pass before any answer
  tr.c(PingPong{1, false});
  tr.c(hs());
  tr.s(PingPong{1, true});
  tr.s(ok_ack());
  EXPECT_FALSE(tr.has("HS-2")) << tr.all();
  EXPECT_EQ(blamed_on(tr, Sender::Server), 0u) << tr.all();
}

TEST(HS_2, APongBeforeTheAckOfAnEarlierHandshakeIsStillFlagged) {
  Trace tr;
  tr.c(hs());
  tr.c(PingPong{1, false});
  tr.s(PingPong{1, true});
  tr.s(ok_ack());
  EXPECT_TRUE(tr.has("HS-2")) << tr.all();
}

}  // namespace
}  // namespace syncsim::test
