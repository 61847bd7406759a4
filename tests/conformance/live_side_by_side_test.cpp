// Live scenarios side by side (D178, D182) and the undecodable-body link
// fault (FRAME-10): which scenarios must run alone, what namespacing gives a
// run, and the frame the fault slips in.
#include <gtest/gtest.h>

#include "conformance/live/live_scenario.hpp"
#include "conformance/live/target.hpp"
#include "conformance/runner/scenario.hpp"
#include "protocol/codec.hpp"
#include "reference/runtime.hpp"
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

// D183: a reference client's clock offset is live (its wall clock only);
// drift is not, and neither is an offset on the client under test.
TEST(D183_LiveClock, AnOffsetShiftsTheWallClockADriftStaysSimulatorOnly) {
  boost::asio::io_context ioc;
  sim::Prng prng(1);
  reference::TcpRuntime plain{&ioc, &prng};
  reference::TcpRuntime behind{&ioc, &prng};
  behind.clock_offset_ms = -172'800'000;
  const auto a = plain.now(), b = behind.now();
  EXPECT_NEAR(static_cast<double>(b.unix_ms - a.unix_ms), -172'800'000.0, 1000.0);
  EXPECT_NEAR(static_cast<double>(b.steady_ms - a.steady_ms), 0.0, 1000.0);

  auto loaded = load_scenario(source_path("scenarios/clock-skew.yaml"));
  ASSERT_TRUE(loaded.scenario) << loaded.error;
  LiveScenarioOptions o;
  EXPECT_EQ(live_unsupported(live_form(*loaded.scenario), o), "");
  EXPECT_NE(live_unsupported(*loaded.scenario, o).find("drift"), std::string::npos);
  o.client_exec = "my-client";
  o.client_driver = {"write"};
  EXPECT_NE(live_unsupported(live_form(*loaded.scenario), o).find("clock offset"),
            std::string::npos)
      << live_unsupported(live_form(*loaded.scenario), o);
}

// D185: a scenario's server options run live only where the target's
// settings declare the same values; unknown settings are file:line errors.
TEST(D185_TargetSettings, AServerOptionRunsWhereTheTargetDeclaresItsValue) {
  const auto t = parse_target("settings:\n  idle_timeout_s: 2\n  delta_push: true\n", "t.yaml");
  ASSERT_TRUE(t.target) << t.error;
  EXPECT_EQ(t.target->settings.at("idle_timeout_s"), 2.0);
  EXPECT_EQ(t.target->settings.at("delta_push"), 1.0);
  const auto bad = parse_target("settings:\n  leeway_s: 60\n", "t.yaml");
  EXPECT_NE(bad.error.find("t.yaml:2:3: unknown setting \"leeway_s\""), std::string::npos)
      << bad.error;
  const auto wrong = parse_target("settings:\n  delta_push: sometimes\n", "t.yaml");
  EXPECT_NE(wrong.error.find("true or false"), std::string::npos) << wrong.error;

  Scenario s = with_step(StepKind::Reset, "reset");
  s.server.idle_timeout_s = 2;
  LiveScenarioOptions o;
  EXPECT_NE(live_unsupported(s, o).find("idle_timeout_s = 2, which the target file's settings"),
            std::string::npos)
      << live_unsupported(s, o);
  o.settings = {{"idle_timeout_s", 5}};
  EXPECT_NE(live_unsupported(s, o).find("but the target's settings: say 5"), std::string::npos)
      << live_unsupported(s, o);
  o.settings = t.target->settings;
  EXPECT_EQ(live_unsupported(s, o), "");
  // Every option a scenario can set is a setting the target can declare.
  Scenario all = with_step(StepKind::Reset, "reset");
  all.server.trust_mode = true;
  all.server.data_queue_limit = 10;
  all.server.default_throttle_rate = 20;
  all.server.rate_per_s = 30;
  all.server.rate_capacity = 40;
  all.server.idle_timeout_s = 5;
  all.server.max_sessions = 6;
  all.server.presence_max_channels = 7;
  all.server.delta_push = true;
  all.server.rate_limit_reject = true;
  LiveScenarioOptions every;
  every.settings = {
      {"trust_mode", 1},       {"data_queue_limit", 10},     {"default_throttle_rate", 20},
      {"rate_per_s", 30},      {"rate_capacity", 40},        {"idle_timeout_s", 5},
      {"max_sessions", 6},     {"presence_max_channels", 7}, {"delta_push", 1},
      {"rate_limit_reject", 1}};
  EXPECT_EQ(live_unsupported(all, every), "");
  for (const auto& [name, value] : every.settings)
    EXPECT_TRUE(server_setting_names().count(name)) << name;
  EXPECT_EQ(server_setting_names().size(), every.settings.size());
  s.server.bugs = {"SkipDedup"};  // the reference's own switch never runs live
  EXPECT_NE(live_unsupported(s, o).find("bugs"), std::string::npos);
}

}  // namespace
}  // namespace syncsim::test
