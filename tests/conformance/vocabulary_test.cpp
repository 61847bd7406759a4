// The scenario vocabulary (conformance/runner/vocabulary.hpp) is the one
// place a step, wait condition or stat is defined: the parser, the runner,
// explore and the docs must all agree with it.
#include "conformance/runner/vocabulary.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "conformance/runner/runner.hpp"
#include "conformance/runner/scenario.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace conformance;

std::string scenarios_doc() {
  std::ifstream in(source_path("docs/scenarios.md"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Vocabulary, EveryWordIsDocumentedInScenariosMd) {
  const std::string doc = scenarios_doc();
  ASSERT_FALSE(doc.empty());
  for (const auto& s : steps())
    EXPECT_NE(doc.find("| `" + std::string(s.name) + "` |"), std::string::npos) << s.name;
  for (const auto& c : conditions())
    EXPECT_NE(doc.find("`" + std::string(c.name) + "`"), std::string::npos) << c.name;
  for (const auto& s : client_stats())
    EXPECT_NE(doc.find("`" + std::string(s.name) + "`"), std::string::npos) << s.name;
}

TEST(Vocabulary, NamesFindTheirOwnEntries) {
  for (const auto& s : steps()) {
    ASSERT_NE(find_step(s.name), nullptr) << s.name;
    EXPECT_EQ(find_step(s.name)->kind, s.kind);
    EXPECT_EQ(&step(s.kind), &s);
  }
  for (const auto& c : conditions()) EXPECT_EQ(find_condition(c.name), c.kind);
  for (const auto& s : client_stats()) EXPECT_EQ(find_stat(s.name), s.kind);
  EXPECT_EQ(find_step("explode"), nullptr);
  EXPECT_FALSE(find_condition("sleepy"));
  EXPECT_FALSE(find_stat("mood"));
}

// A step done by an operator hook names the hook; no other step does.
TEST(Vocabulary, HookStepsNameTheirHook) {
  for (const auto& s : steps()) {
    EXPECT_EQ(s.live == LiveMode::Hook, !s.hook.empty()) << s.name;
    EXPECT_FALSE(s.what.empty()) << s.name;
  }
}

// The YAML a step needs, built from its table entry.
std::string event_yaml(const StepSpec& s) {
  std::string e = "  - {at_s: 1, action: " + std::string(s.name);
  if (s.nodes == 2) e += ", nodes: [a, server]";
  if (s.nodes == 1) e += ", nodes: [a]";
  if (s.needs_client) e += ", client: a";
  if (s.needs_collection) e += ", collection: orders";
  if (s.kind == StepKind::Presence) e += ", channel: lobby";
  if (s.kind == StepKind::Definition) e += ", name: f";
  if (s.kind == StepKind::Link) e += ", from: a, to: server, latency_ms: 3";
  return e + "}\n";
}

// Every step parses from what its entry says it needs and runs in the
// simulator; a step missing what it needs is refused naming the action.
TEST(Vocabulary, EveryStepParsesFromItsEntryAndRuns) {
  for (const auto& s : steps()) {
    const std::string yaml =
        "name: v\nduration_s: 5\nclients: [{name: a, shapes: [orders]}]\n"
        "expect: {converged: false}\nevents:\n" +
        event_yaml(s);
    const auto load = parse_scenario(yaml, "v.yaml");
    ASSERT_TRUE(load.scenario) << s.name << ": " << load.error;
    ASSERT_EQ(load.scenario->events.size(), 1u);
    EXPECT_EQ(load.scenario->events[0].kind, s.kind) << s.name;
    const auto r = run_scenario(*load.scenario, 1);
    EXPECT_GT(r.events, 0u) << s.name;
    if (s.nodes > 0 || s.needs_client || s.needs_collection) {
      const auto bare = parse_scenario(
          "name: v\nclients: [{name: a}]\nevents:\n  - {at_s: 1, action: " + std::string(s.name) +
              "}\n",
          "v.yaml");
      EXPECT_FALSE(bare.scenario) << s.name;
      EXPECT_NE(bare.error.find("\"" + std::string(s.name) + "\" needs"), std::string::npos)
          << bare.error;
    }
  }
}

}  // namespace
}  // namespace syncsim::test
