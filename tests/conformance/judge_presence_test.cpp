// The presence judge (PRES-*), and the throttle and purge rules judged from
// profiles and state notes (THROTTLE-3/4/6, PURGE-2/3/6/8): for each rule a
// trace that breaks it and one that keeps it.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test {
namespace {

using namespace checker_trace;
using conformance::CheckerOptions;
using conformance::StateNote;

// A session authenticated on connection `conn` (trust mode, or a token's tenant).
void join(Trace& tr, std::uint64_t conn, std::string token = "") {
  tr.sr(hs(std::move(token)), conn);
  tr.sw(ok_ack("sync-" + std::to_string(conn)), conn);
}

PresenceBroadcast bc(std::string channel, std::vector<PeerPresence> peers) {
  return PresenceBroadcast{std::move(channel), std::move(peers)};
}
PeerPresence peer(std::string state, std::uint64_t age_ms = 0, std::string user = "sync-client") {
  return PeerPresence{std::move(user), Bytes(state.begin(), state.end()), age_ms};
}
PresenceUpdate upd(std::string channel, std::string state) {
  return PresenceUpdate{std::move(channel), Bytes(state.begin(), state.end())};
}

CheckerOptions profiled() {
  CheckerOptions o;
  o.server_profile.presence_ttl_ns = 30 * kS;
  o.server_profile.presence_max_channels = 1;
  o.server_profile.presence_max_peers = 1024;
  o.server_profile.idle_timeout_ns = 300 * kS;
  o.server_profile.data_queue_limit = 10;
  o.client_profile.presence_heartbeat_ns = 15 * kS;
  return o;
}

// Two peers of "room": a (conn 1) then b (conn 2); a is told of b.
void two_peers(Trace& tr) {
  join(tr, 1);
  join(tr, 2);
  tr.sr(upd("room", "a"), 1);
  tr.sr(upd("room", "b"), 2);
  tr.sw(bc("room", {peer("a"), peer("b")}), 1);
}

TEST(PRES_1, UnauthenticatedUpdateThatReachesPeersIsFlagged) {
  Trace tr;
  two_peers(tr);
  tr.sr(upd("room", "x"), 3);  // conn 3 never shook hands
  tr.sw(bc("room", {peer("a"), peer("b"), peer("x")}), 1);
  EXPECT_TRUE(tr.has("PRES-1")) << tr.all();
}

TEST(PRES_1, UnauthenticatedUpdateIgnoredPasses) {
  Trace tr;
  two_peers(tr);
  tr.sr(upd("room", "x"), 3);
  tr.checker.finish(tr.t + 20 * kS);
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

TEST(PRES_2, BroadcastMissingTheReceiverIsFlagged) {
  Trace tr;
  join(tr, 1);
  join(tr, 2);
  tr.sr(upd("room", "a"), 1);
  tr.sr(upd("room", "b"), 2);
  tr.sw(bc("room", {peer("b")}), 1);  // a itself is missing
  EXPECT_TRUE(tr.has("PRES-2")) << tr.all();
}

TEST(PRES_2, BroadcastNeverSentIsFlaggedAtTheEnd) {
  Trace tr;
  join(tr, 1);
  join(tr, 2);
  tr.sr(upd("room", "a"), 1);
  tr.sr(upd("room", "b"), 2);
  tr.checker.finish(tr.t + 20 * kS);
  EXPECT_TRUE(tr.has("PRES-2")) << tr.all();
}

TEST(PRES_2, EveryPeerListedInAnyOrderPasses) {
  Trace tr;
  join(tr, 1);
  join(tr, 2);
  tr.sr(upd("room", "a"), 1);
  tr.sr(upd("room", "b"), 2);
  tr.sw(bc("room", {peer("b"), peer("a")}), 1);
  tr.checker.finish(tr.t + 20 * kS);
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

TEST(PRES_3, WrongLastSeenIsFlagged) {
  Trace tr;
  join(tr, 1);
  join(tr, 2);
  tr.sr(upd("room", "a"), 1);
  tr.wait_ms(4000);
  tr.sr(upd("room", "b"), 2);
  tr.sw(bc("room", {peer("a", 0), peer("b", 0)}), 1);  // a's update is 4 s old
  EXPECT_TRUE(tr.has("PRES-3")) << tr.all();
}

TEST(PRES_3, AgesSinceEachUpdatePass) {
  Trace tr;
  join(tr, 1);
  join(tr, 2);
  tr.sr(upd("room", "a"), 1);
  tr.wait_ms(4000);
  tr.sr(upd("room", "b"), 2);
  tr.sw(bc("room", {peer("a", 4000), peer("b", 0)}), 1);
  EXPECT_FALSE(tr.has("PRES-3")) << tr.all();
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

TEST(PRES_4, UpdateOverTheChannelLimitThatJoinsIsFlagged) {
  Trace tr(profiled());  // one channel per session
  join(tr, 1);
  join(tr, 2);
  tr.sr(upd("c2", "b"), 2);
  tr.sr(upd("c1", "a"), 1);
  tr.sr(upd("c2", "a"), 1);  // a's second channel: ignored
  tr.sw(bc("c2", {peer("a"), peer("b")}), 2);
  EXPECT_TRUE(tr.has("PRES-4")) << tr.all();
}

TEST(PRES_4, UpdateOverTheChannelLimitIgnoredPasses) {
  Trace tr(profiled());
  join(tr, 1);
  join(tr, 2);
  tr.sr(upd("c2", "b"), 2);
  tr.sr(upd("c1", "a"), 1);
  tr.sr(upd("c2", "a"), 1);
  tr.checker.finish(tr.t + 20 * kS);
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

TEST(PRES_5, NoLeaveAfterAPeerClosedIsFlagged) {
  Trace tr;
  two_peers(tr);
  tr.on_close_both(2);  // the client's end
  tr.on_close_both(2);  // the server's end
  tr.checker.finish(tr.t + 20 * kS);
  EXPECT_TRUE(tr.has("PRES-5")) << tr.all();
}

TEST(PRES_5, BroadcastInsteadOfLeaveIsFlagged) {
  Trace tr;
  two_peers(tr);
  tr.on_close_both(2);
  tr.sw(bc("room", {peer("a")}), 1);
  EXPECT_TRUE(tr.has("PRES-5")) << tr.all();
}

TEST(PRES_5, LeaveToTheRemainingPeerPasses) {
  Trace tr;
  two_peers(tr);
  tr.on_close_both(2);
  tr.on_close_both(2);
  tr.sw(PresenceLeave{"room", "sync-client"}, 1);
  tr.checker.finish(tr.t + 20 * kS);
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

// a heartbeats every 15 s, b falls silent at 0 s; with `swept`, a is told
// 32 s later, after the TTL and a sweep.
void b_silent(Trace& tr, int until_s, bool swept) {
  two_peers(tr);
  for (int s = 15; s <= until_s; s += 15) {
    tr.wait_ms(15'000 - (swept && s == 45 ? 2'000 : 0));
    tr.sr(upd("room", "a"), 1);
    if (swept && s == 30) {
      tr.wait_ms(2'000);
      tr.sw(PresenceLeave{"room", "sync-client"}, 1);
    }
  }
}

TEST(PRES_6, SilentPeerNeverSweptIsFlagged) {
  Trace tr(profiled());
  b_silent(tr, 60, false);
  tr.sr(upd("room", "b"), 2);  // b returns, never having left
  EXPECT_TRUE(tr.has("PRES-6")) << tr.all();
}

TEST(PRES_6, LeaveBeforeTheTtlIsFlagged) {
  Trace tr(profiled());
  two_peers(tr);
  tr.wait_ms(5'000);
  tr.sw(PresenceLeave{"room", "sync-client"}, 1);  // b is 5 s silent
  EXPECT_TRUE(tr.has("PRES-6")) << tr.all();
}

TEST(PRES_6, SilentPeerSweptAfterTheTtlPasses) {
  Trace tr(profiled());
  b_silent(tr, 60, true);
  tr.checker.finish(tr.t + 20 * kS);
  EXPECT_FALSE(tr.has("PRES-6")) << tr.all();
  EXPECT_FALSE(tr.has("PRES-2")) << tr.all();
}

TEST(PRES_7, BroadcastToAnotherTenantIsFlagged) {
  Trace tr;
  join(tr, 1, token(0, 1));
  join(tr, 2, token(0, 2));
  tr.sr(upd("room", "b"), 2);
  tr.sr(upd("room", "a"), 1);
  tr.sw(bc("room", {peer("a", 0, "u"), peer("b", 0, "u")}), 2);
  EXPECT_TRUE(tr.has("PRES-7")) << tr.all();
}

TEST(PRES_7, BroadcastToANonPeerIsFlagged) {
  Trace tr;
  two_peers(tr);
  join(tr, 3);
  tr.sw(bc("room", {peer("a"), peer("b")}), 3);
  EXPECT_TRUE(tr.has("PRES-7")) << tr.all();
}

TEST(PRES_7, TenantsKeptApartPass) {
  Trace tr;
  join(tr, 1, token(0, 1));
  join(tr, 2, token(0, 2));
  tr.sr(upd("room", "b"), 2);
  tr.sr(upd("room", "a"), 1);
  tr.checker.finish(tr.t + 20 * kS);
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

// D170: a live scenario's client sees only its own session through its
// proxy; the other peer's update and close pass another proxy.
CheckerOptions partial_view() {
  CheckerOptions o;
  o.sees_every_session = false;
  return o;
}

// a (conn 1) joins "room"; a peer the checker never sees joins and leaves.
void unseen_peer_comes_and_goes(Trace& tr) {
  join(tr, 1);
  tr.sr(upd("room", "a"), 1);
  tr.sw(bc("room", {peer("a"), peer("b")}), 1);
  tr.sw(PresenceLeave{"room", "sync-client"}, 1);
}

TEST(PRES_2, BroadcastNoSeenUpdateExplainsIsFlaggedWhenEverySessionIsSeen) {
  Trace tr;
  unseen_peer_comes_and_goes(tr);
  EXPECT_TRUE(tr.has("PRES-2")) << tr.all();
  EXPECT_TRUE(tr.has("PRES-5")) << tr.all();
}

TEST(PRES_2, BroadcastAndLeaveOfAnUnseenPeerPassWithAPartialView) {
  Trace tr(partial_view());
  unseen_peer_comes_and_goes(tr);
  tr.checker.finish(tr.t + 20 * kS);
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

TEST(PRES_7, BroadcastToANonPeerIsFlaggedWithAPartialView) {
  Trace tr(partial_view());
  join(tr, 1);
  tr.sw(bc("room", {peer("b")}), 1);  // a never joined "room"
  EXPECT_TRUE(tr.has("PRES-7")) << tr.all();
}

TEST(PRES_10, LateHeartbeatIsFlagged) {
  Trace tr(profiled());
  tr.cw(upd("room", "a"), 1);
  tr.wait_ms(20'000);
  tr.cw(PingPong{1, false}, 1);
  EXPECT_TRUE(tr.has("PRES-10")) << tr.all();
}

TEST(PRES_10, HeartbeatEveryFifteenSecondsPasses) {
  Trace tr(profiled());
  for (int i = 0; i < 4; ++i) {
    tr.cw(upd("room", "a"), 1);
    tr.wait_ms(15'000);
  }
  tr.cw(upd("room", "a"), 1);
  EXPECT_FALSE(tr.has("PRES-10")) << tr.all();
}

void view_note(Trace& tr, std::string users) {
  tr.checker.on_note(
      StateNote{tr.t, 1, Sender::Client, "presence_view", {{"channel", "room"}, {"users", users}}});
}

TEST(PRES_11, ViewOtherThanTheBroadcastIsFlagged) {
  Trace tr;
  tr.cr(bc("room", {peer("b", 0, "v"), peer("a", 0, "u")}), 1);
  view_note(tr, "u,u,v");
  EXPECT_TRUE(tr.has("PRES-11")) << tr.all();
}

TEST(PRES_11, ViewEqualToTheBroadcastInAnyOrderPasses) {
  Trace tr;
  tr.cr(bc("room", {peer("b", 0, "v"), peer("a", 0, "u")}), 1);
  view_note(tr, "u,v");
  EXPECT_FALSE(tr.has("PRES-11")) << tr.all();
}

// ---- throttle ---------------------------------------------------------------------------

void note(Trace& tr, Sender side, std::string kind, std::map<std::string, std::string> fields) {
  tr.checker.on_note(StateNote{tr.t, 1, side, std::move(kind), std::move(fields)});
}

TEST(THROTTLE_3, QueueDepthOtherThanTheBacklogIsFlagged) {
  Trace tr;
  note(tr, Sender::Client, "throttle_backlog", {{"backlog", "120"}, {"apply_rate", "50"}});
  tr.cw(Throttle{true, 5, 50}, 1);
  EXPECT_TRUE(tr.has("THROTTLE-3")) << tr.all();
}

TEST(THROTTLE_3, RateAboveWhatTheClientAbsorbsIsFlagged) {
  Trace tr;
  note(tr, Sender::Client, "throttle_backlog", {{"backlog", "120"}, {"apply_rate", "50"}});
  tr.cw(Throttle{true, 120, 500}, 1);
  EXPECT_TRUE(tr.has("THROTTLE-3")) << tr.all();
}

TEST(THROTTLE_3, BacklogAndApplyRatePass) {
  Trace tr;
  note(tr, Sender::Client, "throttle_backlog", {{"backlog", "120"}, {"apply_rate", "50"}});
  tr.cw(Throttle{true, 120, 50}, 1);
  note(tr, Sender::Client, "throttle_backlog", {{"backlog", "20"}, {"apply_rate", "50"}});
  tr.cw(Throttle{false, 20, 0}, 1);
  EXPECT_FALSE(tr.has("THROTTLE-3")) << tr.all();
}

TEST(THROTTLE_6, DropFromAQueueNotFullIsFlagged) {
  Trace tr(profiled());  // limit 10
  note(tr, Sender::Server, "data_dropped", {{"dropped", "1"}, {"queued", "3"}});
  EXPECT_TRUE(tr.has("THROTTLE-6")) << tr.all();
}

TEST(THROTTLE_6, QueueOverItsLimitIsFlagged) {
  Trace tr(profiled());
  note(tr, Sender::Server, "data_dropped", {{"dropped", "1"}, {"queued", "11"}});
  EXPECT_TRUE(tr.has("THROTTLE-6")) << tr.all();
}

TEST(THROTTLE_6, DropFromAFullQueuePasses) {
  Trace tr(profiled());
  note(tr, Sender::Server, "data_dropped", {{"dropped", "1"}, {"queued", "10"}});
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

TEST(THROTTLE_4, ExcessDroppedWhileThrottledIsFlagged) {
  Trace tr(profiled());
  join(tr, 1);
  tr.sr(Throttle{true, 100, 5}, 1);
  note(tr, Sender::Server, "data_dropped", {{"dropped", "4"}, {"queued", "4"}});
  EXPECT_TRUE(tr.has("THROTTLE-4")) << tr.all();
}

TEST(THROTTLE_4, QueuedFramesStillPacedAfterReleaseAreFlagged) {
  Trace tr;
  join(tr, 1);
  tr.sr(Throttle{true, 100, 5}, 1);
  tr.sr(Throttle{false, 10, 0}, 1);
  note(tr, Sender::Server, "throttle_released", {{"queued", "3"}});
  tr.sw(delta("s", 1), 1);
  tr.wait_ms(1000);
  tr.sw(delta("s", 2), 1);
  EXPECT_TRUE(tr.has("THROTTLE-4")) << tr.all();
}

TEST(THROTTLE_4, QueuedFramesSentAtTheReleasePass) {
  Trace tr;
  join(tr, 1);
  tr.sr(Throttle{true, 100, 5}, 1);
  tr.sr(Throttle{false, 10, 0}, 1);
  note(tr, Sender::Server, "throttle_released", {{"queued", "3"}});
  for (std::uint64_t lsn = 1; lsn <= 3; ++lsn) tr.sw(delta("s", lsn), 1);
  tr.wait_ms(1000);
  tr.sw(delta("s", 4), 1);
  EXPECT_FALSE(tr.has("THROTTLE-4")) << tr.all();
}

// ---- purge ------------------------------------------------------------------------------

TEST(PURGE_2, LateFirstNoticeJudgedAgainstThePurgeTimePasses) {
  Trace tr;
  join(tr, 1);
  tr.sr(subscribe("s"), 1);
  tr.sw(ShapeSnapshot{"s", Bytes{0x90}, 4, 0}, 1);
  tr.checker.on_purge(0, "orders", tr.t);           // no notice now (the server forgot it)
  tr.sw(ShapeSnapshot{"s", Bytes{0x90}, 5, 0}, 1);  // a later snapshot at the purge's position
  join(tr, 2);
  tr.sw(CollectionPurged{0, "orders", 5}, 2);  // first told by a replay
  EXPECT_FALSE(tr.has("PURGE-2")) << tr.all();
}

TEST(PURGE_2, PurgeLsnAtADeliveredLsnIsFlagged) {
  Trace tr;
  join(tr, 1);
  tr.sr(subscribe("s"), 1);
  tr.sw(ShapeSnapshot{"s", Bytes{0x90}, 4, 0}, 1);
  tr.checker.on_purge(0, "orders", tr.t);
  tr.sw(CollectionPurged{0, "orders", 4}, 1);
  EXPECT_TRUE(tr.has("PURGE-2")) << tr.all();
}

TEST(PURGE_3, DataFrameBeforeTheNoticeIsFlagged) {
  Trace tr;
  join(tr, 1);
  tr.sr(subscribe("s", "notes"), 1);
  tr.sw(ShapeSnapshot{"s", Bytes{0x90}, 1, 0}, 1);
  tr.checker.on_purge(0, "orders", tr.t);
  tr.sw(delta("s", 2, "notes"), 1);  // queued before the purge, written first
  tr.sw(CollectionPurged{0, "orders", 7}, 1);
  EXPECT_TRUE(tr.has("PURGE-3")) << tr.all();
}

TEST(PURGE_3, NoticeDelayedIsFlagged) {
  Trace tr;
  join(tr, 1);
  tr.checker.on_purge(0, "orders", tr.t);
  tr.wait_ms(2000);
  tr.sw(CollectionPurged{0, "orders", 7}, 1);
  EXPECT_TRUE(tr.has("PURGE-3")) << tr.all();
}

TEST(PURGE_3, NoticeAheadOfQueuedDataPasses) {
  Trace tr;
  join(tr, 1);
  tr.sr(subscribe("s", "notes"), 1);
  tr.sw(ShapeSnapshot{"s", Bytes{0x90}, 1, 0}, 1);
  tr.checker.on_purge(0, "orders", tr.t);
  tr.sw(CollectionPurged{0, "orders", 7}, 1);
  tr.sw(delta("s", 2, "notes"), 1);
  EXPECT_FALSE(tr.has("PURGE-3")) << tr.all();
}

// At a live tap (D167) the purge hook reports after the server acted: data
// passing the tap within the tap tolerance may have been written before the
// purge, and a notice seen before the hook reported was this purge's.
conformance::CheckerOptions at_a_tap() {
  conformance::CheckerOptions o;
  o.at_tap = true;
  return o;
}

TEST(PURGE_3, AtATapDataWithinTheTapToleranceOfTheHookPasses) {
  Trace tr(at_a_tap());
  join(tr, 1);
  tr.c(subscribe("s", "notes"), 1);
  tr.s(ShapeSnapshot{"s", Bytes{0x90}, 1, 0}, 1);
  tr.checker.on_purge(0, "orders", tr.t);
  tr.s(delta("s", 2, "notes"), 1);  // 1 us after the hook reported: in flight at the purge
  tr.s(CollectionPurged{0, "orders", 7}, 1);
  EXPECT_FALSE(tr.has("PURGE-3")) << tr.all();
}

TEST(PURGE_3, AtATapDataLaterThanTheTapToleranceIsFlagged) {
  Trace tr(at_a_tap());
  join(tr, 1);
  tr.c(subscribe("s", "notes"), 1);
  tr.s(ShapeSnapshot{"s", Bytes{0x90}, 1, 0}, 1);
  tr.checker.on_purge(0, "orders", tr.t);
  tr.wait_ms(200);
  tr.s(delta("s", 2, "notes"), 1);
  tr.s(CollectionPurged{0, "orders", 7}, 1);
  EXPECT_TRUE(tr.has("PURGE-3")) << tr.all();
}

TEST(PURGE_3, AtATapANoticeSeenBeforeTheHookReportedPasses) {
  Trace tr(at_a_tap());
  join(tr, 1);
  tr.c(subscribe("s", "notes"), 1);
  tr.s(ShapeSnapshot{"s", Bytes{0x90}, 1, 0}, 1);
  tr.s(CollectionPurged{0, "orders", 7}, 1);
  tr.checker.on_purge(0, "orders", tr.t);
  tr.wait_ms(200);
  tr.s(delta("s", 2, "notes"), 1);
  tr.s(CollectionPurged{0, "orders", 7}, 1);  // told again (as a replay would)
  EXPECT_FALSE(tr.has("PURGE-3")) << tr.all();
}

std::map<std::string, std::string> handled(std::string lsn, std::string before_rec, std::string rec,
                                           std::string docs_before, std::string docs) {
  return {{"collection", "orders"},
          {"purge_lsn", lsn},
          {"recorded_before", before_rec},
          {"recorded", rec},
          {"documents_before", docs_before},
          {"documents", docs},
          {"pending_before", "0"},
          {"pending", "0"},
          {"shapes_before", "1"},
          {"shapes", before_rec == "0" ? "0" : "1"}};
}

TEST(PURGE_6, DocumentsKeptAfterAPurgeAreFlagged) {
  Trace tr;
  note(tr, Sender::Client, "purge_handled", handled("7", "0", "7", "3", "3"));
  EXPECT_TRUE(tr.has("PURGE-6")) << tr.all();
}

TEST(PURGE_6, EverythingDroppedAndRecordedPasses) {
  Trace tr;
  note(tr, Sender::Client, "purge_handled", handled("7", "0", "7", "3", "0"));
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

TEST(PURGE_8, RepeatedPurgeThatDropsDataIsFlagged) {
  Trace tr;
  note(tr, Sender::Client, "purge_handled", handled("7", "7", "7", "2", "0"));
  EXPECT_TRUE(tr.has("PURGE-8")) << tr.all();
}

TEST(PURGE_8, RepeatedPurgeChangesNothingPasses) {
  Trace tr;
  note(tr, Sender::Client, "purge_handled", handled("7", "7", "7", "2", "2"));
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

}  // namespace
}  // namespace syncsim::test

namespace syncsim::test {
namespace {

using namespace checker_trace;

// D113: a push rejected at step 9 (a constraint) was accepted at step 8 and
// touched its collection; one rejected before step 8 did not.
void pushed_then_purged(Trace& tr, std::string reason) {
  join(tr, 1);
  tr.cw(push(1), 1);
  tr.sr(push(1), 1);
  tr.sw(DeltaReject{1, std::move(reason), std::nullopt}, 1);
  tr.checker.on_purge(0, "orders", tr.t);
  tr.checker.finish(tr.t + 20 * kS);
}

TEST(PURGE_1, ConstraintRejectedPushTouchedTheCollection) {
  Trace tr;
  pushed_then_purged(tr, "unique violation");
  EXPECT_TRUE(tr.has("PURGE-1")) << tr.all();
}

TEST(PURGE_1, PushRejectedBeforeAcceptanceDidNotTouchIt) {
  Trace tr;
  pushed_then_purged(tr, "empty delta");
  EXPECT_FALSE(tr.has("PURGE-1")) << tr.all();
}

}  // namespace
}  // namespace syncsim::test
