// The driver contract of `run --client-exec` (D150): one command a line on
// the client's stdin, read back by `syncsim client --driver`.
#include "conformance/live/driver_contract.hpp"

#include <gtest/gtest.h>

#include "conformance/live/live_scenario.hpp"
#include "conformance/live/target.hpp"
#include "conformance/runner/scenario.hpp"

namespace syncsim::test {
namespace {

using namespace conformance;

std::string error_of(std::string_view line) {
  const auto p = parse_driver_line(line);
  EXPECT_FALSE(p.command) << line;
  return p.error;
}

TEST(D150_DriverContract, EveryCommandReadsBackWhatWasWritten) {
  using enum StepKind;
  constexpr auto kStep = DriverVerb::Step;
  const std::vector<DriverCommand> commands{
      {DriverVerb::Hello, Write, "", "", "", {}, 1},
      {kStep, Write, "orders", "doc-1", "", {0x01, 0xab}, 0},
      {kStep, Write, "orders", "doc-2", "", {}, 0},  // a delete: "-"
      {kStep, Presence, "", "", "room", {'h', 'i'}, 0},
      {kStep, Samples, "cpu", "", "", {}, 7},
      {kStep, ApplyRate, "", "", "", {}, 200},
      {kStep, CorruptState, "", "", "", {}, 0},
      {kStep, Resubscribe, "", "", "", {}, 0},
      {kStep, Unsubscribe, "orders", "", "", {}, 0},
      {DriverVerb::Quit, Write, "", "", "", {}, 0},
  };
  for (const auto& c : commands) {
    const std::string line = driver_line(c);
    const auto p = parse_driver_line(line);
    ASSERT_TRUE(p.command) << line << ": " << p.error;
    EXPECT_EQ(p.command->verb, c.verb) << line;
    if (c.verb == DriverVerb::Step) {
      EXPECT_EQ(p.command->step, c.step) << line;
    }
    EXPECT_EQ(p.command->collection, c.collection) << line;
    EXPECT_EQ(p.command->document, c.document) << line;
    EXPECT_EQ(p.command->channel, c.channel) << line;
    EXPECT_EQ(p.command->value, c.value) << line;
    EXPECT_EQ(p.command->number, c.number) << line;
  }
  EXPECT_EQ(driver_line(commands[1]), "write orders doc-1 01ab");
  EXPECT_EQ(driver_line(commands[2]), "write orders doc-2 -");
  EXPECT_EQ(driver_line(commands[8]), "unsubscribe orders");
  EXPECT_EQ(error_of("unsubscribe"), "unsubscribe takes 1 argument(s), not 0");
  EXPECT_TRUE(parse_driver_line("quit\r").command);  // a CRLF line ending is tolerated
}

TEST(D150_DriverContract, MalformedLinesGiveAClearError) {
  EXPECT_EQ(error_of("frobnicate x"), "unknown command \"frobnicate\"");
  EXPECT_EQ(error_of("partition a server"), "unknown command \"partition\"");  // not a client step
  EXPECT_EQ(error_of("write orders doc-1"), "write takes 3 argument(s), not 2");
  EXPECT_EQ(error_of("write orders doc-1 zz"), "write: the value is not hex");
  EXPECT_EQ(error_of("write orders doc-1 abc"), "write: the value is not hex");  // odd length
  EXPECT_EQ(error_of("apply-rate fast"), "apply-rate: the rate is not a number");
  EXPECT_EQ(error_of("apply-rate -1"), "apply-rate: the rate is not a number");
  EXPECT_EQ(error_of("samples cpu 100001"), "samples: at most 100000 at once");
  EXPECT_EQ(error_of("hello 2"), "hello: version 2 (this is version 1)");
  EXPECT_EQ(error_of("quit now"), "quit takes 0 argument(s), not 1");
  const auto spaces =
      "an empty word or a control or non-ASCII byte (words are separated by one space)";
  EXPECT_EQ(error_of(""), spaces);
  EXPECT_EQ(error_of("write  orders doc 01"), spaces);
  EXPECT_EQ(error_of("write orders d\toc 01"), spaces);
  EXPECT_EQ(error_of("write orders d\xc3\xa9 01"), spaces);
  EXPECT_EQ(error_of("resubscribe "), spaces);
}

TEST(D150_DriverContract, LinesAreBounded) {
  const std::string hex(kDriverMaxLine - 20, 'a');
  EXPECT_TRUE(parse_driver_line("write c d " + hex).command);
  const std::string too_long = "write c d " + std::string(kDriverMaxLine, 'a');
  EXPECT_EQ(error_of(too_long), "a line of " + std::to_string(too_long.size()) +
                                    " bytes (at most " + std::to_string(kDriverMaxLine) + ")");
  // Many words: no more than 5 are split.
  std::string many = "resubscribe";
  for (int i = 0; i < 1000; ++i) many += " x";
  EXPECT_EQ(error_of(many), "more than 3 arguments (no command takes more)");
  EXPECT_EQ(error_of("write a b 00 x"), "write takes 3 argument(s), not 4");
  EXPECT_EQ(error_of("write a b 00 x y"), "more than 3 arguments (no command takes more)");
}

TEST(D150_DriverContract, DeclaredVerbs) {
  std::set<std::string> v;
  std::string error;
  EXPECT_TRUE(parse_driver_verbs("all", v, error));
  EXPECT_EQ(v, driver_verb_names());
  EXPECT_EQ(v.size(), 7u);
  EXPECT_TRUE(parse_driver_verbs("none", v, error));
  EXPECT_TRUE(v.empty());
  EXPECT_TRUE(parse_driver_verbs("write,resubscribe", v, error));
  EXPECT_EQ(v, (std::set<std::string>{"write", "resubscribe"}));
  EXPECT_FALSE(parse_driver_verbs("write,hello", v, error));
  EXPECT_NE(error.find("unknown driver command \"hello\""), std::string::npos) << error;
}

TEST(D150_DriverContract, TheTargetFileDeclaresTheCommands) {
  const auto ok = parse_target("driver: [write, resubscribe]\n", "t.yaml");
  ASSERT_TRUE(ok.target) << ok.error;
  EXPECT_EQ(ok.target->driver, (std::set<std::string>{"write", "resubscribe"}));
  const auto bad = parse_target("driver: [write, fly]\n", "t.yaml");
  EXPECT_FALSE(bad.target);
  EXPECT_NE(bad.error.find("unknown driver command \"fly\""), std::string::npos) << bad.error;
  EXPECT_NE(bad.error.find("t.yaml:1:"), std::string::npos) << bad.error;
}

// D152: what --client-exec cannot drive or read makes a scenario UNSUPPORTED.
TEST(D152_ClientExec, DrivenStepsNeedTheirCommandDeclared) {
  const auto load = parse_scenario(R"(name: x
duration_s: 2
clients:
  - {name: b, shapes: [orders]}
  - {name: a, shapes: [orders], external: true}
events:
  - {at_s: 1, action: write, client: a, count: 2}
  - {at_s: 1, action: write, client: b, count: 2}
)",
                                   "x.yaml");
  ASSERT_TRUE(load.scenario) << load.error;
  EXPECT_EQ(external_clients(*load.scenario), (std::set<std::string>{"a"}));
  LiveScenarioOptions o;
  o.client_exec = "my-client";
  EXPECT_NE(live_unsupported(*load.scenario, o).find("driver command \"write\""),
            std::string::npos);
  o.client_driver = {"write"};
  EXPECT_EQ(live_unsupported(*load.scenario, o), "");
  // b's write is a reference client's: no command needed for it.
  auto only_b = *load.scenario;
  only_b.events.erase(only_b.events.begin());
  o.client_driver.clear();
  EXPECT_EQ(live_unsupported(only_b, o), "");
}

// D179: a stat of the client under test cannot be read, so it is not judged
// (a note says so), but the scenario still runs and its frames are judged.
TEST(D179_ClientExec, AStatOfTheClientUnderTestLeavesTheScenarioRunnable) {
  const auto load = parse_scenario(R"(name: x
duration_s: 2
clients:
  - {name: a, shapes: [orders]}
  - {name: b, shapes: [orders]}
expect:
  stats:
    - {rule: FLOW-1, client: a, stat: acked, at_least: 1}
)",
                                   "x.yaml");
  ASSERT_TRUE(load.scenario) << load.error;
  LiveScenarioOptions o;
  o.client_exec = "my-client";
  EXPECT_EQ(live_unsupported(*load.scenario, o), "");
  auto waits = *load.scenario;  // a step waiting for its state still cannot run
  waits.events.push_back(ScenarioEvent{});
  waits.events.back().action = "reset";
  waits.events.back().kind = StepKind::Reset;
  waits.events.back().nodes = {"b"};
  waits.events.back().after = WaitFor{};
  waits.events.back().after->client = "a";
  EXPECT_NE(live_unsupported(waits, o).find("client under test's state"), std::string::npos)
      << live_unsupported(waits, o);
  o.client_exec.clear();  // run --server reads the reference client's stats
  EXPECT_EQ(live_unsupported(*load.scenario, o), "");
}

}  // namespace
}  // namespace syncsim::test
