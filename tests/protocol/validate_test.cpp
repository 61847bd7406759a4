// Per-frame value constraints. Each rule: a conforming message raises
// nothing, a message that breaks the rule raises it at the right level.
#include "protocol/validate.hpp"

#include <gtest/gtest.h>

#include "protocol/crc32c.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;

Findings check(const Message& m, Sender s = Sender::Unknown) { return validate(m, s); }

HandshakeAck good_ack() {
  HandshakeAck a;
  a.success = true;
  a.session_id = "sync-10.0.0.2:40000-1";
  a.server_wire_version = 4;
  return a;
}

DeltaPush good_push() {
  DeltaPush p;
  p.collection = "orders";
  p.document_id = "o1";
  p.delta = {1, 2, 3};
  p.peer_id = 42;
  p.mutation_id = 7;
  p.checksum = 0xf130f21e;
  return p;
}

TEST(FRAME_11, WrongDirectionIsReported) {
  EXPECT_TRUE(check(DeltaAck{}, Sender::Server).empty());
  EXPECT_TRUE(has_must_rule(check(DeltaAck{}, Sender::Client), "FRAME-11"));
  EXPECT_TRUE(has_must_rule(check(Handshake{.wire_version = 1}, Sender::Server), "FRAME-11"));
  EXPECT_TRUE(check(good_push(), Sender::Server).empty());  // DeltaPush goes both ways (§5.3.6)
}

TEST(THROTTLE_1, OnlyClientsSendThrottle) {
  EXPECT_TRUE(check(Throttle{}, Sender::Client).empty());
  EXPECT_TRUE(has_must_rule(check(Throttle{}, Sender::Server), "THROTTLE-1"));
}

TEST(PRES_9, PresenceDirectionsAreFixed) {
  EXPECT_TRUE(has_must_rule(check(PresenceUpdate{}, Sender::Server), "PRES-9"));
  EXPECT_TRUE(has_must_rule(check(PresenceBroadcast{}, Sender::Client), "PRES-9"));
  EXPECT_TRUE(has_must_rule(check(PresenceLeave{}, Sender::Client), "PRES-9"));
}

TEST(HS_3, ZeroWireVersionIsShould) {
  EXPECT_TRUE(check(Handshake{.wire_version = 1}).empty());
  EXPECT_TRUE(has_rule(check(Handshake{}), "HS-3", Level::Should));
}

TEST(HS_5, ServerWireVersionIsFour) {
  EXPECT_TRUE(check(good_ack()).empty());
  auto a = good_ack();
  a.server_wire_version = 3;
  EXPECT_TRUE(has_must_rule(check(a), "HS-5"));
}

TEST(HS_7, SuccessfulAckHasNoErrorAndNoFork) {
  auto a = good_ack();
  a.error = "x";
  EXPECT_TRUE(has_must_rule(check(a), "HS-7"));
  a = good_ack();
  a.fork_detected = true;
  EXPECT_TRUE(has_must_rule(check(a), "HS-7"));
}

TEST(HS_8, FailedAckHasErrorText) {
  auto a = good_ack();
  a.success = false;
  EXPECT_TRUE(has_must_rule(check(a), "HS-8"));
  a.error = "";
  EXPECT_TRUE(has_must_rule(check(a), "HS-8"));
  a.error = "JWT token expired";
  EXPECT_TRUE(check(a).empty());
}

TEST(SESSION_1, SessionIdIsNonEmpty) {
  auto a = good_ack();
  a.session_id.clear();
  EXPECT_TRUE(has_must_rule(check(a), "SESSION-1"));
}

TEST(DELTA_1, MutationIdAtLeastOneAndDeltaNonEmpty) {
  EXPECT_TRUE(check(good_push()).empty());
  auto p = good_push();
  p.mutation_id = 0;
  EXPECT_TRUE(has_must_rule(check(p), "DELTA-1"));
  p = good_push();
  p.delta.clear();
  p.checksum = 0;
  EXPECT_TRUE(has_must_rule(check(p), "DELTA-1"));
}

TEST(DELTA_2, ChecksumMustMatchAndZeroIsLegacy) {
  auto p = good_push();
  p.checksum = 0xdead;
  const auto f = check(p);
  ASSERT_TRUE(has_must_rule(f, "DELTA-2"));
  EXPECT_EQ(f[0].message, "CRC32C mismatch: expected 0x0000dead, computed 0xf130f21e");
  p.checksum = 0;
  EXPECT_TRUE(has_rule(check(p), "DELTA-2", Level::Should));
  EXPECT_FALSE(has_must_rule(check(p), "DELTA-2"));
}

