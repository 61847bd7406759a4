// The scenario language: strict parsing with file:line:column errors.
#include "conformance/runner/scenario.hpp"

#include <gtest/gtest.h>

#include "conformance/runner/runner.hpp"

namespace syncsim::test {
namespace {

using conformance::parse_scenario;

std::string error_of(const std::string& yaml) { return parse_scenario(yaml, "s.yaml").error; }

TEST(Scenarios, ErrorsNameFileLineColumnAndWhatWasExpected) {
  EXPECT_EQ(error_of("name: x\nclients:\n  - {name: a, writez: 3}\n"),
            "s.yaml:3:15: unknown key \"writez\" in a client (expected one of: apply_rate, "
            "backoff_jitter_ms, bugs, clock_offset_ms, collection, docs, drift_ppm, external, "
            "name, pending_limit, ping_interval_s, retransmit_ms, shapes, start_s, suggested_rate, "
            "throttle_high, throttle_low, timeseries_interval_s, token, vclock_interval_s, "
            "wire_version, writes)");
  EXPECT_EQ(error_of("name: x\nclients: []\n"),
            "s.yaml:2:10: \"clients\" must be a non-empty list");
  EXPECT_EQ(error_of("name: x\nname: y\nclients: [{name: a}]\n"),
            "s.yaml:2:1: duplicate key \"name\" in the scenario");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a}, {name: a}]\n"),
            "s.yaml:2:29: duplicate node name \"a\"");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a, writes: many}]\n"),
            "s.yaml:2:29: \"writes\" must be an integer in [0, 100000]");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a, drift_ppm: 200000}]\n"),
            "s.yaml:2:32: \"drift_ppm\" must be an integer in [-100000, 100000]");
  EXPECT_NE(error_of("name: x\nclients: [{name: a}\n").find("s.yaml:3:1:"), std::string::npos);
  EXPECT_EQ(
      error_of("name: x\nclients: [{name: a}]\nevents:\n  - {at_s: 1, action: explode}\n"),
      "s.yaml:4:23: unknown action \"explode\" (expected one of: apply-rate, clock-jump, "
      "clog, corrupt-state, crash, definition, drift, heal, link, partition, "
      "partition-one-way, presence, purge, reset, restart, resubscribe, samples, server-write, "
      "unsubscribe, write)");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a}]\nevents:\n  - {at_s: 1, action: write}\n"),
            "s.yaml:4:5: \"write\" needs a known \"client\"");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a}]\nlinks:\n  - {from: a, to: b}\n"),
            "s.yaml:4:19: unknown node \"b\"");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a}]\nlinks:\n"
                     "  - {from: a, to: server, frames: {types: [Shape]}}\n"),
            "s.yaml:4:43: unknown message \"Shape\" (expected one of: CollectionPurged, "
            "DefinitionSync, DeltaAck, DeltaPush, DeltaReject, Handshake, HandshakeAck, Ping, "
            "Pong, PresenceBroadcast, PresenceLeave, PresenceUpdate, ResyncRequest, "
            "ShapeDelta, ShapeSnapshot, ShapeSubscribe, ShapeUnsubscribe, Throttle, "
            "TimeseriesAck, TimeseriesPush, TokenRefresh, TokenRefreshAck, VectorClockSync)");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a}]\nevents:\n"
                     "  - {action: heal, nodes: [a, server], after: {client: a, condition: "
                     "sleepy}}\n"),
            "s.yaml:4:47: unknown condition \"sleepy\" (expected one of: connected, purged, "
            "refreshed, resynced, throttled, unthrottled)");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a, token: {refresh: maybe}}]\n"),
            "s.yaml:2:38: \"refresh\" must be ok, fail, flaky or none");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a}]\nexpect:\n"
                     "  frames: [{rule: PING-2, client: a, type: Ping, at_least: -1}]\n"),
            "s.yaml:4:60: \"at_least\" must be an integer in [0, 1000000000]");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a}]\nexpect:\n"
                     "  frames: [{rule: X-1, client: a, type: Ping}]\n"),
            "s.yaml:4:19: \"X-1\" is not a rule of the spec (see `syncsim rules`)");
}

