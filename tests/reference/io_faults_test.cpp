// Every I/O error path of a reference session, injected one at a time (the
// fail_count idea of Boost.Beast's test::stream): an unfaulted run counts the
// operations of one node (socket reads and writes, connects, accepts, timer
// waits), then the session runs once per N with the Nth operation failing:
// an error code, a short read, a short write or a connection reset. Every run
// is bounded in virtual time and events; it must end with no exception, the
// session converged (the client reconnects after a failure) and no MUST
// finding from the checker. Leaks show under the sanitizer build (ASan).
#include <gtest/gtest.h>

#include <cstdlib>

#include "conformance/checker/session_checker.hpp"
#include "protocol/codec.hpp"
#include "reference/client.hpp"
#include "reference/runtime.hpp"
#include "reference/server.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace reference;
using namespace protocol;
using sim::FailHow;

constexpr sim::Time kRunFor = 20 * sim::kSecond;  // writes end at 3 s, pings every 2 s
constexpr int kWrites = 3;
constexpr sim::NodeId kServerNode = 0, kClientNode = 1;  // in the order they are added

// One reference client and one reference server; the checker judges every frame.
struct Session {
  sim::World world{sim::WorldOptions{.seed = 5, .max_events = 2'000'000}};
  std::shared_ptr<Server<SimRuntime>> server;
  std::shared_ptr<Client<SimRuntime>> client;
  conformance::SessionChecker checker;

  explicit Session(const sim::FailPlan& plan) {
    world.fail_plan() = plan;
    world.default_link().latency = 2 * sim::kMillisecond;
    world.add_node("server", [this](sim::Host& h) {
      server = std::make_shared<Server<SimRuntime>>(SimRuntime{&h}, ServerConfig{});
      server->on_send = [this](const Message& m, std::uint64_t c) {
        judge(m, c, Sender::Server, conformance::Seen::Written);
      };
      server->on_receive = [this](const Message& m, std::uint64_t c) {
        judge(m, c, Sender::Client, conformance::Seen::Received);
      };
      server->on_closed = [this](std::uint64_t c) { checker.on_close(c, world.now()); };
      boost::system::error_code ec;
      server->start(9091, ec);
      return std::shared_ptr<void>(server);
    });
    world.add_node("client", [this](sim::Host& h) {
      ClientConfig cfg;
      ShapeDefinition shape;
      shape.shape_id = "orders-all";
      shape.shape_type = shape_type::Document{"orders", {}};
      cfg.shapes = {shape};
      cfg.ping_interval_ms = 2'000;
      cfg.retransmit_ms = 500;
      client = std::make_shared<Client<SimRuntime>>(SimRuntime{&h}, sim::Address{"server", 9091},
                                                    cfg, ClientPersistent{});
      client->on_send = [this](const Message& m, std::uint64_t c) {
        judge(m, c, Sender::Client, conformance::Seen::Written);
      };
      client->on_receive = [this](const Message& m, std::uint64_t c) {
        judge(m, c, Sender::Server, conformance::Seen::Received);
      };
      client->on_closed = [this](std::uint64_t c) { checker.on_close(c, world.now()); };
      client->start();
      return std::shared_ptr<void>(client);
    });
    for (int i = 0; i < kWrites; ++i) {
      world.at((i + 1) * sim::kSecond, [this, i] {
        client->write("orders", "doc-" + std::to_string(i), Bytes{1, 2, static_cast<uint8_t>(i)});
      });
    }
  }
  // As the scenario runner does: each frame judged as written and as read.
  void judge(const Message& m, std::uint64_t conn, Sender from, conformance::Seen seen) {
    checker.on_frame(conformance::FrameRecord{world.now(), conn, from, encode_frame(m), seen});
  }
  // Empty when the run converged with no MUST finding; otherwise what went wrong.
  std::string verdict() {
    const sim::RunResult r = world.run_until(kRunFor);
    if (r.reason != sim::StopReason::TimeReached)
      return "the run stopped early: " + std::string(sim::stop_reason_name(r.reason));
    checker.finish(world.now());
    if (checker.must_count() > 0)
      return conformance::format_check_finding(checker.findings().front());
    const auto& core = client->core();
    if (!core.authenticated()) return "the client is not authenticated at the end";
    if (core.pending() > 0) return std::to_string(core.pending()) + " writes unacknowledged";
    const auto view = core.view().find("orders");
    if (view == core.view().end() || view->second.size() != kWrites)
      return "the client's view misses writes";
    return "";
  }
};

