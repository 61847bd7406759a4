// The reference server's protocol logic, driven directly (no I/O): each test
// is named after the rule it proves and includes a case that breaks it when
// the matching named bug is switched on.
#include "reference/server_core.hpp"

#include <gtest/gtest.h>

#include "protocol/crc32c.hpp"
#include "protocol/json.hpp"
#include "protocol/validate.hpp"
#include "reference/gorilla.hpp"
#include "tests/support/core_clock.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using namespace reference;

// A server with helpers to open sessions, send frames and collect answers.
struct Harness {
  explicit Harness(ServerConfig cfg = {}) : core(std::move(cfg)) {}
  ServerCore core;
  std::int64_t now = 0;

  SessionHandle open(const std::string& peer = "10.0.0.2:40000") {
    return *core.open_session(peer, at(now));
  }
  std::vector<Message> send(SessionHandle s, const Message& m) {
    core.on_frame(s, m, at(now));
    return frames_for(s);
  }
  std::vector<Message> frames_for(SessionHandle s) {
    std::vector<Message> mine;
    for (auto& o : core.take_output()) {
      if (o.session == s)
        mine.push_back(std::move(o.message));
      else
        others.push_back(std::move(o));
    }
    return mine;
  }
  SessionHandle authed(const std::string& peer = "10.0.0.2:40000",
                       Handshake hs = trust_handshake()) {
    const auto s = open(peer);
    const auto r = send(s, hs);
    EXPECT_TRUE(std::get<HandshakeAck>(r.at(0)).success);
    return s;
  }
  static Handshake trust_handshake() {
    Handshake h;
    h.wire_version = 1;
    return h;
  }
  std::vector<ServerOutput> others;
};

DeltaPush push(std::uint64_t mid, std::string collection = "orders", std::string doc = "o1",
               Bytes delta = {1, 2, 3}) {
  DeltaPush p;
  p.collection = std::move(collection);
  p.document_id = std::move(doc);
  p.delta = std::move(delta);
  p.peer_id = 42;
  p.mutation_id = mid;
  p.checksum = crc32c(p.delta);
  return p;
}

// (Not "d" + std::to_string(k): GCC 12 raises a false -Wrestrict on it.)
std::string doc_id(std::uint64_t k) {
  std::string s = "d";
  s += std::to_string(k);
  return s;
}

ShapeSubscribe subscribe(std::string id, std::string collection) {
  ShapeSubscribe s;
  s.shape.shape_id = std::move(id);
  s.shape.shape_type = shape_type::Document{std::move(collection), {}};
  return s;
}

// The single frame of an answer, by value (the vector is usually a temporary).
template <class T>
T only(const std::vector<Message>& frames) {
  EXPECT_EQ(frames.size(), 1u);
  EXPECT_TRUE(!frames.empty() && std::holds_alternative<T>(frames[0]));
  return frames.empty() || !std::holds_alternative<T>(frames[0]) ? T{} : std::get<T>(frames[0]);
}

TEST(SESSION_1, SessionIdsFollowOriginsFormAndStayFixed) {
  Harness h;
  const auto a = h.open("10.0.0.2:40000");
  const auto b = h.open("10.0.0.3:40001");
  EXPECT_EQ(*h.core.wire_session_id(a), "sync-10.0.0.2:40000-1");
  EXPECT_EQ(*h.core.wire_session_id(b), "sync-10.0.0.3:40001-2");
  Handshake bad = Harness::trust_handshake();
  bad.wire_version = 9;
  EXPECT_EQ(only<HandshakeAck>(h.send(a, bad)).session_id, "sync-10.0.0.2:40000-1");
  EXPECT_EQ(only<HandshakeAck>(h.send(a, Harness::trust_handshake())).session_id,
            "sync-10.0.0.2:40000-1");
}

TEST(SESSION_2, ConnectionsBeyondTheLimitAreRefused) {
  ServerConfig cfg;
  cfg.max_sessions = 2;
  Harness h(cfg);
  h.open();
  const auto b = h.open();
  EXPECT_FALSE(h.core.open_session("x:1", at(0)));
  h.core.close_session(b, at(0));
  EXPECT_TRUE(h.core.open_session("x:1", at(0)));
}

