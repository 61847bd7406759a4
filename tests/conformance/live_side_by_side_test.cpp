// Live scenarios side by side (D178, D182) and the undecodable-body link
// fault (FRAME-10): which scenarios must run alone, what namespacing gives a
// run, and the frame the fault slips in.
#include <gtest/gtest.h>

#include "conformance/live/live_scenario.hpp"
#include "conformance/runner/scenario.hpp"
#include "protocol/codec.hpp"
#include "sim/frame_fate.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace conformance;

Scenario with_step(StepKind kind, const char* action) {
  Scenario s;
  s.name = "x";
  s.clients.push_back(ScenarioClient{});
  s.clients.back().name = "a";
  ScenarioEvent e;
  e.kind = kind;
  e.action = action;
  s.events.push_back(e);
  return s;
}

TEST(D178_LiveJobs, ScenariosThatActOnTheWholeServerRunAlone) {
  EXPECT_TRUE(live_exclusive(with_step(StepKind::Restart, "restart")));
  EXPECT_TRUE(live_exclusive(with_step(StepKind::Crash, "crash")));
  EXPECT_TRUE(live_exclusive(with_step(StepKind::ClockJump, "clock-jump")));
  EXPECT_FALSE(live_exclusive(with_step(StepKind::Purge, "purge")));
  EXPECT_FALSE(live_exclusive(with_step(StepKind::Reset, "reset")));
}

// D182: the namespace tag is kept, so each run's clients draw identities of
// their own; two runs of one scenario get different tags and names.
TEST(D182_LiveIdentity, NamespacingKeepsTheRunsTag) {
  auto loaded = load_scenario(source_path("scenarios/writes-converge.yaml"));
  ASSERT_TRUE(loaded.scenario) << loaded.error;
  const Scenario one = namespaced(live_form(*loaded.scenario), "r1_1");
  const Scenario two = namespaced(live_form(*loaded.scenario), "r1_2");
  EXPECT_EQ(one.live_tag, "r1_1");
  EXPECT_NE(one.live_tag, two.live_tag);
  EXPECT_NE(one.clients.front().shapes, two.clients.front().shapes);
}

TEST(FRAME_10, TheUndecodableBodyFaultSlipsInAKnownCodeThatDoesNotDecode) {
  sim::LinkParams lp;
  lp.frame_inject_undecodable = sim::Ratio::ppm(1'000'000);
  sim::Prng rng(7);
  const auto fate = sim::frame_fate(lp, rng, 0x01, 10);
  ASSERT_TRUE(fate.undecodable_before.has_value());
  const protocol::Bytes frame(fate.undecodable_before->begin(), fate.undecodable_before->end());
  const auto d = protocol::decode_frame(frame);
  EXPECT_FALSE(d.message.has_value());  // FRAME-10: the receiver must ignore it
  EXPECT_EQ(frame.front(), 0xFF);       // a code every receiver knows
  sim::LinkParams off;                  // never: no draw, so no trace changes
  sim::Prng a(7), b(7);
  (void)sim::frame_fate(off, a, 0x01, 10);
  EXPECT_EQ(a.next(), b.next());
}

}  // namespace
}  // namespace syncsim::test
