// The hostile-frame campaign, CI-sized: the reference server and client in
// the simulator take mutated frames of every kind, survive, leave nothing
// behind, and serve a well-behaved peer afterwards. (Under the sanitizer
// build this is also the crash and leak hunt; the long run is bench/.)
#include "conformance/explore/hostile.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace syncsim::test {
namespace {

using namespace conformance;

std::uint64_t frames() { return std::getenv("SYNCSIM_QUICK") ? 400 : 20'000; }

void expect_every_mutation_and_every_outcome(const HostileStats& s) {
  for (std::size_t i = 0; i < kMutationCount; ++i)
    EXPECT_GT(s.by_mutation[i], 0u) << mutation_name(static_cast<Mutation>(i));
  EXPECT_GT(s.answered, 0u) << "some sessions must reach the Ping";
  EXPECT_GT(s.closed, 0u) << "fatal framing errors must close";
  EXPECT_EQ(s.answered + s.closed + s.stalled, s.sessions);
}

void survives(HostileStats (*campaign)(const HostileOptions&), std::uint64_t seed) {
  HostileOptions o;
  o.seed = seed;
  o.frames = frames();
  const auto s = campaign(o);
  EXPECT_EQ(s.frames, o.frames);
  EXPECT_TRUE(s.alive) << s.problem;
  EXPECT_TRUE(s.problem.empty()) << s.problem;
  expect_every_mutation_and_every_outcome(s);
}

TEST(FRAME_9, HostileFramesNeverTakeTheReferenceServerDown) { survives(hostile_sim_server, 11); }
TEST(FRAME_9, HostileFramesNeverTakeTheReferenceClientDown) { survives(hostile_sim_client, 12); }

TEST(FrameMutator, SameSeedSameFramesAndEveryMutationKeepsAHeader) {
  FrameMutator a(5), b(5);
  for (int i = 0; i < 2000; ++i) {
    Mutation ha{}, hb{};
    const auto fa = a.next(ha), fb = b.next(hb);
    ASSERT_EQ(fa, fb);
    ASSERT_EQ(ha, hb);
    ASSERT_GE(fa.size(), 1u);
    ASSERT_LE(fa.size(), 1u << 20);
  }
}

}  // namespace
}  // namespace syncsim::test
