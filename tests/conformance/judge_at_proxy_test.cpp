// What a live proxy's records let the checker judge (D180): a proxy records
// a frame as read when it hands it over, so DELTA-12 holds there within the
// tap tolerance; a hang-up right after a ResyncRequest (RESYNC-7) or a
// repeated CollectionPurged (PURGE-8) is judged like FRAME-10's. Each rule
// has a trace that breaks it and one that keeps it.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test::judge_at_proxy {
namespace {

using namespace protocol;
using namespace checker_trace;

// A live proxy's checker: every record at a tap, 50 ms tolerance (D81, D118).
conformance::CheckerOptions at_proxy() {
  conformance::CheckerOptions o;
  o.at_tap = true;
  o.tap_tolerance_ns = 50 * kMs;
  return o;
}

void open(Trace& tr, std::uint64_t conn = 1, std::uint64_t epoch = 1) {
  Handshake h = hs();
  h.lite_id = "lite-a";
  h.epoch = epoch;
  tr.cw(h, conn);
  tr.sr(h, conn);
  tr.sw(ok_ack("sync-a:" + std::to_string(conn)), conn);
  tr.cr(ok_ack("sync-a:" + std::to_string(conn)), conn);
}
void hangup(Trace& tr, Sender side, std::int64_t after_ns, std::uint64_t conn = 1) {
  tr.checker.on_hangup(conn, side, tr.t += after_ns);
}

// ---- DELTA-12 at a proxy ------------------------------------------------------

TEST(DELTA_12, AtAProxyAPushAfterTheHandedAckAndTheToleranceIsTheClients) {
  Trace tr(at_proxy());
  open(tr);
  tr.cw(push(1));
  tr.sr(push(1));
  tr.sw(DeltaAck{1, 1, std::nullopt});
  tr.cr(DeltaAck{1, 1, std::nullopt});  // handed to the client
  tr.wait_ms(300);
  tr.cw(push(1));
  EXPECT_TRUE(tr.blamed("DELTA-12", Sender::Client)) << tr.all();
}

TEST(DELTA_12, AtAProxyAPushWithinTheToleranceMayHaveCrossedTheAck) {
  Trace tr(at_proxy());
  open(tr);
  tr.cw(push(1));
  tr.sr(push(1));
  tr.sw(DeltaAck{1, 1, std::nullopt});
  tr.cr(DeltaAck{1, 1, std::nullopt});
  tr.wait_ms(10);
  tr.cw(push(1));  // written before the client read the ack
  EXPECT_FALSE(tr.has("DELTA-12")) << tr.all();
  tr.wait_ms(300);
  tr.cw(push(1));  // and again, long after: that one is the client's
  EXPECT_TRUE(tr.blamed("DELTA-12", Sender::Client)) << tr.all();
}

// ---- RESYNC-7: a resync never ends the session ----------------------------------

ResyncRequest resync() { return ResyncRequest{resync_reason::SequenceGap{2, 4}, 2, ""}; }

TEST(RESYNC_7, AServerThatHangsUpOnAResyncRequestIsFlagged) {
  Trace tr;  // the simulator: at the instant it read the request
  open(tr);
  tr.cw(resync());
  tr.sr(resync());
  hangup(tr, Sender::Server, 0);
  EXPECT_TRUE(tr.blamed("RESYNC-7", Sender::Server)) << tr.all();
  Trace proxy(at_proxy());  // at a proxy: within the hang-up window
  open(proxy);
  proxy.cw(resync());
  proxy.sr(resync());
  proxy.sw(DeltaAck{1, 1, std::nullopt});  // on its way before the request was read
  hangup(proxy, Sender::Server, 20 * kMs);
  EXPECT_TRUE(proxy.blamed("RESYNC-7", Sender::Server)) << proxy.all();
}

TEST(RESYNC_7, AServerThatAnswersOrHangsUpLaterIsClean) {
  Trace answered;
  open(answered);
  answered.cw(resync());
  answered.sr(resync());
  answered.sw(ShapeSnapshot{"s", {}, 2, 0});  // it answered: the hang-up has another cause
  hangup(answered, Sender::Server, 0);
  EXPECT_FALSE(answered.has("RESYNC-7")) << answered.all();
  Trace later;  // the simulator's hang-up is exact: 1 ms later is another cause
  open(later);
  later.cw(resync());
  later.sr(resync());
  hangup(later, Sender::Server, kMs);
  EXPECT_FALSE(later.has("RESYNC-7")) << later.all();
  Trace client(at_proxy());  // the client hanging up is not the server's doing
  open(client);
  client.cw(resync());
  client.sr(resync());
  hangup(client, Sender::Client, 0);
  EXPECT_FALSE(client.has("RESYNC-7")) << client.all();
}

// ---- PURGE-8: a repeated purge is no error ---------------------------------------

CollectionPurged purged(std::uint64_t lsn) { return CollectionPurged{0, "orders", lsn}; }

TEST(PURGE_8, AClientThatHangsUpOnAReplayedPurgeIsFlagged) {
  Trace tr(at_proxy());
  open(tr, 1, 1);
  tr.sw(purged(5), 1);
  tr.cr(purged(5), 1);
  tr.on_close_both(1);
  open(tr, 2, 2);  // the same client (lite_id) again: the purge is replayed
  tr.sw(purged(5), 2);
  tr.cr(purged(5), 2);
  tr.cw(subscribe("s"), 2);  // queued on reading the ack: it does not clear it
  hangup(tr, Sender::Client, 30 * kMs, 2);
  EXPECT_TRUE(tr.blamed("PURGE-8", Sender::Client)) << tr.all();
}

TEST(PURGE_8, HangingUpAfterAFirstOrANewerPurgeIsNotThisRule) {
  Trace first(at_proxy());
  open(first);
  first.sw(purged(5));
  first.cr(purged(5));
  hangup(first, Sender::Client, 30 * kMs);
  EXPECT_FALSE(first.has("PURGE-8")) << first.all();
  Trace newer(at_proxy());
  open(newer);
  newer.sw(purged(5));
  newer.cr(purged(5));
  newer.sw(purged(9));  // purged again after a re-creation: a new purge
  newer.cr(purged(9));
  hangup(newer, Sender::Client, 30 * kMs);
  EXPECT_FALSE(newer.has("PURGE-8")) << newer.all();
  Trace late(at_proxy());
  open(late);
  late.sw(purged(5));
  late.cr(purged(5));
  late.sw(purged(5));
  late.cr(purged(5));
  hangup(late, Sender::Client, 2 * kS);  // long after: another cause
  EXPECT_FALSE(late.has("PURGE-8")) << late.all();
}

}  // namespace
}  // namespace syncsim::test::judge_at_proxy