TEST(HS_4, NewerWireVersionFailsBeforeTheToken) {
  Harness h;
  const auto s = h.open();
  Handshake hs;
  hs.wire_version = 5;
  hs.jwt_token = "garbage";
  const auto& ack = only<HandshakeAck>(h.send(s, hs));
  EXPECT_FALSE(ack.success);
  EXPECT_EQ(ack.error, incompatible_version_error(5));
  EXPECT_EQ(ack.server_wire_version, 4);  // HS-5
  EXPECT_EQ(only<DeltaReject>(h.send(s, push(1))).reason, "not authenticated");
}

TEST(HS_7, TrustModeHandshakeSucceedsWithAConformingAck) {
  Harness h;
  const auto s = h.open();
  const auto frames = h.send(s, Harness::trust_handshake());
  const auto& ack = only<HandshakeAck>(frames);
  EXPECT_TRUE(ack.success);
  EXPECT_EQ(ack.error, std::nullopt);
  EXPECT_FALSE(ack.fork_detected);
  EXPECT_TRUE(validate(frames[0], Sender::Server).empty());
}

TEST(HS_8, JwtFailureAnswersTheAppendixCTextWithAnEmptyClock) {
  ServerConfig cfg;
  cfg.trust_mode = false;
  Harness h(cfg);
  const auto s = h.open();
  const auto& ack = only<HandshakeAck>(h.send(s, Harness::trust_handshake()));
  EXPECT_EQ(ack.error, "malformed JWT token");
  EXPECT_TRUE(ack.server_clock.empty());
  Handshake hs = Harness::trust_handshake();
  hs.jwt_token = "a.b.c";
  EXPECT_EQ(only<HandshakeAck>(h.send(s, hs)).error, "JWT base64 decoding error");
}

TEST(AUTH_4, JwtIdentityGivesTheTenant) {
  ServerConfig cfg;
  cfg.jwt.hs256_secret = "k";
  Harness h(cfg);
  JwtClaims c;
  c.sub = "alice";
  c.tenant_id = 7;
  Handshake hs = Harness::trust_handshake();
  hs.jwt_token = mint_hs256(c, "k");
  const auto s = h.authed("a:1", hs);
  h.send(s, push(1));
  EXPECT_TRUE(h.core.collections().count({7, "orders"}));
}

TEST(HS_9, ReusedEpochIsAForkAndLeavesTheSessionUnauthenticated) {
  Harness h;
  Handshake hs = Harness::trust_handshake();
  hs.lite_id = "lite-1";
  hs.epoch = 3;
  h.authed("a:1", hs);
  const auto s2 = h.open("a:2");
  const auto& ack = only<HandshakeAck>(h.send(s2, hs));
  EXPECT_FALSE(ack.success);
  EXPECT_TRUE(ack.fork_detected);
  EXPECT_EQ(ack.error, "FORK_DETECTED: regenerate LiteId and reconnect");
  EXPECT_EQ(only<DeltaReject>(h.send(s2, push(1))).reason, "not authenticated");  // HS-10
  hs.epoch = 4;
  EXPECT_TRUE(only<HandshakeAck>(h.send(s2, hs)).success);
}

TEST(HS_10, BugForkStaysAuthenticatedIsVisible) {
  ServerConfig cfg;
  cfg.bugs.insert(ServerBug::ForkStaysAuthenticated);
  Harness h(cfg);
  Handshake hs = Harness::trust_handshake();
  hs.lite_id = "lite-1";
  hs.epoch = 3;
  h.authed("a:1", hs);
  const auto s2 = h.open("a:2");
  h.send(s2, hs);
  EXPECT_TRUE(std::holds_alternative<DeltaAck>(h.send(s2, push(1)).at(0)));
}

TEST(SESSION_5, BeforeTheHandshakeNothingIsApplied) {
  Harness h;
  const auto s = h.open();
  const auto& r = only<DeltaReject>(h.send(s, push(5)));
  EXPECT_EQ(r.reason, "not authenticated");
  EXPECT_TRUE(std::holds_alternative<compensation::PermissionDenied>(*r.compensation));
  TimeseriesPush ts;
  ts.collection = "m";
  ts.sample_count = 3;
  const auto& ack = only<TimeseriesAck>(h.send(s, ts));
  EXPECT_EQ(ack.accepted, 0u);
  EXPECT_EQ(ack.rejected, 3u);
  EXPECT_TRUE(h.send(s, PresenceUpdate{"c", {1}}).empty());
  EXPECT_TRUE(h.core.collections().empty());
}