TEST(DELTA_10, FixedReasonsGoWithTheirHints) {
  using namespace compensation;
  auto reject = [](std::string reason, std::optional<CompensationHint> hint) {
    return DeltaReject{
        .mutation_id = 1, .reason = std::move(reason), .compensation = std::move(hint)};
  };
  EXPECT_TRUE(check(reject("not authenticated", PermissionDenied{})).empty());
  EXPECT_TRUE(check(reject("token expired", PermissionDenied{})).empty());
  EXPECT_TRUE(check(reject("empty delta", std::nullopt)).empty());
  EXPECT_TRUE(check(reject(crc_mismatch_reason(0xdead, 0xf130f21e), IntegrityViolation{})).empty());
  EXPECT_TRUE(check(reject("collection purged", Custom{"collection_purged", "orders"})).empty());
  EXPECT_TRUE(check(reject("disk full", std::nullopt)).empty());  // free text

  EXPECT_TRUE(has_must_rule(check(reject("", std::nullopt)), "DELTA-10"));
  EXPECT_TRUE(has_must_rule(check(reject("not authenticated", std::nullopt)), "DELTA-10"));
  EXPECT_TRUE(
      has_must_rule(check(reject("identity not established", IntegrityViolation{})), "DELTA-10"));
  EXPECT_TRUE(has_must_rule(check(reject("empty delta", PermissionDenied{})), "DELTA-10"));
  EXPECT_TRUE(has_must_rule(
      check(reject("CRC32C mismatch: expected 0xdead, computed 0xf130f21e", IntegrityViolation{})),
      "DELTA-10"));
  EXPECT_TRUE(
      has_must_rule(check(reject(crc_mismatch_reason(1, 2), PermissionDenied{})), "DELTA-10"));
  EXPECT_TRUE(
      has_must_rule(check(reject("collection purged", Custom{"quota", "orders"})), "DELTA-10"));
}

TEST(DELTA_15, SkewWarningOnlyBeyond24Hours) {
  EXPECT_TRUE(check(DeltaAck{.clock_skew_warning_ms = 86'400'001}).empty());
  EXPECT_TRUE(check(DeltaAck{.clock_skew_warning_ms = -86'400'001}).empty());
  EXPECT_TRUE(
      has_rule(check(DeltaAck{.clock_skew_warning_ms = 86'400'000}), "DELTA-15", Level::Should));
  EXPECT_TRUE(has_rule(check(DeltaAck{.clock_skew_warning_ms = 0}), "DELTA-15", Level::Should));
}

TEST(SHAPE_1, ShapeIdIsNonEmpty) {
  ShapeSubscribe s;
  EXPECT_TRUE(has_must_rule(check(s), "SHAPE-1"));
  s.shape.shape_id = "s1";
  EXPECT_TRUE(check(s).empty());
}

TEST(SHAPE_7, OperationIsInsertUpdateOrDelete) {
  for (const char* op : {"INSERT", "UPDATE", "DELETE"}) {
    EXPECT_TRUE(check(ShapeDelta{.operation = op}).empty()) << op;
  }
  EXPECT_TRUE(has_must_rule(check(ShapeDelta{.operation = "insert"}), "SHAPE-7"));
  EXPECT_TRUE(has_must_rule(check(ShapeDelta{.operation = "UPSERT"}), "SHAPE-7"));
}

TEST(TS_4, AckLsnZeroIffNothingAccepted) {
  EXPECT_TRUE(check(TimeseriesAck{.accepted = 0, .rejected = 3, .lsn = 0}).empty());
  EXPECT_TRUE(check(TimeseriesAck{.accepted = 3, .lsn = 9}).empty());
  EXPECT_TRUE(has_must_rule(check(TimeseriesAck{.accepted = 0, .lsn = 9}), "TS-4"));
  EXPECT_TRUE(has_must_rule(check(TimeseriesAck{.accepted = 3, .lsn = 0}), "TS-4"));
}

