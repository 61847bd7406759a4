// The reference client's protocol logic, driven directly: each test is named
// after the rule it proves.
#include "reference/client_core.hpp"

#include <gtest/gtest.h>

#include "protocol/crc32c.hpp"
#include "protocol/json.hpp"
#include "tests/support/core_clock.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using namespace reference;

struct Rig {
  sim::Prng rng{7};
  ClientConfig cfg;
  std::unique_ptr<ClientCore> core;
  explicit Rig(ClientConfig c = default_config(), ClientPersistent p = {}) : cfg(std::move(c)) {
    core = std::make_unique<ClientCore>(cfg, std::move(p), rng);
  }
  static ClientConfig default_config() {
    ClientConfig c;
    ShapeDefinition s;
    s.shape_id = "s1";
    s.shape_type = shape_type::Document{"orders", {}};
    c.shapes = {s};
    return c;
  }
  std::vector<Message> connect(std::int64_t t = 0) {
    core->on_connected(at(t));
    auto out = core->take_output();
    HandshakeAck ack;
    ack.success = true;
    ack.session_id = "sync-x:1-1";
    ack.server_wire_version = 4;
    core->on_frame(ack, at(t));
    auto more = core->take_output();
    out.insert(out.end(), more.begin(), more.end());
    return out;
  }
  std::vector<Message> feed(const Message& m, std::int64_t t) {
    core->on_frame(m, at(t));
    return core->take_output();
  }
};

template <class T>
std::vector<T> all_of(const std::vector<Message>& ms) {
  std::vector<T> out;
  for (const auto& m : ms) {
    if (const auto* x = std::get_if<T>(&m)) out.push_back(*x);
  }
  return out;
}

TEST(HS_1, HandshakeFirstThenPingAndSubscriptions) {
  Rig r;
  const auto out = r.connect();
  ASSERT_GE(out.size(), 3u);
  const auto& hs = std::get<Handshake>(out[0]);
  EXPECT_EQ(hs.wire_version, 1);  // HS-3
  EXPECT_EQ(hs.epoch, 1u);
  EXPECT_FALSE(hs.lite_id.empty());
  EXPECT_FALSE(std::get<PingPong>(out[1]).is_pong);                  // PING-1: at once
  EXPECT_EQ(std::get<ShapeSubscribe>(out[2]).shape.shape_id, "s1");  // SHAPE-14
}

TEST(HS_12, EpochRisesOnEveryConnection) {
  Rig r;
  r.connect();
  r.core->on_disconnected(at(10));
  r.core->on_connected(at(2000));
  EXPECT_EQ(std::get<Handshake>(r.core->take_output().at(0)).epoch, 2u);
  ClientConfig buggy = Rig::default_config();
  buggy.bugs.insert(ClientBug::ReuseEpoch);
  Rig b(buggy);
  b.connect();
  b.core->on_disconnected(at(10));
  b.core->on_connected(at(2000));
  EXPECT_EQ(std::get<Handshake>(b.core->take_output().at(0)).epoch, 1u);
}

TEST(HS_11, ForkMeansANewLiteIdBeforeReconnecting) {
  Rig r;
  r.core->on_connected(at(0));
  const auto old_id = std::get<Handshake>(r.core->take_output().at(0)).lite_id;
  HandshakeAck fork;
  fork.session_id = "s";
  fork.error = "FORK_DETECTED: regenerate LiteId and reconnect";
  fork.fork_detected = true;
  r.core->on_frame(fork, at(1));
  EXPECT_TRUE(r.core->take_close());  // HS-13
  r.core->on_disconnected(at(1));
  r.core->on_connected(at(1001));
  const auto hs = std::get<Handshake>(r.core->take_output().at(0));
  EXPECT_NE(hs.lite_id, old_id);
  EXPECT_EQ(hs.epoch, 1u);
}