TEST(Scenarios, AValidScenarioRunsAndPasses) {
  const auto s = parse_scenario(
      "name: tiny\nduration_s: 20\nclients:\n  - {name: a, writes: 3, shapes: [orders]}\n"
      "  - {name: b, shapes: [orders]}\n",
      "tiny.yaml");
  ASSERT_TRUE(s.scenario) << s.error;
  const auto r = conformance::run_scenario(*s.scenario, 1);
  EXPECT_TRUE(r.passed) << (r.failures.empty() ? "" : r.failures[0]);
  EXPECT_GT(r.frames, 10u);
  EXPECT_EQ(conformance::run_scenario(*s.scenario, 1).trace_hash,
            r.trace_hash);  // same seed, same run
  EXPECT_NE(conformance::run_scenario(*s.scenario, 2).trace_hash, r.trace_hash);
}

TEST(Scenarios, UnknownBugNamesMakeTheScenarioInvalid) {
  const auto s =
      parse_scenario("name: x\nclients: [{name: a}]\nserver: {bugs: [Nope]}\n", "x.yaml");
  ASSERT_TRUE(s.scenario);
  const auto r = conformance::run_scenario(*s.scenario, 1);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.failures.at(0), "invalid scenario: unknown server bug \"Nope\"");
}

TEST(Scenarios, FramesOffTurnsARelayBackIntoAByteStream) {
  const auto s = parse_scenario(
      "name: x\nclients: [{name: a}]\nevents:\n"
      "  - {at_s: 1, action: link, from: a, to: server, frames: {types: [DeltaPush]}}\n"
      "  - {at_s: 2, action: link, from: a, to: server, frames: off}\n",
      "x.yaml");
  ASSERT_TRUE(s.scenario) << s.error;
  ASSERT_EQ(s.scenario->events.size(), 2u);
  EXPECT_FALSE(s.scenario->events[0].link->frames_off);
  EXPECT_TRUE(s.scenario->events[0].link->frames.has_value());
  EXPECT_TRUE(s.scenario->events[1].link->frames_off);
  EXPECT_FALSE(s.scenario->events[1].link->frames.has_value());
  EXPECT_NE(error_of("name: x\nclients: [{name: a}]\n"
                     "links: [{from: a, to: server, frames: sometimes}]\n"),
            "");
}

// D120: a relay fault that no side can notice or repair leaves convergence
// unjudged, with a note saying why; one the protocol repairs does not.
conformance::ScenarioResult run_with_link(const std::string& from_to, const std::string& frames) {
  const auto s = parse_scenario(
      "name: x\nduration_s: 40\nclients:\n"
      "  - {name: a, writes: 20, shapes: [orders]}\n  - {name: b, writes: 20, shapes: [orders]}\n"
      "events:\n  - {at_s: 3, action: link, " +
          from_to + ", frames: " + frames + "}\n",
      "x.yaml");
  EXPECT_TRUE(s.scenario) << s.error;
  return s.scenario ? conformance::run_scenario(*s.scenario, 1) : conformance::ScenarioResult{};
}

TEST(CONVERGENCE, NotJudgedAfterALossNoSideCanRepair) {
  const auto lost = run_with_link("from: a, to: server", "{types: [DeltaPush], drop_next: 2}");
  EXPECT_TRUE(lost.passed) << (lost.failures.empty() ? "" : lost.failures[0]);
  ASSERT_EQ(lost.notes.size(), 1u);
  EXPECT_NE(lost.notes[0].find("CONVERGENCE not judged: 2 relay fault(s)"), std::string::npos)
      << lost.notes[0];
  EXPECT_NE(lost.notes[0].find("a DeltaPush dropped by the relay"), std::string::npos);

  // A lost DeltaAck draws a retransmission, acknowledged again (DELTA-6).
  const auto repaired = run_with_link("from: server, to: a", "{types: [DeltaAck], drop_next: 2}");
  EXPECT_TRUE(repaired.passed) << (repaired.failures.empty() ? "" : repaired.failures[0]);
  EXPECT_TRUE(repaired.notes.empty()) << repaired.notes[0];
}

// D133: the live: block holds top-level keys that replace the scenario's own
// in its live form; the simulated scenario is untouched.
TEST(Scenarios, LiveBlockReplacesTopLevelKeysInTheLiveFormOnly) {
  const auto loaded = parse_scenario(
      "name: x\nduration_s: 60\nclients: [{name: a, writes: 9}]\n"
      "events:\n  - {at_s: 30, action: reset, nodes: [server]}\n"
      "live:\n  duration_s: 5\n  events: []\n  clients: [{name: a, writes: 2}, {name: b}]\n",
      "s.yaml");
  ASSERT_TRUE(loaded.scenario) << loaded.error;
  const auto& s = *loaded.scenario;
  EXPECT_EQ(s.duration_s, 60);
  EXPECT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.clients.size(), 1u);
  ASSERT_TRUE(s.live_variant);
  const auto& live = conformance::live_form(s);
  EXPECT_EQ(live.name, "x");
  EXPECT_EQ(live.duration_s, 5);
  EXPECT_TRUE(live.events.empty());
  ASSERT_EQ(live.clients.size(), 2u);
  EXPECT_EQ(live.clients[0].writes, 2);
  EXPECT_FALSE(live.live_variant);
}