sim::FailPlan plan_for(bool on_server, FailHow how, std::uint64_t nth) {
  sim::FailPlan plan;
  plan.how = how;
  plan.error = boost::asio::error::network_down;
  plan.node = on_server ? kServerNode : kClientNode;
  plan.nth = nth;
  return plan;
}

// The verdict of one run, exceptions included.
std::string run_with(const sim::FailPlan& plan) {
  try {
    Session s(plan);
    return s.verdict();
  } catch (const std::exception& e) {
    return std::string("exception: ") + e.what();
  }
}

// Counts the node's operations the failure applies to, then fails each in turn.
void every_operation_fails(bool on_server, FailHow how) {
  Session counted(plan_for(on_server, how, 0));
  ASSERT_EQ(counted.verdict(), "") << "the unfaulted run";
  const std::uint64_t count = counted.world.fail_plan().count;
  ASSERT_GT(count, 0u);
  const std::uint64_t stride = std::getenv("SYNCSIM_QUICK") ? 3 : 1;  // sanitizer builds
  std::printf("[ IoFaults ] %s %s: %llu operations, every %llu-th failed\n",
              on_server ? "server" : "client", std::string(sim::fail_how_name(how)).c_str(),
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(stride));
  for (std::uint64_t n = 1; n <= count; n += stride) {
    EXPECT_EQ(run_with(plan_for(on_server, how, n)), "")
        << sim::fail_how_name(how) << " of operation " << n << " of " << count;
  }
}

// Regressions found by the loops below (D70).
TEST(IoFaults, AFailedAcceptDoesNotLeaveTheServerDeaf) {
  const auto plan = plan_for(true, FailHow::Error, 1);
  Session s(plan);
  EXPECT_EQ(s.verdict(), "");
  ASSERT_TRUE(s.world.fail_plan().failed);
  EXPECT_EQ(*s.world.fail_plan().failed, sim::IoOp::Accept);
}

TEST(IoFaults, AFailedTimerWaitStillWakesTheClient) {
  for (const std::uint64_t n : {11, 17, 19, 25}) {
    Session s(plan_for(false, FailHow::Error, n));
    EXPECT_EQ(s.verdict(), "") << "operation " << n;
    ASSERT_TRUE(s.world.fail_plan().failed);
    EXPECT_EQ(*s.world.fail_plan().failed, sim::IoOp::Wait) << "operation " << n;
  }
}

TEST(IoFaults, ClientSessionSurvivesEveryOperationFailingWithAnError) {
  every_operation_fails(false, FailHow::Error);
}
TEST(IoFaults, ClientSessionSurvivesEveryReadCutShort) {
  every_operation_fails(false, FailHow::ShortRead);
}
TEST(IoFaults, ClientSessionSurvivesEveryWriteCutShort) {
  every_operation_fails(false, FailHow::ShortWrite);
}
TEST(IoFaults, ClientSessionSurvivesAResetAtEveryReadAndWrite) {
  every_operation_fails(false, FailHow::Reset);
}
TEST(IoFaults, ServerSessionSurvivesEveryOperationFailingWithAnError) {
  every_operation_fails(true, FailHow::Error);
}
TEST(IoFaults, ServerSessionSurvivesEveryReadCutShort) {
  every_operation_fails(true, FailHow::ShortRead);
}
TEST(IoFaults, ServerSessionSurvivesEveryWriteCutShort) {
  every_operation_fails(true, FailHow::ShortWrite);
}
TEST(IoFaults, ServerSessionSurvivesAResetAtEveryReadAndWrite) {
  every_operation_fails(true, FailHow::Reset);
}

}  // namespace
}  // namespace syncsim::test
