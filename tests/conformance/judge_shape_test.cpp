// The shape judge (judge_shape.cpp): for each rule it judges, a trace that
// breaks it (the finding, blamed on the side the rule binds) and one that
// keeps it. Rules judged from state notes (D84) get notes as the reference
// pair makes them.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test::shape_judge {
namespace {

using namespace protocol;
using namespace checker_trace;
using conformance::StateNote;

void open(Trace& tr, std::uint64_t conn = 1) {
  tr.c(hs(), conn);
  tr.s(ok_ack("sync-a:" + std::to_string(conn)), conn);
}

// The finding of `rule`, blamed on `side`; fails the test when there is none.

void note(Trace& tr, Sender side, std::uint64_t conn, std::string kind,
          std::map<std::string, std::string> fields) {
  StateNote n;
  n.t = tr.t += 1000;
  n.conn = conn;
  n.side = side;
  n.kind = std::move(kind);
  n.fields = std::move(fields);
  tr.checker.on_note(n);
}

std::string digest(const Bytes& b) {  // FNV-1a 64, as reference/snapshot.cpp
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const std::uint8_t c : b) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return std::to_string(h);
}

// [["d", bin 01]]: one document, as the reference server encodes it.
const Bytes kOneDoc = {0x91, 0x92, 0xa1, 'd', 0xc4, 0x01, 0x01};
const Bytes kNoDocs = {0x90};