TEST(Scenarios, LiveBlockIsCheckedWhereItStands) {
  EXPECT_EQ(error_of("name: x\nclients: [{name: a}]\nlive:\n  duration: 5\n"),
            "s.yaml:4:3: unknown key \"duration\" in \"live\" (expected one of: clients, "
            "duration_s, events, expect, links, max_events, network, server, write_window_s)");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a}]\nlive:\n  events:\n"
                     "    - {at_s: 1, action: write, client: zed}\n"),
            "s.yaml:5:7: \"write\" needs a known \"client\"");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a}]\nlive: yes\n"),
            "s.yaml:3:7: \"live\" must be a map (use live: {} to run as is)");
  EXPECT_EQ(error_of("name: x\nclients: [{name: a}]\nlive: {simulator_only: why, duration_s: 1}\n"),
            "s.yaml:3:29: unknown key \"duration_s\" in \"live\" (simulator_only stands alone) "
            "(expected one of: simulator_only)");
  const auto as_is = parse_scenario("name: x\nclients: [{name: a}]\nlive: {}\n", "s.yaml");
  ASSERT_TRUE(as_is.scenario) << as_is.error;
  ASSERT_TRUE(as_is.scenario->live_variant);
  EXPECT_EQ(as_is.scenario->live_variant->duration_s, as_is.scenario->duration_s);
  const auto sim = parse_scenario(
      "name: x\nclients: [{name: a}]\nlive: {simulator_only: a disk wipe}\n", "s.yaml");
  ASSERT_TRUE(sim.scenario) << sim.error;
  EXPECT_FALSE(sim.scenario->live_variant);
  EXPECT_EQ(sim.scenario->simulator_only, "a disk wipe");
}

// D135: a live run gives every collection, channel and definition name a
// suffix of its own, consistently in clients, steps and expectations.
TEST(Scenarios, NamespacedRenamesCollectionsChannelsAndDefinitionsEverywhere) {
  const auto loaded = parse_scenario(
      "name: x\nclients: [{name: a, shapes: [orders]}, {name: b}]\n"
      "events:\n  - {at_s: 1, action: purge, collection: orders}\n"
      "  - {at_s: 1, action: presence, client: a, channel: room}\n"
      "  - {at_s: 1, action: definition, name: fn-1}\n"
      "expect:\n  frames:\n"
      "    - {rule: PURGE-1, client: a, from: server, type: CollectionPurged, where: {name: "
      "orders}, at_least: 1}\n"
      "    - {rule: SHAPE-3, client: a, from: server, type: ShapeDelta, where: {shape_id: "
      "orders-all}, at_least: 1}\n"
      "    - {rule: RESYNC-2, client: a, type: ResyncRequest, where: {collection: \"\"}, at_least: "
      "1}\n",
      "s.yaml");
  ASSERT_TRUE(loaded.scenario) << loaded.error;
  const auto n = conformance::namespaced(*loaded.scenario, "t7");
  EXPECT_EQ(n.clients[0].shapes, std::vector<std::string>{"orders_t7"});
  EXPECT_EQ(n.clients[0].collection, "orders_t7");
  EXPECT_EQ(n.clients[1].collection, "orders_t7");  // the default, made explicit
  EXPECT_EQ(n.events[0].collection, "orders_t7");
  EXPECT_EQ(n.events[1].channel, "room_t7");
  EXPECT_EQ(n.events[2].name, "fn-1_t7");
  EXPECT_EQ(n.expect.frames[0].where.at("name"), "orders_t7");
  EXPECT_EQ(n.expect.frames[1].where.at("shape_id"), "orders_t7-all");
  EXPECT_EQ(n.expect.frames[2].where.at("collection"), "");         // "any" stays any
  EXPECT_EQ(loaded.scenario->clients[0].shapes.front(), "orders");  // the original is untouched
}

}  // namespace
}  // namespace syncsim::test