TEST(RESYNC_2, SequenceGapFieldsAgree) {
  using resync_reason::SequenceGap;
  EXPECT_TRUE(check(ResyncRequest{SequenceGap{2, 5}, 2, ""}).empty());
  EXPECT_TRUE(has_must_rule(check(ResyncRequest{SequenceGap{2, 5}, 3, ""}), "RESYNC-2"));
  EXPECT_TRUE(has_must_rule(check(ResyncRequest{SequenceGap{5, 5}, 5, ""}), "RESYNC-2"));
  EXPECT_TRUE(has_must_rule(check(ResyncRequest{SequenceGap{2, 5}, 2, "orders"}), "RESYNC-2"));
}

TEST(RESYNC_5, CorruptedStateStartsFromZero) {
  using resync_reason::CorruptedState;
  EXPECT_TRUE(check(ResyncRequest{CorruptedState{}, 0, ""}).empty());
  EXPECT_TRUE(has_rule(check(ResyncRequest{CorruptedState{}, 4, ""}), "RESYNC-5", Level::Should));
}

TEST(RESYNC_6, ChecksumMismatchStartsAtTheBadMutation) {
  using resync_reason::ChecksumMismatch;
  EXPECT_TRUE(check(ResyncRequest{ChecksumMismatch{9}, 9, "orders"}).empty());
  EXPECT_TRUE(
      has_rule(check(ResyncRequest{ChecksumMismatch{9}, 8, "orders"}), "RESYNC-6", Level::Should));
}

TEST(THROTTLE_2, ReleaseHasRateZero) {
  EXPECT_TRUE(check(Throttle{.throttle = true, .queue_depth = 9, .suggested_rate = 5}).empty());
  EXPECT_TRUE(check(Throttle{.throttle = false, .queue_depth = 1, .suggested_rate = 0}).empty());
  EXPECT_TRUE(has_rule(check(Throttle{.throttle = false, .suggested_rate = 5}), "THROTTLE-2",
                       Level::Should));
}

TEST(TOKEN_2, AckFieldsAgreeWithSuccess) {
  EXPECT_TRUE(check(TokenRefreshAck{.success = true, .error = std::nullopt, .expires_in_secs = 60})
                  .empty());
  EXPECT_TRUE(check(TokenRefreshAck{.success = false, .error = "empty token", .expires_in_secs = 0})
                  .empty());
  EXPECT_TRUE(has_must_rule(check(TokenRefreshAck{.success = true, .error = "x"}), "TOKEN-2"));
  EXPECT_TRUE(has_must_rule(check(TokenRefreshAck{.success = false}), "TOKEN-2"));
  EXPECT_TRUE(has_must_rule(
      check(TokenRefreshAck{.success = false, .error = "x", .expires_in_secs = 5}), "TOKEN-2"));
}

TEST(DEF_1, DefinitionValues) {
  auto json = [](std::string s) { return Bytes(s.begin(), s.end()); };
  EXPECT_TRUE(check(DefinitionSync{"function", "f", "put", json(R"({"body":"x"})")}).empty());
  EXPECT_TRUE(check(DefinitionSync{"trigger", "t", "delete", {}}).empty());
  EXPECT_TRUE(has_must_rule(check(DefinitionSync{"view", "f", "put", json("{}")}), "DEF-1"));
  EXPECT_TRUE(has_must_rule(check(DefinitionSync{"function", "", "put", json("{}")}), "DEF-1"));
  EXPECT_TRUE(has_must_rule(check(DefinitionSync{"function", "f", "upsert", json("{}")}), "DEF-1"));
  EXPECT_TRUE(has_must_rule(check(DefinitionSync{"function", "f", "put", json("[1]")}), "DEF-1"));
  EXPECT_TRUE(has_must_rule(check(DefinitionSync{"function", "f", "put", json("{bad")}), "DEF-1"));
  EXPECT_TRUE(has_rule(check(DefinitionSync{"procedure", "p", "delete", json("{}")}), "DEF-1",
                       Level::Should));
  // A client's DefinitionSync goes the wrong way: FRAME-11, which blames the
  // sender, not DEF-1, which binds (and would blame) the server.
  EXPECT_TRUE(has_must_rule(
      check(DefinitionSync{"function", "f", "put", json("{}")}, Sender::Client), "FRAME-11"));
  EXPECT_FALSE(has_rule(check(DefinitionSync{"view", "", "upsert", json("[")}, Sender::Client),
                        "DEF-1", Level::Must));
}

}  // namespace
}  // namespace syncsim::test
