// The event loop: virtual time jumps, FIFO at equal times, cancellation,
// run control and deadlock reporting.
#include "sim/event_loop.hpp"

#include <gtest/gtest.h>

#include "sim/asio_io.hpp"

namespace syncsim::test {
namespace {

using namespace sim;

TEST(SimLoop, EqualTimesRunFirstInFirstOut) {
  EventLoop loop;
  std::vector<int> order;
  for (int k = 0; k < 100; ++k) loop.at(5 * kSecond, [&order, k] { order.push_back(k); });
  loop.at(1 * kSecond, [&order] { order.push_back(-1); });
  while (loop.step()) {
  }
  ASSERT_EQ(order.size(), 101u);
  EXPECT_EQ(order[0], -1);
  for (int k = 0; k < 100; ++k) EXPECT_EQ(order[1 + k], k);
  EXPECT_EQ(loop.now(), 5 * kSecond);
}

TEST(SimLoop, TimeJumpsToTheNextEventWithoutTicks) {
  EventLoop loop;
  Time seen = -1;
  loop.at(3600 * kSecond, [&] { seen = loop.now(); });
  EXPECT_TRUE(loop.step());
  EXPECT_EQ(seen, 3600 * kSecond);
  EXPECT_EQ(loop.executed(), 1u);
  EXPECT_FALSE(loop.step());
}

TEST(SimLoop, CancelledEventsNeverRun) {
  EventLoop loop;
  int ran = 0;
  const EventId a = loop.at(10, [&] { ran += 1; });
  const EventId b = loop.at(10, [&] { ran += 10; });
  EXPECT_TRUE(loop.cancel(a));
  EXPECT_FALSE(loop.cancel(a));
  EXPECT_EQ(loop.pending(), 1u);
  while (loop.step()) {
  }
  EXPECT_EQ(ran, 10);
  EXPECT_FALSE(loop.cancel(b));  // already ran
  // A slot reused by a new event is not cancellable through the old id.
  const EventId c = loop.at(20, [&] { ran += 100; });
  EXPECT_FALSE(loop.cancel(a));
  EXPECT_TRUE(loop.is_pending(c));
}

TEST(SimLoop, EventsScheduledFromEventsAndThePastIsClamped) {
  EventLoop loop;
  std::vector<Time> times;
  loop.at(100, [&] {
    times.push_back(loop.now());
    loop.at(50, [&] { times.push_back(loop.now()); });  // in the past: runs now
    loop.after(7, [&] { times.push_back(loop.now()); });
  });
  while (loop.step()) {
  }
  EXPECT_EQ(times, (std::vector<Time>{100, 100, 107}));
}

TEST(SimWorld, RunUntilTimeIdlesTheClockForward) {
  World w;
  const auto r = w.run_until(kSecond);
  EXPECT_EQ(r.reason, StopReason::TimeReached);
  EXPECT_EQ(w.now(), kSecond);
}

TEST(SimWorld, UnreachableConditionIsReportedAsDeadlockWithPendingOps) {
  World w;
  bool got = false;
  std::shared_ptr<SimSocket> keep;
  w.add_node("server", [&](Host& h) {
    auto acc = std::make_shared<SimAcceptor>(h, 1);
    auto kept = std::make_shared<std::vector<SimSocket>>();  // accepted, never written
    acc->async_accept([kept](auto, SimSocket s) { kept->push_back(std::move(s)); });
    return std::shared_ptr<void>(
        std::make_shared<std::pair<decltype(acc), decltype(kept)>>(acc, kept));
  });
  w.add_node("client", [&](Host& h) {
    auto s = std::make_shared<SimSocket>(h);
    keep = s;
    s->async_connect(Address{"server", 1}, [s, &got](auto ec) {
      if (ec) return;
      static std::array<char, 4> buf;
      s->async_read_some(boost::asio::buffer(buf), [&got](auto, std::size_t) { got = true; });
    });
    return std::shared_ptr<void>(s);
  });
  const auto r = w.run_until([&] { return got; });
  EXPECT_EQ(r.reason, StopReason::Deadlock);
  EXPECT_FALSE(got);
  ASSERT_FALSE(r.pending_ops.empty());
  EXPECT_NE(r.pending_ops[0].find("client: read"), std::string::npos) << r.pending_ops[0];
}

TEST(SimWorld, EventBudgetStopsARunawayRun) {
  WorldOptions o;
  o.max_events = 1000;
  World w(o);
  std::function<void()> again = [&] { w.after(1, again); };
  w.after(1, again);
  const auto r = w.run();
  EXPECT_EQ(r.reason, StopReason::BudgetExhausted);
  EXPECT_EQ(r.events, 1000u);
}

TEST(SimWorld, ManyEventsAtOneInstantIsReportedAsStalled) {
  WorldOptions o;
  o.max_events_per_instant = 500;
  World w(o);
  std::function<void()> again = [&] { w.after(0, again); };
  w.after(10, again);
  const auto r = w.run();
  EXPECT_EQ(r.reason, StopReason::Stalled);
  EXPECT_EQ(w.now(), 10);
}

}  // namespace
}  // namespace syncsim::test