TEST(SESSION_6, BeforeTheHandshakeOnlyPingIsAnswered) {
  Harness h;
  const auto s = h.open();
  EXPECT_TRUE(h.send(s, subscribe("s1", "orders")).empty());
  EXPECT_TRUE(h.send(s, VectorClockSync{{{"a", 1}}, 0}).empty());
  EXPECT_TRUE(h.send(s, TokenRefresh{"x"}).empty());
  EXPECT_EQ(only<PingPong>(h.send(s, PingPong{77, false})).timestamp_ms, 77u);  // PING-2
}

TEST(PING_3, PongDrawsNoAnswer) {
  Harness h;
  const auto s = h.authed();
  EXPECT_TRUE(h.send(s, PingPong{1, true}).empty());
  const auto& pong = only<PingPong>(h.send(s, PingPong{123456, false}));
  EXPECT_TRUE(pong.is_pong);
  EXPECT_EQ(pong.timestamp_ms, 123456u);
}

TEST(FRAME_11, ServerOnlyFramesAreIgnored) {
  Harness h;
  const auto s = h.authed();
  EXPECT_TRUE(h.send(s, DeltaAck{1, 1, std::nullopt}).empty());
  EXPECT_TRUE(h.send(s, HandshakeAck{}).empty());
  EXPECT_TRUE(h.send(s, PresenceBroadcast{}).empty());
}

TEST(DELTA_3, ChecksRunInOrder) {
  Harness h;
  const auto s = h.authed();
  auto p = push(1);
  p.delta.clear();
  p.checksum = 0xdead;  // empty delta is decided before the checksum
  const auto& r = only<DeltaReject>(h.send(s, p));
  EXPECT_EQ(r.reason, "empty delta");  // DELTA-5
  EXPECT_EQ(r.compensation, std::nullopt);
  p = push(2);
  p.checksum = 0xdead;
  const auto& bad = only<DeltaReject>(h.send(s, p));
  EXPECT_EQ(bad.reason, "CRC32C mismatch: expected 0x0000dead, computed 0xf130f21e");  // DELTA-4
  EXPECT_TRUE(validate(Message{bad}, Sender::Server).empty());  // DELTA-10 form
  p.checksum = 0;                                               // 0: not checked
  EXPECT_EQ(only<DeltaAck>(h.send(s, p)).lsn, 1u);
}

TEST(DELTA_4, BugSkipCrcCheckAcceptsACorruptDelta) {
  ServerConfig cfg;
  cfg.bugs.insert(ServerBug::SkipCrcCheck);
  Harness h(cfg);
  const auto s = h.authed();
  auto p = push(1);
  p.checksum = 0xdead;
  EXPECT_TRUE(std::holds_alternative<DeltaAck>(h.send(s, p).at(0)));
}

TEST(DELTA_6, DuplicatesAreAckedWithLsnZeroAndNotReapplied) {
  Harness h;
  const auto s = h.authed();
  EXPECT_EQ(only<DeltaAck>(h.send(s, push(5))).lsn, 1u);
  EXPECT_EQ(only<DeltaAck>(h.send(s, push(5))).lsn, 0u);
  EXPECT_EQ(only<DeltaAck>(h.send(s, push(3))).lsn, 0u);
  EXPECT_EQ(h.core.collections().at({0, "orders"}).lsn, 1u);
  // A new connection starts with an empty table.
  const auto s2 = h.authed("b:1");
  EXPECT_EQ(only<DeltaAck>(h.send(s2, push(5))).lsn, 2u);
}

TEST(DELTA_6, BugSkipDedupReappliesDuplicates) {
  ServerConfig cfg;
  cfg.bugs.insert(ServerBug::SkipDedup);
  Harness h(cfg);
  const auto s = h.authed();
  h.send(s, push(5));
  EXPECT_EQ(only<DeltaAck>(h.send(s, push(5))).lsn, 2u);
}

TEST(DELTA_8, LsnsPerCollectionStrictlyIncrease) {
  Harness h;
  const auto s = h.authed();
  EXPECT_EQ(only<DeltaAck>(h.send(s, push(1, "a"))).lsn, 1u);
  EXPECT_EQ(only<DeltaAck>(h.send(s, push(2, "b"))).lsn, 1u);
  EXPECT_EQ(only<DeltaAck>(h.send(s, push(3, "a"))).lsn, 2u);
  ServerConfig cfg;
  cfg.bugs.insert(ServerBug::WrongLsnOrder);
  Harness bad(cfg);
  const auto t = bad.authed();
  const auto l1 = only<DeltaAck>(bad.send(t, push(1))).lsn;
  const auto l2 = only<DeltaAck>(bad.send(t, push(2))).lsn;
  EXPECT_FALSE(l2 > l1);
}