TEST(HS_14, NoAnswerWithinTenSecondsClosesTheAttempt) {
  Rig r;
  r.core->on_connected(at(0));
  r.core->advance(at(9'999));
  EXPECT_FALSE(r.core->take_close());
  r.core->advance(at(10'000));
  EXPECT_TRUE(r.core->take_close());
}

TEST(CONN_1, BackoffDoublesToSixtySecondsAndResetsAfterAHandshake) {
  Rig r;
  std::vector<std::int64_t> waits;
  for (int k = 0; k < 8; ++k) waits.push_back(r.core->on_disconnected(at(0)));
  EXPECT_EQ(waits, (std::vector<std::int64_t>{1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000}));
  r.connect();
  EXPECT_EQ(r.core->on_disconnected(at(0)), 1000);
}

TEST(DELTA_1, MutationsCarryIncreasingIdsAndTheirChecksum) {
  Rig r;
  r.connect();
  r.core->write("orders", "a", {1, 2, 3});
  r.core->write("orders", "b", {4});
  EXPECT_FALSE(r.core->write("orders", "c", {}));  // never an empty delta
  r.core->advance(at(100));
  const auto pushes = all_of<DeltaPush>(r.core->take_output());
  ASSERT_EQ(pushes.size(), 2u);
  EXPECT_LT(pushes[0].mutation_id, pushes[1].mutation_id);
  EXPECT_EQ(pushes[0].checksum, crc32c(pushes[0].delta));  // DELTA-2
  EXPECT_EQ(pushes[0].peer_id, pushes[1].peer_id);
}

TEST(FLOW_1, AtMostSixtyFourInFlight) {
  Rig r;
  r.connect();
  for (int k = 0; k < 200; ++k) r.core->write("orders", "d", {1});
  r.core->advance(at(100));
  EXPECT_EQ(all_of<DeltaPush>(r.core->take_output()).size(), 50u);  // FLOW-2: a batch of 50 first
  r.core->advance(at(200));
  EXPECT_EQ(all_of<DeltaPush>(r.core->take_output()).size(), 14u);  // then up to 64 in flight
  r.core->advance(at(300));
  EXPECT_EQ(all_of<DeltaPush>(r.core->take_output()).size(), 0u);
}

TEST(FLOW_3, UnansweredMutationsAreResentAfterTwoSeconds) {
  Rig r;
  r.connect();
  r.core->write("orders", "d", {1});
  r.core->advance(at(100));
  EXPECT_EQ(all_of<DeltaPush>(r.core->take_output()).size(), 1u);
  r.core->advance(at(1'900));
  EXPECT_TRUE(all_of<DeltaPush>(r.core->take_output()).empty());
  r.feed(PingPong{1, true}, 2000);  // keep the connection alive
  r.core->advance(at(2'100));
  EXPECT_EQ(all_of<DeltaPush>(r.core->take_output()).size(), 1u);
}

TEST(DELTA_13, AnAckCoversOnlyItsOwnMutation) {
  Rig r;
  r.connect();
  r.core->write("orders", "a", {1});
  r.core->write("orders", "b", {2});
  r.core->advance(at(100));
  const auto pushes = all_of<DeltaPush>(r.core->take_output());
  r.feed(DeltaAck{pushes[1].mutation_id, 2, std::nullopt}, 200);
  EXPECT_EQ(r.core->pending(), 1u);
  ClientConfig buggy = Rig::default_config();
  buggy.bugs.insert(ClientBug::CumulativeAck);
  Rig b(buggy);
  b.connect();
  b.core->write("orders", "a", {1});
  b.core->write("orders", "b", {2});
  b.core->advance(at(100));
  const auto bp = all_of<DeltaPush>(b.core->take_output());
  b.feed(DeltaAck{bp[1].mutation_id, 2, std::nullopt}, 200);
  EXPECT_EQ(b.core->pending(), 0u);
}

// Acknowledged bytes leave the FLOW-4 budget, also when one ack covers
// several mutations (the CumulativeAck bug used to keep their bytes counted,
// so the client refused writes with nothing pending).
TEST(FLOW_4, BytesOfAcknowledgedMutationsLeaveTheByteBudget) {
  for (const bool cumulative : {false, true}) {
    ClientConfig cfg = Rig::default_config();
    cfg.pending_bytes_limit = 4;
    if (cumulative) cfg.bugs.insert(ClientBug::CumulativeAck);
    Rig r(cfg);
    r.connect();
    ASSERT_TRUE(r.core->write("orders", "a", {1, 2}));
    ASSERT_TRUE(r.core->write("orders", "b", {3, 4}));
    EXPECT_FALSE(r.core->write("orders", "c", {5}));  // 4 bytes pending: full
    r.core->advance(at(100));
    const auto pushes = all_of<DeltaPush>(r.core->take_output());
    ASSERT_EQ(pushes.size(), 2u);
    // The buggy client takes the second ack as covering the first mutation too.
    if (!cumulative) r.feed(DeltaAck{pushes[0].mutation_id, 1, std::nullopt}, 200);
    r.feed(DeltaAck{pushes[1].mutation_id, 2, std::nullopt}, 200);
    ASSERT_EQ(r.core->pending(), 0u) << "cumulative=" << cumulative;
    EXPECT_TRUE(r.core->write("orders", "d", {6, 7, 8, 9})) << "cumulative=" << cumulative;
  }
}

TEST(RESYNC_9, AServersResyncRequestPushesTheNamedMutationsAgain) {
  Rig r;
  r.connect();
  ASSERT_TRUE(r.core->write("orders", "a", {1}));
  ASSERT_TRUE(r.core->write("users", "b", {2}));
  r.core->advance(at(100));
  const auto first = all_of<DeltaPush>(r.core->take_output());
  ASSERT_EQ(first.size(), 2u);
  // Only the unacknowledged mutations of the named collection go out again, at once.
  const auto again =
      all_of<DeltaPush>(r.feed(ResyncRequest{resync_reason::CorruptedState{}, 0, "orders"}, 200));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].mutation_id, first[0].mutation_id);
  EXPECT_EQ(again[0].collection, "orders");
  // from_mutation_id above every pending mutation names none.
  EXPECT_TRUE(
      all_of<DeltaPush>(r.feed(ResyncRequest{resync_reason::CorruptedState{}, 1'000'000, ""}, 300))
          .empty());
}

TEST(RESYNC_2, AGapAsksForAResyncAndTheDeltaStillApplies) {
  Rig r;
  r.connect();
  r.feed(ShapeSnapshot{"s1", Bytes{0x90}, 1, 0}, 10);
  EXPECT_TRUE(r.feed(ShapeDelta{"s1", "orders", "a", "INSERT", {1}, 2}, 20).empty());
  const auto out = r.feed(ShapeDelta{"s1", "orders", "b", "INSERT", {2}, 5}, 30);
  const auto resync = all_of<ResyncRequest>(out);
  ASSERT_EQ(resync.size(), 1u);
  EXPECT_EQ(std::get<resync_reason::SequenceGap>(resync[0].reason).expected, 3u);
  EXPECT_EQ(std::get<resync_reason::SequenceGap>(resync[0].reason).received, 5u);
  EXPECT_EQ(resync[0].from_mutation_id, 3u);
  EXPECT_EQ(resync[0].collection, "");
  EXPECT_EQ(r.core->view().at("orders").size(), 2u);
  // RESYNC-3: no second request until a snapshot answered the first.
  EXPECT_TRUE(r.feed(ShapeDelta{"s1", "orders", "c", "INSERT", {3}, 9}, 40).empty());
  ClientConfig buggy = Rig::default_config();
  buggy.bugs.insert(ClientBug::NoResyncOnGap);
  Rig b(buggy);
  b.connect();
  b.feed(ShapeSnapshot{"s1", Bytes{0x90}, 1, 0}, 10);
  EXPECT_TRUE(b.feed(ShapeDelta{"s1", "orders", "b", "INSERT", {2}, 5}, 30).empty());
}

TEST(THROTTLE_2, BacklogAboveTheHighWatermarkThrottlesAndBelowTheLowReleases) {
  ClientConfig cfg = Rig::default_config();
  cfg.apply_rate_per_s = 100;
  cfg.throttle_high = 10;
  cfg.throttle_low = 3;
  Rig r(cfg);
  r.connect();
  r.feed(ShapeSnapshot{"s1", Bytes{0x90}, 0, 0}, 0);
  std::vector<Throttle> sent;
  for (std::uint64_t k = 1; k <= 12; ++k) {
    for (auto& t : all_of<Throttle>(r.feed(ShapeDelta{"s1", "orders", "d", "UPDATE", {1}, k}, 0)))
      sent.push_back(t);
  }
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].throttle);
  EXPECT_EQ(sent[0].queue_depth, 10u);
  EXPECT_EQ(sent[0].suggested_rate, 100u);
  r.core->advance(at(90));  // 10 ms per frame: 10 applied, 2 left
  const auto release = all_of<Throttle>(r.core->take_output());
  ASSERT_EQ(release.size(), 1u);
  EXPECT_FALSE(release[0].throttle);
  EXPECT_EQ(release[0].suggested_rate, 0u);
}

TEST(PURGE_6, PurgeDropsDataMutationsAndShapesAndIsIdempotent) {
  Rig r;
  r.connect();
  r.feed(ShapeSnapshot{"s1", Bytes{0x91, 0x92, 0xa1, 'a', 0xc4, 0x01, 0x01}, 3, 1}, 0);
  r.core->write("orders", "x", {1});
  const auto out = r.feed(CollectionPurged{0, "orders", 4}, 10);
  EXPECT_EQ(all_of<ShapeUnsubscribe>(out).size(), 1u);
  EXPECT_EQ(r.core->pending(), 0u);
  EXPECT_EQ(r.core->view().count("orders"), 0u);
  EXPECT_TRUE(r.feed(CollectionPurged{0, "orders", 4}, 20).empty());                      // PURGE-8
  EXPECT_TRUE(r.feed(ShapeDelta{"s1", "orders", "late", "INSERT", {1}, 3}, 30).empty());  // PURGE-7
  EXPECT_EQ(r.core->view().count("orders"), 0u);
}

TEST(TOKEN_6, PermissionDeniedPausesPushesUntilARefreshSucceeds) {
  ClientConfig cfg = Rig::default_config();
  cfg.new_token = [] { return std::optional<std::string>("fresh"); };
  Rig r(cfg);
  r.connect();
  r.core->write("orders", "d", {1});
  r.core->advance(at(100));
  const auto push = all_of<DeltaPush>(r.core->take_output()).at(0);
  const auto out =
      r.feed(DeltaReject{push.mutation_id, "token expired", compensation::PermissionDenied{}}, 150);
  ASSERT_EQ(all_of<TokenRefresh>(out).size(), 1u);
  EXPECT_EQ(r.core->pending(), 1u);
  r.core->advance(at(300));
  EXPECT_TRUE(all_of<DeltaPush>(r.core->take_output()).empty());  // paused
  r.feed(TokenRefreshAck{true, std::nullopt, 3600}, 400);
  r.core->advance(at(500));
  EXPECT_EQ(all_of<DeltaPush>(r.core->take_output()).size(), 1u);
}

// At 80 % of the lifetime, not at the next ping tick after it: a token
// shorter than the ping interval is still refreshed before it expires.
TEST(TOKEN_5, RefreshAtEightyPercentOfTheLifetimeBetweenPings) {
  auto cfg = Rig::default_config();
  cfg.token = "t0";
  cfg.token_lifetime_s = 10;
  cfg.new_token = [] { return std::optional<std::string>("t1"); };
  Rig r(cfg);
  r.connect(0);
  EXPECT_EQ(r.core->next_deadline(), 8000);  // before the 30 s ping
  r.core->advance(at(7999));
  EXPECT_TRUE(all_of<TokenRefresh>(r.core->take_output()).empty());
  r.core->advance(at(8000));
  const auto out = r.core->take_output();
  ASSERT_EQ(all_of<TokenRefresh>(out).size(), 1u);
  EXPECT_EQ(all_of<TokenRefresh>(out)[0].new_token, "t1");
  // The Unix clock a millisecond behind the steady one: it waits for it.
  Rig late(cfg);
  late.connect(0);
  late.core->advance(Now{8000, 1'750'000'000'000 + 7999});
  EXPECT_TRUE(all_of<TokenRefresh>(late.core->take_output()).empty());
  EXPECT_EQ(late.core->next_deadline(), 8001);
  late.core->advance(Now{8001, 1'750'000'008'000});
  EXPECT_EQ(all_of<TokenRefresh>(late.core->take_output()).size(), 1u);
}

TEST(PING_6, SilenceForNinetySecondsClosesTheConnection) {
  Rig r;
  r.connect(0);
  r.core->advance(at(89'999));
  EXPECT_FALSE(r.core->take_close());
  r.core->advance(at(90'000));
  EXPECT_TRUE(r.core->take_close());
}

}  // namespace
}  // namespace syncsim::test

namespace syncsim::test {
namespace {

TEST(PRES_10, PresenceIsRepeatedEveryFifteenSecondsAndBroadcastsAreKept) {
  Rig r;
  r.connect();
  r.core->update_presence("room", {1}, at(0));
  EXPECT_EQ(all_of<PresenceUpdate>(r.core->take_output()).size(), 1u);
  r.feed(PingPong{1, true}, 14'000);
  r.core->advance(at(15'000));
  EXPECT_EQ(all_of<PresenceUpdate>(r.core->take_output()).size(), 1u);
  r.feed(PresenceBroadcast{"room", {PeerPresence{"u1", {1}, 0}, PeerPresence{"u2", {2}, 5}}},
         15'001);
  r.feed(PresenceLeave{"room", "u1"}, 15'002);  // PRES-11
  ASSERT_EQ(r.core->presence().at("room").size(), 1u);
  EXPECT_EQ(r.core->presence().at("room")[0].user_id, "u2");
}

TEST(TS_6, OnePushPerCollectionInFlightUntilFullyAcknowledged) {
  Rig r;
  r.connect();
  r.core->record_sample("cpu", 1000, 1.5);
  r.core->record_sample("cpu", 2000, 1.5);
  r.core->record_sample("cpu", 3000, 2.5);
  r.feed(PingPong{1, true}, 29'000);
  r.core->advance(at(30'000));
  const auto pushes = all_of<TimeseriesPush>(r.core->take_output());
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(pushes[0].sample_count, 3u);  // TS-1
  EXPECT_EQ(pushes[0].min_ts, 1000);
  EXPECT_EQ(pushes[0].max_ts, 3000);
  EXPECT_EQ(protocol::to_hex(pushes[0].val_block),
            "0300000000000000000000003ff80000000000008098267ffc");
  r.feed(TimeseriesAck{"cpu", 2, 1, 2}, 30'100);  // not all: kept
  EXPECT_EQ(r.core->unsynced_samples(), 3u);
  r.feed(PingPong{1, true}, 59'000);
  r.core->advance(at(60'000));
  ASSERT_EQ(all_of<TimeseriesPush>(r.core->take_output()).size(), 1u);
  r.feed(TimeseriesAck{"cpu", 3, 0, 5}, 60'100);
  EXPECT_EQ(r.core->unsynced_samples(), 0u);
}

TEST(CONN_1, OptionalJitterComesFromThePrng) {
  ClientConfig cfg = Rig::default_config();
  cfg.backoff_jitter_ms = 500;
  Rig a(cfg), b(cfg);
  const auto wa = a.core->on_disconnected(at(0));
  EXPECT_GE(wa, 1000);
  EXPECT_LE(wa, 1500);
  EXPECT_EQ(wa, b.core->on_disconnected(at(0)));  // same seed, same draw
}

}  // namespace
}  // namespace syncsim::test
