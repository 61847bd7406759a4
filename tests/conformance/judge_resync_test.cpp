// The resync judge (judge_resync.cpp): for each rule it judges, a trace that
// breaks it (the finding, blamed on the side the rule binds) and one that
// keeps it; and the suspected false alarms of issue 15, each checked.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test::resync_judge {
namespace {

using namespace protocol;
using namespace checker_trace;

void open(Trace& tr, std::uint64_t conn = 1) {
  tr.c(hs(), conn);
  tr.s(ok_ack("sync-a:" + std::to_string(conn)), conn);
}

ResyncRequest gap(std::uint64_t expected, std::uint64_t received) {
  return ResyncRequest{resync_reason::SequenceGap{expected, received}, expected, ""};
}

// Deltas 1 and 4 of shape s: a gap at 4 (expected 2).
void gapped(Trace& tr) {
  open(tr);
  tr.c(subscribe("s"));
  tr.s(ShapeSnapshot{"s", Bytes{0x90}, 0, 0});
  tr.s(delta("s", 1));
  tr.s(delta("s", 4));
}

// ---- RESYNC-1: `expected` is one past the last lsn read ---------------------

TEST(RESYNC_1, TheRequestNamesTheLsnAfterTheLastOneRead) {
  Trace kept;
  gapped(kept);
  kept.c(gap(2, 4));
  EXPECT_FALSE(kept.has("RESYNC-1")) << kept.all();
  EXPECT_FALSE(kept.has("RESYNC-2")) << kept.all();

  Trace broken;  // from the last lsn read, not the next
  gapped(broken);
  broken.c(gap(1, 4));
  EXPECT_TRUE(broken.first_blamed("RESYNC-1", Sender::Client)) << broken.all();
  EXPECT_FALSE(broken.has("RESYNC-4")) << broken.all();
}

TEST(RESYNC_1, TrackingStartsOverOnANewConnection) {
  Trace tr;  // the gap 1 -> 4 was on connection 1; connection 2 read only 5
  gapped(tr);
  tr.on_close_both(1);
  open(tr, 2);
  tr.c(subscribe("s"), 2);
  tr.s(delta("s", 5), 2);
  tr.c(gap(2, 5), 2);
  EXPECT_TRUE(tr.first_blamed("RESYNC-4", Sender::Client)) << tr.all();
}

// ---- RESYNC-2: the request's exact form -------------------------------------

TEST(RESYNC_2, FromMutationIdIsExpectedAndCollectionIsEmpty) {
  Trace from;
  gapped(from);
  from.c(ResyncRequest{resync_reason::SequenceGap{2, 4}, 0, ""});
  EXPECT_TRUE(from.first_blamed("RESYNC-2", Sender::Client)) << from.all();

  Trace coll;
  gapped(coll);
  coll.c(ResyncRequest{resync_reason::SequenceGap{2, 4}, 2, "orders"});
  EXPECT_TRUE(coll.first_blamed("RESYNC-2", Sender::Client)) << coll.all();
}

// Issue 15: a request of another reason, or for another gap, does not settle
// the one owed (verified: it is flagged).
TEST(RESYNC_2, OnlyTheOwedGapSettlesTheObligation) {
  Trace other;
  gapped(other);
  other.wait_ms(60);  // past the tap tolerance (D81)
  other.c(ResyncRequest{resync_reason::CorruptedState{}, 0, ""});
  EXPECT_TRUE(other.first_blamed("RESYNC-2", Sender::Client)) << other.all();

  Trace older;
  gapped(older);
  older.wait_ms(60);
  older.c(gap(2, 3));
  EXPECT_TRUE(older.first_blamed("RESYNC-2", Sender::Client)) << older.all();
}

// ---- RESYNC-4 (issue 15: the maximum or the last lsn read) -------------------

TEST(RESYNC_4, AGapUnderEitherTrackingMayBeReported) {
  // Lite's t is the last lsn read (RESYNC-1): 5, 3, 6 is a gap 4 -> 6 for it,
  // though not above the highest lsn read.
  Trace lite;
  open(lite);
  lite.c(subscribe("s"));
  lite.s(delta("s", 5));
  lite.s(delta("s", 3));
  lite.s(delta("s", 7));
  lite.c(gap(4, 7));
  EXPECT_FALSE(lite.has("RESYNC-4")) << lite.all();
  EXPECT_FALSE(lite.has("RESYNC-1")) << lite.all();
  // The reference client's t never goes down (RESYNC-3 HC): 6 -> 7.
  Trace never_lowered;
  open(never_lowered);
  never_lowered.c(subscribe("s"));
  never_lowered.s(delta("s", 5));
  never_lowered.s(delta("s", 3));
  never_lowered.s(delta("s", 7));
  never_lowered.c(gap(6, 7));
  EXPECT_FALSE(never_lowered.has("RESYNC-4")) << never_lowered.all();
  EXPECT_FALSE(never_lowered.has("RESYNC-1")) << never_lowered.all();

  Trace none;  // 7 followed 6: no gap at all
  open(none);
  none.c(subscribe("s"));
  none.s(delta("s", 6));
  none.s(delta("s", 7));
  none.c(gap(6, 7));
  EXPECT_TRUE(none.first_blamed("RESYNC-4", Sender::Client)) << none.all();
}

// ---- RESYNC-7: no error frame for a ResyncRequest ---------------------------

TEST(RESYNC_7, TheServerAnswersAResyncRequestWithNoErrorFrame) {
  auto run = [](const Message& answer) {
    auto tr = std::make_unique<Trace>();
    tr->cw(hs());
    tr->sr(hs());
    tr->sw(ok_ack());
    tr->cr(ok_ack());
    tr->cw(ResyncRequest{resync_reason::CorruptedState{}, 0, ""});
    tr->sr(ResyncRequest{resync_reason::CorruptedState{}, 0, ""});
    tr->sw(answer);
    return tr;
  };
  EXPECT_FALSE(run(ShapeDelta{"s", "orders", "d", "UPDATE", {1}, 1})->has("RESYNC-7"));
  const auto rejected = run(DeltaReject{0, "unexpected resync", std::nullopt});
  EXPECT_TRUE(rejected->first_blamed("RESYNC-7", Sender::Server)) << rejected->all();

  Trace tap;  // at a tap the server may have written it before it read the request
  open(tap);
  tap.c(ResyncRequest{resync_reason::CorruptedState{}, 0, ""});
  tap.s(DeltaReject{0, "x", std::nullopt});
  EXPECT_FALSE(tap.has("RESYNC-7")) << tap.all();
}

// ---- RESYNC-8 (issue 15: shape_id order) -------------------------------------

TEST(RESYNC_8, FreshSnapshotsInShapeIdOrderNotCountingSubscribeAnswers) {
  // At a tap: subscribes b and a, then a request, pass before any answer; the
  // answers to the subscribes (b, a) come first, then the fresh ones (a, b).
  Trace kept;
  open(kept);
  kept.c(subscribe("b"));
  kept.c(subscribe("a"));
  kept.c(ResyncRequest{resync_reason::CorruptedState{}, 0, ""});
  for (const char* id : {"b", "a", "a", "b"}) kept.s(ShapeSnapshot{id, Bytes{0x90}, 0, 0});
  kept.checker.finish(kept.t + 60'000 * kMs);
  EXPECT_FALSE(kept.has("RESYNC-8")) << kept.all();

  Trace broken;
  open(broken);
  broken.c(subscribe("b"));
  broken.c(subscribe("a"));
  for (const char* id : {"b", "a"}) broken.s(ShapeSnapshot{id, Bytes{0x90}, 0, 0});
  broken.c(ResyncRequest{resync_reason::CorruptedState{}, 0, ""});
  for (const char* id : {"b", "a"}) broken.s(ShapeSnapshot{id, Bytes{0x90}, 0, 0});
  EXPECT_TRUE(broken.first_blamed("RESYNC-8", Sender::Server)) << broken.all();
}

// ---- RESYNC-9: the client re-sends what a server's ResyncRequest names ------

TEST(RESYNC_9, UnacknowledgedMutationsAreSentAgain) {
  Trace kept;
  open(kept);
  kept.c(push(1));
  kept.c(push(2));
  kept.s(DeltaAck{1, 1, std::nullopt});
  kept.s(ResyncRequest{resync_reason::CorruptedState{}, 0, ""});
  kept.c(push(2));  // sent again, still unanswered
  kept.checker.finish(kept.t + 60'000 * kMs);
  EXPECT_FALSE(kept.has("RESYNC-9")) << kept.all();

  Trace silent;  // mutation 2 was never answered
  open(silent);
  silent.c(push(1));
  silent.c(push(2));
  silent.s(DeltaAck{1, 1, std::nullopt});
  silent.s(ResyncRequest{resync_reason::CorruptedState{}, 0, ""});
  silent.checker.finish(silent.t + 60'000 * kMs);
  EXPECT_TRUE(silent.first_blamed("RESYNC-9", Sender::Client)) << silent.all();

  Trace other;  // from_mutation_id above it: not named
  open(other);
  other.c(push(1));
  other.s(ResyncRequest{resync_reason::CorruptedState{}, 5, ""});
  other.checker.finish(other.t + 60'000 * kMs);
  EXPECT_FALSE(other.has("RESYNC-9")) << other.all();
}

}  // namespace
}  // namespace syncsim::test::resync_judge
