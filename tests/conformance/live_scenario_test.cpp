// `syncsim run --server`: YAML scenarios against a real server (the reference
// server on a loopback port here), their steps done by the proxies and the
// reference clients, judged like a simulated run (D131).
#include "conformance/live/live_scenario.hpp"

#include <gtest/gtest.h>

#include "conformance/live/live_server.hpp"
#include "conformance/runner/scenario.hpp"

namespace syncsim::test {
namespace {

using namespace conformance;

Scenario scenario(const std::string& yaml) {
  auto load = parse_scenario(yaml, "live.yaml");
  EXPECT_TRUE(load.scenario) << load.error;
  return load.scenario ? *load.scenario : Scenario{};
}

struct LiveTarget {
  boost::asio::io_context ioc;
  std::unique_ptr<LiveServer> server;
  LiveScenarioOptions options;
  LiveTarget() {
    LiveServer::Options so;
    so.listen = *parse_endpoint("tcp://127.0.0.1:0").endpoint;
    so.config.jwt.hs256_secret = "live-secret";
    server = std::make_unique<LiveServer>(ioc, so);
    boost::system::error_code ec;
    EXPECT_TRUE(server->start(ec)) << ec.message();
    options.server = so.listen;
    options.server.port = server->port();
    options.jwt_secret = "live-secret";
    options.settle_s = 5;
  }
  ScenarioResult run(const Scenario& s) {
    EXPECT_EQ(live_unsupported(s, options), "");
    return run_live_scenario(ioc, s, options);
  }
};

std::string first_of(const ScenarioResult& r) {
  return r.failures.empty() ? "" : r.failures.front();
}

// Two writers through a partition and a lossy, reordering relay converge on
// the real server; the proxies judged every frame and found nothing.
TEST(LiveScenario, ClientsConvergeThroughAPartitionAndRelayFaults) {
  LiveTarget t;
  const auto r = t.run(scenario(
      "name: live-converge\nduration_s: 4\n"
      "clients:\n  - {name: a, shapes: [orders], writes: 10, retransmit_ms: 300}\n"
      "  - {name: b, shapes: [orders], writes: 10, retransmit_ms: 300}\n"
      "events:\n"
      "  - {at_s: 0.5, action: partition, nodes: [a, server]}\n"
      "  - {at_s: 1.5, action: heal, nodes: [a, server]}\n"
      "  - {at_s: 1.0, action: link, from: server, to: b, frames: {types: [ShapeDelta, DeltaAck],"
      " reorder_ppm: 300000, reorder_window_ms: 20}}\n"
      "  - {at_s: 2.0, action: link, from: server, to: b, frames: off}\n"
      "  - {at_s: 2.5, action: write, client: a, count: 5}\n"));
  EXPECT_TRUE(r.passed) << first_of(r);
  EXPECT_EQ(r.must_findings, 0u);
  EXPECT_GT(r.frames, 20u);
}

// A reference client with a bug, live: one ShapeDelta is lost on its way to
// a, which ignores the gap; the checker at its proxy flags RESYNC-2.
TEST(LiveScenario, RESYNC_2_AClientBugIsCaughtLive) {
  LiveTarget t;
  const std::string yaml =
      "name: live-gap\nduration_s: 3\n"
      "clients:\n  - {name: a, shapes: [orders], bugs: [NoResyncOnGap]}\n"
      "  - {name: b, shapes: [orders]}\n"
      "events:\n"
      "  - {at_s: 0.5, action: write, client: b, count: 1}\n"  // a delta read: a position
      "  - {at_s: 1.0, action: link, from: server, to: a, frames: {types: [ShapeDelta], "
      "drop_next: 1}}\n"
      "  - {at_s: 1.5, action: write, client: b, count: 3}\n"
      "expect:\n  converged: false\n  flagged: [RESYNC-2]\n";
  const auto caught = t.run(scenario(yaml));
  EXPECT_TRUE(caught.passed) << first_of(caught);
  // Without the bug the same scenario fails: nothing to flag.
  std::string clean = yaml;
  clean.replace(clean.find(", bugs: [NoResyncOnGap]"), 23, "");
  const auto missed = t.run(scenario(clean));
  EXPECT_FALSE(missed.passed);
  EXPECT_NE(first_of(missed).find("RESYNC-2: expected it to be caught"), std::string::npos)
      << first_of(missed);
}

TEST(LiveScenario, WhatALiveRunCannotDoIsUnsupportedWithTheReason) {
  LiveScenarioOptions o;
  const auto why = [&](const std::string& extra) {
    return live_unsupported(scenario("name: x\nclients: [{name: a, shapes: [orders]}]\n" + extra),
                            o);
  };
  EXPECT_EQ(why(""), "");
  EXPECT_EQ(why("events: [{at_s: 1, action: purge, collection: orders}]\n"),
            "step 1 (purge): it needs the operator hook \"purge\", which the target file does "
            "not declare");
  o.hooks["purge"] = "true";  // declared: the step runs
  EXPECT_EQ(why("events: [{at_s: 1, action: purge, collection: orders}]\n"), "");
  EXPECT_EQ(why("events: [{at_s: 1, action: restart, nodes: [a]}]\n"),
            "step 1 (restart): a client's restart is not done live yet");
  EXPECT_EQ(why("events: [{at_s: 1, action: drift, nodes: [a], ppm: 5}]\n"),
            "step 1 (drift): it is simulator-only");
  EXPECT_EQ(why("server: {max_sessions: 2}\n"),
            "sets the server option max_sessions = 2, which the target file's settings: do not "
            "declare");
  o.settings["max_sessions"] = 2;  // declared with that value (D185): it runs
  EXPECT_EQ(why("server: {max_sessions: 2}\n"), "");
  EXPECT_EQ(why("network: {segment_loss_ppm: 1000}\n"), "segment_loss_ppm is the simulator's");
  EXPECT_EQ(live_unsupported(scenario("name: x\nclients: [{name: a, token: {}}]\n"), o),
            "client a needs tokens: give the target's jwt_secret");
  // A bug scenario whose rule only the simulator judges (PRES-11, from the
  // reference client's state notes); RESYNC-2 is judged on the wire.
  EXPECT_EQ(why("expect: {converged: false, flagged: [PRES-11]}\n"),
            "it demands PRES-11 be caught, which is judged only from the reference's state "
            "notes or configured limits, not yet live");
  EXPECT_EQ(why("expect: {converged: false, flagged: [RESYNC-2]}\n"), "");
}

TEST(LiveScenario, AnUnreachableTargetIsSaidAtOnce) {
  boost::asio::io_context ioc;
  const auto why = unreachable(ioc, *parse_endpoint("tcp://127.0.0.1:1").endpoint);
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace syncsim::test