void finish(Trace& tr) { tr.checker.finish(tr.t + 60'000 * kMs); }

// ---- SHAPE-3 (notes): every later matching write reaches the subscription ----

void write_note(Trace& tr, std::uint64_t lsn, std::uint32_t tenant = 0) {
  note(tr, Sender::Server, 0, "write_applied",
       {{"tenant", std::to_string(tenant)},
        {"collection", "orders"},
        {"document_id", "d"},
        {"lsn", std::to_string(lsn)}});
}

void subscribed(Trace& tr, std::uint64_t snapshot_lsn = 0) {
  tr.c(hs());
  note(tr, Sender::Server, 1, "session_tenant", {{"tenant", "0"}});
  tr.s(ok_ack());
  tr.c(subscribe("s"));
  tr.s(ShapeSnapshot{"s", kNoDocs, snapshot_lsn, 0});
}

TEST(SHAPE_3, AWriteAboveTheSnapshotIsDeliveredAsAShapeDelta) {
  Trace kept;
  subscribed(kept, 2);
  write_note(kept, 3);
  kept.s(delta("s", 3));
  write_note(kept, 2);  // at or below the snapshot: not owed
  finish(kept);
  EXPECT_FALSE(kept.has("SHAPE-3")) << kept.all();

  Trace broken;
  subscribed(broken, 2);
  write_note(broken, 3);
  finish(broken);
  EXPECT_TRUE(broken.first_blamed("SHAPE-3", Sender::Server)) << broken.all();
}

TEST(SHAPE_3, AThrottledOrPurgedSessionOwesNothing) {
  Trace throttled;
  subscribed(throttled);
  throttled.c(Throttle{true, 5, 1});
  write_note(throttled, 1);
  finish(throttled);
  EXPECT_FALSE(throttled.has("SHAPE-3")) << throttled.all();

  Trace purged;
  subscribed(purged);
  purged.s(CollectionPurged{0, "orders", 1});
  write_note(purged, 2);
  finish(purged);
  EXPECT_FALSE(purged.has("SHAPE-3")) << purged.all();
}

// ---- SHAPE-4: the snapshot is taken at the server's position, with its data --

TEST(SHAPE_4, SnapshotLsnIsNotBelowAnLsnTheSessionWasShown) {
  Trace broken;
  open(broken);
  broken.c(subscribe("s"));
  broken.s(ShapeSnapshot{"s", kNoDocs, 0, 0});
  broken.s(delta("s", 5));
  broken.c(subscribe("s"));
  broken.s(ShapeSnapshot{"s", kNoDocs, 3, 0});  // the server showed lsn 5 already
  EXPECT_TRUE(broken.first_blamed("SHAPE-4", Sender::Server)) << broken.all();

  Trace kept;
  open(kept);
  kept.c(subscribe("s"));
  kept.s(ShapeSnapshot{"s", kNoDocs, 0, 0});
  kept.s(delta("s", 5));
  kept.c(subscribe("s"));
  kept.s(ShapeSnapshot{"s", kOneDoc, 5, 1});
  kept.c(subscribe("t", "other"));
  kept.s(ShapeSnapshot{"t", kNoDocs, 0, 0});  // another collection's counter
  EXPECT_FALSE(kept.has("SHAPE-4")) << kept.all();
}

TEST(SHAPE_4, TheSnapshotHoldsTheServersDataAsNoted) {
  auto run = [](const Bytes& data, std::uint64_t count) {
    auto tr = std::make_unique<Trace>();
    open(*tr);
    tr->c(subscribe("s"));
    note(*tr, Sender::Server, 1, "snapshot_taken",
         {{"shape_id", "s"}, {"lsn", "4"}, {"docs", "1"}, {"digest", digest(kOneDoc)}});
    tr->s(ShapeSnapshot{"s", data, 4, count});
    return tr;
  };
  EXPECT_FALSE(run(kOneDoc, 1)->has("SHAPE-4"));
  const auto missing = run(kNoDocs, 0);
  EXPECT_TRUE(missing->first_blamed("SHAPE-4", Sender::Server)) << missing->all();
}

// ---- SHAPE-5: a re-subscription replaces the definition ---------------------

TEST(SHAPE_5, AfterTheNewSnapshotDeltasFollowTheNewDefinition) {
  auto resubscribed = [](Trace& tr) {
    open(tr);
    tr.c(subscribe("s", "orders"));
    tr.s(ShapeSnapshot{"s", kNoDocs, 0, 0});
    tr.s(delta("s", 1, "orders"));
    tr.c(subscribe("s", "users"));
    tr.s(delta("s", 2, "orders"));  // before the answer: the old definition still holds
    tr.s(ShapeSnapshot{"s", kNoDocs, 0, 0});
  };
  Trace kept;
  resubscribed(kept);
  kept.s(delta("s", 1, "users"));
  EXPECT_FALSE(kept.has("SHAPE-5")) << kept.all();
  EXPECT_FALSE(kept.has("SHAPE-8")) << kept.all();

  Trace broken;
  resubscribed(broken);
  broken.s(delta("s", 3, "orders"));
  EXPECT_TRUE(broken.first_blamed("SHAPE-5", Sender::Server)) << broken.all();
}

// ---- SHAPE-6 at a tap: a delta passing just after the unsubscribe ----------

TEST(SHAPE_6, AtATapADeltaJustAfterTheUnsubscribeMayHaveCrossedIt) {
  Trace tr;
  open(tr);
  tr.c(subscribe("s"));
  tr.s(ShapeSnapshot{"s", kNoDocs, 0, 0});
  tr.c(ShapeUnsubscribe{"s"});
  tr.s(delta("s", 1));  // written before the server read the unsubscribe, maybe
  EXPECT_FALSE(tr.has("SHAPE-6")) << tr.all();
  tr.wait_ms(60);  // past the tap tolerance (D81)
  tr.s(delta("s", 2));
  EXPECT_TRUE(tr.first_blamed("SHAPE-6", Sender::Server)) << tr.all();
}

// ---- SHAPE-8: a shape gets its own collection's writes of its own tenant ----

TEST(SHAPE_8, ADeltaOfAnotherCollectionIsFlagged) {
  Trace broken;
  open(broken);
  broken.c(subscribe("s", "orders"));
  broken.s(ShapeSnapshot{"s", kNoDocs, 0, 0});
  broken.s(delta("s", 1, "users"));
  EXPECT_TRUE(broken.first_blamed("SHAPE-8", Sender::Server)) << broken.all();

  Trace graph;  // D105: Graph shapes are not judged
  open(graph);
  ShapeSubscribe g;
  g.shape.shape_id = "g";
  g.shape.shape_type = shape_type::Graph{{"a"}, 1, std::nullopt};
  graph.c(g);
  graph.s(ShapeSnapshot{"g", kNoDocs, 0, 0});
  graph.s(delta("g", 1, "users"));
  EXPECT_FALSE(graph.has("SHAPE-8")) << graph.all();
}

TEST(SHAPE_8, ADeltaCarriesAWriteOfTheSessionsTenant) {
  auto run = [](std::uint32_t writer_tenant) {
    auto tr = std::make_unique<Trace>();
    tr->c(hs());
    note(*tr, Sender::Server, 1, "session_tenant", {{"tenant", "2"}});
    tr->s(ok_ack());
    tr->c(subscribe("s"));
    tr->s(ShapeSnapshot{"s", kNoDocs, 0, 0});
    write_note(*tr, 1, writer_tenant);
    tr->s(delta("s", 1));
    return tr;
  };
  EXPECT_FALSE(run(2)->has("SHAPE-8"));
  const auto leaked = run(1);
  EXPECT_TRUE(leaked->first_blamed("SHAPE-8", Sender::Server)) << leaked->all();
}

// ---- SHAPE-10: lsns go up by one from the snapshot's ----------------------

TEST(SHAPE_10, WrittenDeltasFollowTheSnapshotOneByOne) {
  auto run = [](std::uint64_t second) {
    auto tr = std::make_unique<Trace>();
    open(*tr);
    tr->c(subscribe("s"));
    tr->sw(ShapeSnapshot{"s", kNoDocs, 3, 0});
    tr->sw(delta("s", 4));
    tr->sw(delta("s", second));
    return tr;
  };
  EXPECT_FALSE(run(5)->has("SHAPE-10"));
  const auto jumped = run(7);
  EXPECT_TRUE(jumped->first_blamed("SHAPE-10", Sender::Server)) << jumped->all();

  Trace throttled;  // THROTTLE-6 may drop: not judged
  open(throttled);
  throttled.c(subscribe("s"));
  throttled.sw(ShapeSnapshot{"s", kNoDocs, 3, 0});
  throttled.c(Throttle{true, 5, 1});
  throttled.sw(delta("s", 7));
  EXPECT_FALSE(throttled.has("SHAPE-10")) << throttled.all();

  Trace tap;  // a tap may sit behind a lossy relay
  open(tap);
  tap.c(subscribe("s"));
  tap.s(ShapeSnapshot{"s", kNoDocs, 3, 0});
  tap.s(delta("s", 7));
  EXPECT_FALSE(tap.has("SHAPE-10")) << tap.all();
}

// ---- SHAPE-11 / SHAPE-12 (client notes): snapshot and delta applied ---------

TEST(SHAPE_11, TheClientHoldsTheSnapshotsDataAndPosition) {
  auto run = [](const std::string& held, std::uint64_t position) {
    auto tr = std::make_unique<Trace>();
    open(*tr);
    tr->c(subscribe("s"));
    tr->s(ShapeSnapshot{"s", kOneDoc, 4, 1});
    note(*tr, Sender::Client, 1, "snapshot_applied",
         {{"shape_id", "s"}, {"position", std::to_string(position)}, {"digest", held}});
    return tr;
  };
  EXPECT_FALSE(run(digest(kOneDoc), 4)->has("SHAPE-11"));
  EXPECT_FALSE(run(digest(kOneDoc), 6)->has("SHAPE-11"));  // RESYNC-3 HC: never lowered
  const auto stale = run(digest(kNoDocs), 4);
  EXPECT_TRUE(stale->first_blamed("SHAPE-11", Sender::Client)) << stale->all();
  const auto behind = run(digest(kOneDoc), 0);
  EXPECT_TRUE(behind->first_blamed("SHAPE-11", Sender::Client)) << behind->all();
}

TEST(SHAPE_12, TheClientsPositionRisesToTheDeltasLsn) {
  auto run = [](std::uint64_t position) {
    auto tr = std::make_unique<Trace>();
    open(*tr);
    tr->c(subscribe("s"));
    tr->s(ShapeSnapshot{"s", kNoDocs, 0, 0});
    tr->s(delta("s", 1));
    note(*tr, Sender::Client, 1, "delta_read",
         {{"shape_id", "s"}, {"lsn", "1"}, {"position", std::to_string(position)}});
    return tr;
  };
  EXPECT_FALSE(run(1)->has("SHAPE-12"));
  const auto stuck = run(0);
  EXPECT_TRUE(stuck->first_blamed("SHAPE-12", Sender::Client)) << stuck->all();
}

// ---- SHAPE-13 (client notes): a shape removed locally is unsubscribed -------

TEST(SHAPE_13, AShapeRemovedLocallyIsUnsubscribed) {
  auto run = [](bool unsubscribe) {
    auto tr = std::make_unique<Trace>();
    open(*tr);
    tr->c(subscribe("s"));
    tr->s(ShapeSnapshot{"s", kNoDocs, 0, 0});
    note(*tr, Sender::Client, 1, "shape_removed", {{"shape_id", "s"}});
    if (unsubscribe) tr->c(ShapeUnsubscribe{"s"});
    finish(*tr);
    return tr;
  };
  EXPECT_FALSE(run(true)->has("SHAPE-13"));
  const auto silent = run(false);
  EXPECT_TRUE(silent->first_blamed("SHAPE-13", Sender::Client)) << silent->all();
}

// ---- SHAPE-14: the client subscribes its shapes after every handshake -------

TEST(SHAPE_14, EveryListedShapeIsSubscribedAfterTheHandshake) {
  auto run = [](bool resubscribe) {
    auto tr = std::make_unique<Trace>();
    Handshake h = hs();
    h.subscribed_shapes = {"a", "b"};
    tr->c(h, 2);
    tr->s(ok_ack("sync-a:2"), 2);
    tr->c(subscribe("a"), 2);
    if (resubscribe) tr->c(subscribe("b"), 2);
    finish(*tr);
    return tr;
  };
  EXPECT_FALSE(run(true)->has("SHAPE-14"));
  const auto forgot = run(false);
  EXPECT_TRUE(forgot->first_blamed("SHAPE-14", Sender::Client)) << forgot->all();

  Trace refused;  // no successful handshake: nothing owed
  Handshake h = hs();
  h.subscribed_shapes = {"a"};
  refused.c(h);
  HandshakeAck no;
  no.session_id = "sync-a:1";
  no.error = "JWT token expired";
  no.server_wire_version = 4;
  refused.s(no);
  finish(refused);
  EXPECT_FALSE(refused.has("SHAPE-14")) << refused.all();
}

}  // namespace
}  // namespace syncsim::test::shape_judge