TEST(DELTA_15, SkewWarningBeyondOneDaySigned) {
  Harness h;
  const auto s = h.authed();
  auto p = push(1);
  p.device_valid_time_ms = kT0 - 86'400'001;
  EXPECT_EQ(only<DeltaAck>(h.send(s, p)).clock_skew_warning_ms, 86'400'001);
  p = push(2);
  p.device_valid_time_ms = kT0 + 90'000'000;
  EXPECT_EQ(only<DeltaAck>(h.send(s, p)).clock_skew_warning_ms, -90'000'000);
  p = push(3);
  p.device_valid_time_ms = kT0 - 86'400'000;
  EXPECT_EQ(only<DeltaAck>(h.send(s, p)).clock_skew_warning_ms, std::nullopt);
}

TEST(RATE_2, BeyondTheBucketPushesAreDroppedSilently) {
  Harness h;
  const auto s = h.authed();
  int acks = 0, silent = 0;
  for (std::uint64_t mid = 1; mid <= 250; ++mid) {
    const auto r = h.send(s, push(mid, "orders", doc_id(mid)));
    acks += !r.empty() && std::holds_alternative<DeltaAck>(r[0]);
    silent += r.empty();
  }
  EXPECT_EQ(acks, 200);  // RATE-1: burst 200
  EXPECT_EQ(silent, 50);
  h.now += 100;  // 10 tokens later
  int later = 0;
  for (std::uint64_t mid = 300; mid < 320; ++mid)
    later += !h.send(s, push(mid, "orders", "x")).empty();
  EXPECT_EQ(later, 10);
}

TEST(RATE_3, OptionalRejectCarriesRetryAfter) {
  ServerConfig cfg;
  cfg.rate_limit_reject = true;
  cfg.rate_capacity = 1;
  Harness h(cfg);
  const auto s = h.authed();
  h.send(s, push(1));
  const auto& r = only<DeltaReject>(h.send(s, push(2)));
  EXPECT_EQ(r.reason, "rate limited");
  EXPECT_EQ(std::get<compensation::RateLimited>(*r.compensation).retry_after_ms, 10u);
}

TEST(SHAPE_4, SnapshotCarriesTheCollectionAndItsLsn) {
  Harness h;
  const auto s = h.authed();
  h.send(s, push(1, "orders", "o2", {2}));
  h.send(s, push(2, "orders", "o1", {1}));
  const auto& snap = only<ShapeSnapshot>(h.send(s, subscribe("s1", "orders")));  // SHAPE-2
  EXPECT_EQ(snap.shape_id, "s1");
  EXPECT_EQ(snap.snapshot_lsn, 2u);
  EXPECT_EQ(snap.doc_count, 2u);
  EXPECT_EQ(to_hex(snap.data),
            "92"
            "92a26f31c40101"
            "92a26f32c40102");
}

TEST(SHAPE_7, LaterWritesArriveAsShapeDeltasIncludingTheWritersOwn) {
  Harness h;
  const auto a = h.authed("a:1");
  const auto b = h.authed("b:1");
  h.send(a, subscribe("sa", "orders"));
  h.send(b, subscribe("sb", "orders"));
  const auto frames = h.send(a, push(1, "orders", "o1", {9}));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<DeltaAck>(frames[0]));  // the ack first
  const auto& d = std::get<ShapeDelta>(frames[1]);
  EXPECT_EQ(d.operation, "INSERT");
  EXPECT_EQ(d.lsn, 1u);
  ASSERT_EQ(h.others.size(), 1u);
  EXPECT_EQ(std::get<ShapeDelta>(h.others[0].message).shape_id, "sb");
  EXPECT_EQ(std::get<ShapeDelta>(h.send(a, push(2, "orders", "o1", {8}))[1]).operation, "UPDATE");
}

