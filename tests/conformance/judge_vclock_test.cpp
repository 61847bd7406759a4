// Vector clocks (issue 15): what a HandshakeAck's server_clock may hold
// (VCLOCK-6) and that clocks map collections to LSNs (VCLOCK-3), on the wire
// and in the reference client's notes. Each rule has a trace that breaks it
// and one that keeps it.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test::judge_vclock {
namespace {

using namespace protocol;
using namespace checker_trace;

HandshakeAck ack_with(std::map<std::string, std::uint64_t> clock) {
  HandshakeAck a = ok_ack();
  a.server_clock = std::move(clock);
  return a;
}
void open(Trace& tr, const HandshakeAck& a = ok_ack()) {
  tr.cw(hs());
  tr.sr(hs());
  tr.sw(a);
  tr.cr(a);
}

TEST(VCLOCK_6, AServerClockTheConnectionNeverGaveIsTheServers) {
  Trace tr;
  open(tr, ack_with({{"orders", 3}}));
  EXPECT_TRUE(tr.blamed("VCLOCK-6", Sender::Server)) << tr.all();

  Trace above;
  above.cw(VectorClockSync{{{"orders", 2}}, 9});
  above.sr(VectorClockSync{{{"orders", 2}}, 9});
  open(above, ack_with({{"orders", 3}}));
  EXPECT_TRUE(above.has("VCLOCK-6")) << above.all();
}

TEST(VCLOCK_6, AnEmptyClockOrOneAnEarlierSyncGaveKeepsIt) {
  Trace tr;
  open(tr);
  EXPECT_FALSE(tr.has("VCLOCK-6")) << tr.all();

  Trace origin;  // Origin merges a VectorClockSync read before the handshake
  origin.cw(VectorClockSync{{{"orders", 3}}, 9});
  origin.sr(VectorClockSync{{{"orders", 3}}, 9});
  open(origin, ack_with({{"orders", 3}}));
  EXPECT_FALSE(origin.has("VCLOCK-6")) << origin.all();
}

TEST(VCLOCK_3, AClientClockAboveEveryAnnouncedLsnIsTheClients) {
  Trace tr;
  open(tr);
  tr.cw(VectorClockSync{{{"orders", 9}}, 5});
  EXPECT_TRUE(tr.blamed("VCLOCK-3", Sender::Client)) << tr.all();

  Trace peer;  // Lite's reading: peer ids in hex and CRDT counters
  open(peer);
  peer.sw(delta("s", 4));
  peer.cw(VectorClockSync{{{"00000000000000ff", 17}}, 5});
  EXPECT_TRUE(peer.has("VCLOCK-3")) << peer.all();
}

TEST(VCLOCK_3, AClientClockOfLsnsItWasToldKeepsIt) {
  Trace tr;
  open(tr);
  tr.c(subscribe("s"));
  tr.sw(ShapeSnapshot{"s", {}, 4, 0});
  tr.cr(ShapeSnapshot{"s", {}, 4, 0});
  tr.sw(delta("s", 5));
  tr.cr(delta("s", 5));
  tr.cw(VectorClockSync{{{"orders", 5}}, 5});
  tr.sr(VectorClockSync{{{"orders", 5}}, 5});
  tr.sw(VectorClockSync{{{"orders", 5}}, 0});
  tr.cr(VectorClockSync{{{"orders", 5}}, 0});
  tr.cw(VectorClockSync{{{"orders", 5}, {"empty", 0}}, 5});
  EXPECT_FALSE(tr.has("VCLOCK-3")) << tr.all();
}

conformance::StateNote clock_note(std::int64_t t, std::map<std::string, std::string> kept) {
  conformance::StateNote n{t, 1, Sender::Client, "server_clock", {}};
  for (auto& [k, v] : kept) n.fields["k:" + k] = v;
  return n;
}

TEST(VCLOCK_3, AReferenceClientThatDoesNotMergeTheServersClockIsTheClients) {
  Trace tr;
  open(tr);
  tr.sw(VectorClockSync{{{"orders", 5}}, 0});
  tr.cr(VectorClockSync{{{"orders", 5}}, 0});
  tr.checker.on_note(clock_note(tr.t, {}));
  EXPECT_TRUE(tr.blamed("VCLOCK-3", Sender::Client)) << tr.all();

  Trace lower;
  open(lower);
  lower.sw(VectorClockSync{{{"orders", 5}}, 0});
  lower.cr(VectorClockSync{{{"orders", 5}}, 0});
  lower.checker.on_note(clock_note(lower.t, {{"orders", "4"}}));
  EXPECT_TRUE(lower.has("VCLOCK-3")) << lower.all();
}

TEST(VCLOCK_3, AReferenceClientThatMergesByMaxKeepsIt) {
  Trace tr;
  open(tr);
  tr.sw(VectorClockSync{{{"orders", 5}}, 0});
  tr.cr(VectorClockSync{{{"orders", 5}}, 0});
  tr.checker.on_note(clock_note(tr.t, {{"orders", "5"}}));
  tr.sw(VectorClockSync{{{"items", 2}}, 0});
  tr.cr(VectorClockSync{{{"items", 2}}, 0});
  tr.checker.on_note(clock_note(tr.t, {{"orders", "5"}, {"items", "2"}}));
  EXPECT_FALSE(tr.has("VCLOCK-3")) << tr.all();
}

}  // namespace
}  // namespace syncsim::test::judge_vclock
