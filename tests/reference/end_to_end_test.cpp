// The reference client and server together in the simulator: a mixed
// workload under faults converges (every mutation acknowledged, every
// client's view equal to the server's store) and the conformance of each
// frame holds. Seeds are fixed so a failure reproduces.
#include <gtest/gtest.h>

#include <cstdlib>

#include "conformance/checker/session_checker.hpp"
#include "protocol/codec.hpp"
#include "protocol/validate.hpp"
#include "reference/client.hpp"
#include "reference/persistence.hpp"
#include "reference/runtime.hpp"
#include "reference/server.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace reference;
using namespace protocol;

struct Cluster {
  std::shared_ptr<Server<SimRuntime>> server;
  std::vector<std::shared_ptr<Client<SimRuntime>>> clients;
  conformance::SessionChecker checker;  // judges every frame either side writes
  sim::World* world = nullptr;
  void judge(const Message& m, std::uint64_t conn, Sender from) {
    checker.on_frame(conformance::FrameRecord{world->now(), conn, from, encode_frame(m)});
  }
  bool flagged(std::string_view rule) const {
    for (const auto& f : checker.findings()) {
      if (f.finding.rule == rule && f.finding.level == Level::Must) return true;
    }
    return false;
  }
};

ShapeDefinition orders_shape() {
  ShapeDefinition s;
  s.shape_id = "orders-all";
  s.shape_type = shape_type::Document{"orders", {}};
  return s;
}

// Builds server + n clients; clients write `writes` documents each at
// random times in the first 20 s. With faults: jitter, segment loss, a
// partition, a connection reset and a client restart.
// Fills `c` in place: the nodes' callbacks hold its address, so it must not
// move (a returned Cluster would rely on NRVO, which nothing guarantees).
void build(Cluster& c, sim::World& w, int n, int writes, bool faults,
           ServerConfig server_config = {}) {
  c.world = &w;
  c.clients.resize(static_cast<std::size_t>(n));
  w.default_link().latency = 5 * sim::kMillisecond;
  if (faults) {
    w.default_link().jitter = 20 * sim::kMillisecond;
    w.default_link().segment_loss = sim::Ratio::ppm(20'000);
  }
  w.add_node("server", [&c, server_config](sim::Host& h) {
    c.server = std::make_shared<Server<SimRuntime>>(SimRuntime{&h}, server_config);
    c.server->on_send = [&c](const Message& m, std::uint64_t conn) {
      c.judge(m, conn, Sender::Server);
    };
    c.server->on_closed = [&c](std::uint64_t conn) { c.checker.on_close(conn, c.world->now()); };
    boost::system::error_code ec;
    c.server->start(9091, ec);
    return std::shared_ptr<void>(c.server);
  });
  for (int k = 0; k < n; ++k) {
    const std::string name = "client-" + std::to_string(k);
    w.add_node(name, [&c, k](sim::Host& h) {
      ClientConfig cfg;
      cfg.shapes = {orders_shape()};
      auto& disk = h.disk();
      const ClientPersistent p = load_persistent(disk);  // DELTA-1, HS-12
      auto client = std::make_shared<Client<SimRuntime>>(SimRuntime{&h},
                                                         sim::Address{"server", 9091}, cfg, p);
      client->on_persist = [&disk](const ClientPersistent& st) { save_persistent(disk, st); };
      client->on_send = [&c](const Message& m, std::uint64_t conn) {
        c.judge(m, conn, Sender::Client);
      };
      client->on_closed = [&c](std::uint64_t conn) { c.checker.on_close(conn, c.world->now()); };
      client->start();
      c.clients[static_cast<std::size_t>(k)] = client;
      return std::shared_ptr<void>(client);
    });
  }
  for (int k = 0; k < n; ++k) {
    auto& rng = w.host(static_cast<sim::NodeId>(k + 1)).rng("workload");
    for (int i = 0; i < writes; ++i) {
      const sim::Time t = rng.between(2 * sim::kSecond, 20 * sim::kSecond);
      const std::string doc = "doc-" + std::to_string(rng.below(10));
      Bytes value{static_cast<std::uint8_t>(k), static_cast<std::uint8_t>(i), 7};
      w.at(t, [&c, k, doc, value] {
        c.clients[static_cast<std::size_t>(k)]->write("orders", doc, value);
      });
    }
  }
  if (faults) {
    w.at(6 * sim::kSecond, [&w] { w.partition(1, 0); });
    w.at(9 * sim::kSecond, [&w] { w.heal(1, 0); });
    w.at(12 * sim::kSecond, [&w] {
      const auto ids = w.connection_ids();
      if (!ids.empty()) w.reset_connection(ids.back());
    });
    if (n > 2) w.at(15 * sim::kSecond, [&w] { w.restart(3, /*wipe_disk=*/false); });
  }
}

void expect_converged(sim::World& w, Cluster& c, std::uint64_t seed) {
  const auto& store = c.server->core().collections();
  const auto it = store.find({0, "orders"});
  ASSERT_NE(it, store.end()) << "seed " << seed;
  for (std::size_t k = 0; k < c.clients.size(); ++k) {
    auto& core = c.clients[k]->core();
    EXPECT_TRUE(core.authenticated()) << "seed " << seed << " client " << k;
    EXPECT_EQ(core.pending(), 0u) << "seed " << seed << " client " << k
                                  << ": unacknowledged mutations";
    const auto view = core.view().find("orders");
    ASSERT_NE(view, core.view().end()) << "seed " << seed << " client " << k;
    EXPECT_EQ(view->second, it->second.documents)
        << "seed " << seed << " client " << k << " diverged";
  }
  c.checker.finish(w.now());
  if (c.checker.must_count() > 0) {
    const auto& f = c.checker.findings().front();
    std::string context;
    for (const auto& line : f.context) context += "\n    " + line;
    ADD_FAILURE() << "seed " << seed << ": " << conformance::format_check_finding(f)
                  << "\n  frame: " << f.frame << "\n  before:" << context;
  }
  EXPECT_GT(c.checker.frames(), 100u);
}

TEST(Convergence, NoFaults) {
  sim::World w;
  Cluster c;
  build(c, w, 3, 20, false);
  w.run_until(40 * sim::kSecond);
  expect_converged(w, c, 1);
  EXPECT_EQ(c.server->core().collections().at({0, "orders"}).lsn, 60u);  // every write applied once
}

// 100 seeds in CI; SYNCSIM_SEEDS=1000 for the longer run.
TEST(Convergence, MixedWorkloadWithFaultsOverAHundredSeeds) {
  const char* env = std::getenv("SYNCSIM_SEEDS");
  const std::uint64_t seeds = env ? std::strtoull(env, nullptr, 10) : seed_count(100);
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    sim::WorldOptions o;
    o.seed = seed;
    sim::World w(o);
    Cluster c;
    build(c, w, 4, 15, true);
    w.run_until(60 * sim::kSecond);
    expect_converged(w, c, seed);
    if (HasFailure()) return;
  }
}