TEST(SHAPE_8, OtherTenantsAndCollectionsDoNotMatch) {
  ServerConfig cfg;
  cfg.jwt.hs256_secret = "k";
  Harness h(cfg);
  JwtClaims c;
  c.sub = "t9";
  c.tenant_id = 9;
  Handshake hs = Harness::trust_handshake();
  hs.jwt_token = mint_hs256(c, "k");
  const auto other = h.authed("o:1", hs);
  const auto a = h.authed("a:1");
  h.send(other, subscribe("s", "orders"));
  h.send(a, subscribe("s", "items"));
  EXPECT_EQ(h.send(a, push(1, "orders")).size(), 1u);  // just the ack
  EXPECT_TRUE(h.others.empty());
}

TEST(SHAPE_6, UnsubscribedShapesGetNoMoreDeltas) {
  Harness h;
  const auto a = h.authed();
  h.send(a, subscribe("s1", "orders"));
  EXPECT_TRUE(h.send(a, ShapeUnsubscribe{"s1"}).empty());
  EXPECT_EQ(h.send(a, push(1)).size(), 1u);
}

TEST(RESYNC_8, ResyncAnswersFreshSnapshotsInShapeIdOrder) {
  Harness h;
  const auto a = h.authed();
  h.send(a, subscribe("z", "orders"));
  h.send(a, subscribe("b", "items"));
  h.send(a, subscribe("a", "orders"));
  h.send(a, push(1, "orders"));
  const auto frames = h.send(a, ResyncRequest{resync_reason::SequenceGap{2, 5}, 2, ""});
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(std::get<ShapeSnapshot>(frames[0]).shape_id, "a");
  EXPECT_EQ(std::get<ShapeSnapshot>(frames[0]).snapshot_lsn, 1u);
  EXPECT_EQ(std::get<ShapeSnapshot>(frames[1]).shape_id, "b");
  EXPECT_EQ(std::get<ShapeSnapshot>(frames[2]).shape_id, "z");
  EXPECT_EQ(h.send(a, ResyncRequest{resync_reason::CorruptedState{}, 0, "items"}).size(), 1u);
}

TEST(THROTTLE_4, ThrottledSessionsGetAtMostRDataFramesPerSecond) {
  Harness h;
  const auto reader = h.authed("r:1");
  const auto writer = h.authed("w:1");
  h.send(reader, subscribe("s", "orders"));
  EXPECT_TRUE(h.send(reader, Throttle{true, 1000, 2}).empty());
  for (std::uint64_t mid = 1; mid <= 5; ++mid) h.send(writer, push(mid, "orders", doc_id(mid)));
  EXPECT_EQ(h.frames_for(reader).size(), 0u);
  std::size_t got = 0;
  for (auto& o : h.others) got += o.session == reader;
  h.others.clear();
  EXPECT_EQ(got, 2u);
  // Answers are never held back (THROTTLE-5).
  EXPECT_EQ(h.send(reader, PingPong{1, false}).size(), 1u);
  h.now = 1000;
  h.core.advance(at(h.now));
  EXPECT_EQ(h.frames_for(reader).size(), 2u);
  EXPECT_TRUE(h.send(reader, Throttle{false, 0, 0}).size() == 1u);  // the rest at once
}

TEST(THROTTLE_4, BugIgnoreThrottleSendsEverything) {
  ServerConfig cfg;
  cfg.bugs.insert(ServerBug::IgnoreThrottle);
  Harness h(cfg);
  const auto reader = h.authed("r:1");
  const auto writer = h.authed("w:1");
  h.send(reader, subscribe("s", "orders"));
  h.send(reader, Throttle{true, 1000, 1});
  for (std::uint64_t mid = 1; mid <= 5; ++mid) h.send(writer, push(mid));
  std::size_t got = 0;
  for (auto& o : h.others) got += o.session == reader;
  EXPECT_EQ(got, 5u);
}

TEST(THROTTLE_6, FullDataQueueDropsTheNewest) {
  ServerConfig cfg;
  cfg.data_queue_limit = 3;
  Harness h(cfg);
  const auto reader = h.authed("r:1");
  const auto writer = h.authed("w:1");
  h.send(reader, subscribe("s", "orders"));
  h.send(reader, Throttle{true, 1000, 1});
  for (std::uint64_t mid = 1; mid <= 10; ++mid) h.send(writer, push(mid));
  h.others.clear();
  EXPECT_EQ(h.send(reader, Throttle{false, 0, 0}).size(), 3u);  // lsn 2, 3, 4 were kept
}

