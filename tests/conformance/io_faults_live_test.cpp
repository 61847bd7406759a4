// The live proxy's every I/O operation failing, one at a time (D70): the
// reference client talks to the reference server through `syncsim proxy`
// on loopback; an unfaulted run counts the proxy's operations (its TCP reads
// and writes on both sides, the upstream connect, accepts, timer waits),
// then the session runs once per N with the proxy's Nth operation failing.
// Each run ends when the client has converged or has seen its connection
// end (a clean close; its reconnect is not waited for), within a deadline.
// No exception, no hang, no pair left open, and no MUST finding from the
// proxy's checker, which judges every frame both ways.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "conformance/live/live_client.hpp"
#include "conformance/live/live_server.hpp"
#include "conformance/live/proxy.hpp"

namespace syncsim::test {
namespace {

using namespace conformance;
using sim::FailHow;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(3);  // per run; an unfaulted one takes ~30 ms
constexpr int kWrites = 3;

struct Outcome {
  std::string problem;  // empty: converged or closed cleanly, no MUST finding
  bool converged = false;
  std::uint64_t ops = 0;  // the proxy's operations counted
};

LiveClient::Options client_options(const Endpoint& proxy) {
  LiveClient::Options o;
  o.connect = proxy;
  protocol::ShapeDefinition shape;
  shape.shape_id = "orders-all";
  shape.shape_type = protocol::shape_type::Document{"orders", {}};
  o.config.shapes = {shape};
  o.config.retransmit_ms = 300;
  o.config.push_tick_ms = 5;  // FLOW-2's tick: writes leave at once, runs stay short
  o.writes = kWrites;
  o.docs = kWrites;
  o.write_every_ms = 5;
  return o;
}

bool converged(const LiveClient& c) {
  const auto& core = c.core();
  const auto view = core.view().find("orders");
  return c.writes_done() == kWrites && core.pending() == 0 && view != core.view().end() &&
         view->second.size() == static_cast<std::size_t>(kWrites);
}

Outcome proxied_session(const sim::FailPlan& plan) {
  boost::asio::io_context ioc;
  LiveServer::Options so;
  so.listen = *parse_endpoint("tcp://127.0.0.1:0").endpoint;
  LiveServer server(ioc, so);
  boost::system::error_code ec;
  if (!server.start(ec)) return {"server: " + ec.message()};
  Proxy::Options po;
  po.listen = so.listen;
  po.upstream = so.listen;
  po.upstream.port = server.port();
  po.fail = std::make_shared<sim::FailPlan>(plan);
  Proxy proxy(ioc, po);
  if (!proxy.start(ec)) return {"proxy: " + ec.message()};
  Endpoint at = po.listen;
  at.port = proxy.port();
  LiveClient client(ioc, client_options(at));
  client.start();
  const auto until = Clock::now() + kDeadline;
  Outcome out;
  while (Clock::now() < until && !converged(client) && client.core().stats().reconnects == 0) {
    ioc.run_one_for(std::chrono::milliseconds(5));
  }
  out.converged = converged(client);
  if (!out.converged && client.core().stats().reconnects == 0) out.problem = "hung to the deadline";
  client.stop();
  proxy.stop();
  server.stop();
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(20));  // the closes complete
  proxy.finish();
  out.ops = po.fail->count;
  if (out.problem.empty() && proxy.checker().must_count() > 0)
    out.problem = format_check_finding(proxy.checker().findings().front());
  return out;
}

void every_proxy_operation_fails(FailHow how) {
  sim::FailPlan plan;
  plan.how = how;
  plan.error = boost::asio::error::network_down;
  const Outcome counted = proxied_session(plan);
  ASSERT_EQ(counted.problem, "") << "the unfaulted run";
  ASSERT_TRUE(counted.converged);
  ASSERT_GT(counted.ops, 0u);
  const std::uint64_t stride = std::getenv("SYNCSIM_QUICK") ? 3 : 1;  // sanitizer builds
  std::printf("[ IoFaults ] proxy %s: %llu operations, every %llu-th failed\n",
              std::string(sim::fail_how_name(how)).c_str(),
              static_cast<unsigned long long>(counted.ops),
              static_cast<unsigned long long>(stride));
  int closed = 0;
  for (std::uint64_t n = 1; n <= counted.ops; n += stride) {
    plan.nth = n;
    Outcome o;
    try {
      o = proxied_session(plan);
    } catch (const std::exception& e) {
      o.problem = std::string("exception: ") + e.what();
    }
    closed += !o.converged;
    EXPECT_EQ(o.problem, "") << sim::fail_how_name(how) << " of the proxy's operation " << n;
  }
  std::printf("[ IoFaults ] proxy %s: %d runs ended in a clean close, the others converged\n",
              std::string(sim::fail_how_name(how)).c_str(), closed);
}

TEST(IoFaults, ProxiedSessionSurvivesEveryProxyOperationFailingWithAnError) {
  every_proxy_operation_fails(FailHow::Error);
}
TEST(IoFaults, ProxiedSessionSurvivesEveryProxyReadCutShort) {
  every_proxy_operation_fails(FailHow::ShortRead);
}
TEST(IoFaults, ProxiedSessionSurvivesEveryProxyWriteCutShort) {
  every_proxy_operation_fails(FailHow::ShortWrite);
}
TEST(IoFaults, ProxiedSessionSurvivesAResetAtEveryProxyReadAndWrite) {
  every_proxy_operation_fails(FailHow::Reset);
}

}  // namespace
}  // namespace syncsim::test