// The checker catches the server's named bugs, naming the rule.
TEST(Convergence, ServerBugWrongLsnOrderIsFlaggedAsDelta8) {
  sim::World w;
  ServerConfig cfg;
  cfg.bugs.insert(ServerBug::WrongLsnOrder);
  Cluster c;
  build(c, w, 2, 10, false, cfg);
  w.run_until(40 * sim::kSecond);
  EXPECT_TRUE(c.flagged("DELTA-8"));
  EXPECT_TRUE(c.flagged("SHAPE-9"));
}

TEST(Convergence, ServerBugSkipDedupIsFlaggedAsDelta6) {
  bool flagged = false;
  for (std::uint64_t seed = 1; seed <= 20 && !flagged; ++seed) {
    sim::WorldOptions o;
    o.seed = seed;
    sim::World w(o);
    ServerConfig cfg;
    cfg.bugs.insert(ServerBug::SkipDedup);
    Cluster c;
    build(c, w, 4, 15, true, cfg);  // the partition forces retransmissions
    w.run_until(60 * sim::kSecond);
    flagged = c.flagged("DELTA-6");
  }
  EXPECT_TRUE(flagged);
}

// The check can fail: a client that sends wrong checksums never gets its
// writes applied, so the store never holds them.
TEST(Convergence, ClientBugWrongChecksumIsVisible) {
  sim::Prng rng(1);
  ClientConfig cfg;
  cfg.bugs.insert(ClientBug::WrongChecksum);
  ClientCore core(cfg, {}, rng);
  ServerCore server;
  const auto s = *server.open_session("x:1", Now{0, 0});
  core.on_connected(Now{0, 0});
  core.write("orders", "d", {1});
  for (std::int64_t t = 0; t < 5000; t += 100) {
    for (auto& m : core.take_output()) server.on_frame(s, m, Now{t, t});
    for (auto& o : server.take_output()) core.on_frame(o.message, Now{t, t});
    core.advance(Now{t + 100, t + 100});
  }
  EXPECT_EQ(core.stats().rejected, 2u);  // the first send and the one IntegrityViolation retry
  EXPECT_EQ(core.pending(), 0u);         // then rolled back (DELTA-14)
  EXPECT_TRUE(server.collections().empty());
}

}  // namespace
}  // namespace syncsim::test