TEST(PURGE_1, PurgeReachesEveryAuthenticatedSessionOfTheTenantAndRejectsLaterPushes) {
  Harness h;
  const auto a = h.authed("a:1");
  const auto b = h.authed("b:1");
  h.send(a, push(1));
  h.core.purge_collection(0, "orders", at(0));
  const auto out = h.core.take_output();
  ASSERT_EQ(out.size(), 2u);
  const auto& p = std::get<CollectionPurged>(out[0].message);
  EXPECT_EQ(p.purge_lsn, 2u);                             // PURGE-2: the counter's next value
  const auto& r = only<DeltaReject>(h.send(b, push(1)));  // PURGE-4
  EXPECT_EQ(r.reason, "collection purged");
  EXPECT_TRUE(validate(Message{r}, Sender::Server).empty());
  // PURGE-5: replayed after a later handshake.
  const auto c = h.open("c:1");
  const auto frames = h.send(c, Harness::trust_handshake());
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(std::get<CollectionPurged>(frames[1]).name, "orders");
}

TEST(PURGE_1, BugForgetPurgeBroadcastSendsNothing) {
  ServerConfig cfg;
  cfg.bugs.insert(ServerBug::ForgetPurgeBroadcast);
  Harness h(cfg);
  h.authed();
  h.core.purge_collection(0, "orders", at(0));
  EXPECT_TRUE(h.core.take_output().empty());
}

TEST(TOKEN_1, RefreshOutcomes) {
  ServerConfig cfg;
  cfg.jwt.hs256_secret = "k";
  Harness h(cfg);
  JwtClaims c;
  c.sub = "alice";
  c.tenant_id = 1;
  c.exp = kT0 / 1000 + 600;
  Handshake hs = Harness::trust_handshake();
  hs.jwt_token = mint_hs256(c, "k");
  const auto s = h.authed("a:1", hs);
  EXPECT_EQ(only<TokenRefreshAck>(h.send(s, TokenRefresh{""})).error, "empty token");
  EXPECT_EQ(only<TokenRefreshAck>(h.send(s, TokenRefresh{"x"})).error, "malformed JWT token");
  JwtClaims other = c;
  other.tenant_id = 2;
  EXPECT_EQ(only<TokenRefreshAck>(h.send(s, TokenRefresh{mint_hs256(other, "k")})).error,
            "tenant mismatch");
  c.exp = kT0 / 1000 + 1200;
  const auto& ok = only<TokenRefreshAck>(h.send(s, TokenRefresh{mint_hs256(c, "k")}));
  EXPECT_TRUE(ok.success);
  EXPECT_EQ(ok.expires_in_secs, 1200u);  // TOKEN-3
  c.exp = 0;
  EXPECT_EQ(only<TokenRefreshAck>(h.send(s, TokenRefresh{mint_hs256(c, "k")})).expires_in_secs,
            3600u);
}

TEST(TOKEN_9, ExpiredSessionsGetTokenExpiredUntilRefreshed) {
  ServerConfig cfg;
  cfg.jwt.hs256_secret = "k";
  Harness h(cfg);
  JwtClaims c;
  c.sub = "alice";
  c.exp = kT0 / 1000 + 10;
  Handshake hs = Harness::trust_handshake();
  hs.jwt_token = mint_hs256(c, "k");
  const auto s = h.authed("a:1", hs);
  h.now = 70'000;  // 10 s + 60 s leeway: not yet
  EXPECT_TRUE(std::holds_alternative<DeltaAck>(h.send(s, push(1)).at(0)));
  h.now = 71'001;
  const auto& r = only<DeltaReject>(h.send(s, push(2)));
  EXPECT_EQ(r.reason, "token expired");
  EXPECT_EQ(only<PingPong>(h.send(s, PingPong{1, false})).is_pong, true);  // the session stays
  c.exp = kT0 / 1000 + 3600;
  EXPECT_TRUE(only<TokenRefreshAck>(h.send(s, TokenRefresh{mint_hs256(c, "k")})).success);
  EXPECT_TRUE(std::holds_alternative<DeltaAck>(h.send(s, push(3)).at(0)));
  ServerConfig buggy = cfg;
  buggy.bugs.insert(ServerBug::AcceptExpiredToken);
  Harness b(buggy);
  c.exp = kT0 / 1000 + 10;
  hs.jwt_token = mint_hs256(c, "k");
  const auto t = b.authed("a:1", hs);
  b.now = 100'000;
  EXPECT_TRUE(std::holds_alternative<DeltaAck>(b.send(t, push(1)).at(0)));
}

TEST(TS_4, TimeseriesAckCountsAcceptedSamples) {
  Harness h;
  const auto s = h.authed();
  TimeseriesPush ts;
  ts.collection = "cpu";
  ts.sample_count = 3;
  const std::int64_t times[] = {1000, 2000, 3000};
  const double values[] = {1.5, 1.5, 2.5};
  ts.ts_block = ts_block_of(times);
  ts.val_block = val_block_of(values);
  const auto& ack = only<TimeseriesAck>(h.send(s, ts));
  EXPECT_EQ(ack.accepted, 3u);
  EXPECT_EQ(ack.rejected, 0u);
  EXPECT_EQ(ack.lsn, 3u);
  h.send(s, push(1));
  EXPECT_EQ(only<TimeseriesAck>(h.send(s, ts)).lsn, 7u);  // 3 + 1 push + 3
  ts.ts_block.clear();
  const auto& none = only<TimeseriesAck>(h.send(s, ts));
  EXPECT_EQ(none.accepted, 0u);
  EXPECT_EQ(none.lsn, 0u);
}

TEST(PRES_2, UpdatesAreBroadcastToTheOtherPeers) {
  Harness h;
  const auto a = h.authed("a:1");
  const auto b = h.authed("b:1");
  EXPECT_TRUE(h.send(a, PresenceUpdate{"room", {1}}).empty());  // sole peer: nothing
  EXPECT_TRUE(h.send(b, PresenceUpdate{"room", {2}}).empty());
  ASSERT_EQ(h.others.size(), 1u);
  EXPECT_EQ(h.others[0].session, a);
  const auto& bc = std::get<PresenceBroadcast>(h.others[0].message);
  ASSERT_EQ(bc.peers.size(), 2u);
  EXPECT_EQ(bc.peers[0].state, Bytes{1});  // session-id order
  h.others.clear();
  h.core.close_session(b, at(0));  // PRES-5
  const auto out = h.core.take_output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<PresenceLeave>(out[0].message).user_id, "sync-client");
}

TEST(PRES_6, SilentPeersExpireAtASweep) {
  Harness h;
  const auto a = h.authed("a:1");
  const auto b = h.authed("b:1");
  h.send(a, PresenceUpdate{"room", {1}});
  h.now = 20'000;
  h.send(b, PresenceUpdate{"room", {2}});
  h.others.clear();
  h.core.advance(at(30'000));
  EXPECT_TRUE(h.core.take_output().empty());
  h.core.advance(at(35'000));  // a silent for 35 s > 30 s
  const auto out = h.core.take_output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].session, b);
  EXPECT_TRUE(std::holds_alternative<PresenceLeave>(out[0].message));
}

TEST(SESSION_3, IdleSessionsAreClosed) {
  Harness h;
  const auto s = h.authed();
  h.core.advance(at(299'999));
  EXPECT_TRUE(h.core.take_closes().empty());
  EXPECT_EQ(h.core.next_deadline(), 300'000);
  h.core.advance(at(300'000));
  EXPECT_EQ(h.core.take_closes(), std::vector<SessionHandle>{s});
}

TEST(VCLOCK_1, VectorClocksMergeAndAnswerTheSessionClock) {
  Harness h;
  const auto s = h.authed();
  h.send(s, VectorClockSync{{{"a", 5}, {"b", 1}}, 9});
  const auto& v = only<VectorClockSync>(h.send(s, VectorClockSync{{{"a", 3}}, 9}));
  EXPECT_EQ(v.clocks, (std::map<std::string, std::uint64_t>{{"a", 5}, {"b", 1}}));  // VCLOCK-2
  EXPECT_EQ(v.sender_id, 0u);
}

TEST(DEF_4, DefinitionsGoToTheTenantAndAreReplayed) {
  Harness h;
  h.authed("a:1");
  DefinitionSync d{"function", "f", "put", Bytes{'{', '}'}};
  h.core.put_definition(0, d, at(0));
  EXPECT_EQ(h.core.take_output().size(), 1u);
  const auto b = h.open("b:1");
  const auto frames = h.send(b, Harness::trust_handshake());
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(std::get<DefinitionSync>(frames[1]), d);
}

}  // namespace
}  // namespace syncsim::test
