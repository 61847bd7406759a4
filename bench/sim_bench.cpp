// Simulator throughput, printed as plain numbers and ratios:
//   1. core loop events/s beside a bare binary heap of plain structs, same
//      workload, same run (goal: >= 10M events/s and >= 50 % of the bare loop);
//   2. Asio completions/s through simulated timers;
//   3. simulated stream MB/s through async_write/async_read_some;
//   4. virtual seconds per wall second on a busy 10-node network.
// Wall-clock time is read here only to measure; it never shapes a run.
#include <algorithm>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <vector>

#include "sim/asio_io.hpp"
#include "sim/demo/chatter.hpp"
#include "sim/event_loop.hpp"
#include "sim/prng.hpp"

namespace {

using namespace syncsim::sim;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

constexpr int kActors = 1000;
constexpr std::uint64_t kEvents = 10'000'000;

// 1a. The bare loop: POD events in a binary heap, dispatch by switch.
double bare_loop_events_per_s(std::uint64_t& checksum) {
  struct Ev {
    Time t;
    std::uint64_t seq;
    std::uint32_t actor;
  };
  auto later = [](const Ev& a, const Ev& b) { return a.t != b.t ? a.t > b.t : a.seq > b.seq; };
  std::vector<Ev> heap;
  Prng rng(1);
  std::uint64_t seq = 0;
  for (std::uint32_t a = 0; a < kActors; ++a)
    heap.push_back({static_cast<Time>(rng.below(1000)), seq++, a});
  std::make_heap(heap.begin(), heap.end(), later);
  const auto t0 = Clock::now();
  for (std::uint64_t n = 0; n < kEvents; ++n) {
    std::pop_heap(heap.begin(), heap.end(), later);
    Ev e = heap.back();
    heap.pop_back();
    checksum += e.actor;
    switch (e.actor & 1) {
      case 0: heap.push_back({e.t + 1 + static_cast<Time>(rng.below(1000)), seq++, e.actor}); break;
      default:
        heap.push_back({e.t + 1 + static_cast<Time>(rng.below(1000)), seq++, e.actor});
        break;
    }
    std::push_heap(heap.begin(), heap.end(), later);
  }
  return static_cast<double>(kEvents) / seconds_since(t0);
}

// 1b. The simulator's EventLoop, same workload, events as Tasks.
struct Actor {
  EventLoop* loop;
  Prng* rng;
  std::uint64_t* checksum;
  std::uint32_t id;
  void operator()() const {
    *checksum += id;
    loop->after(1 + static_cast<Duration>(rng->below(1000)), Actor{*this});
  }
};

double event_loop_events_per_s(std::uint64_t& checksum) {
  EventLoop loop;
  Prng rng(1);
  for (std::uint32_t a = 0; a < kActors; ++a) {
    loop.at(static_cast<Time>(rng.below(1000)), Actor{&loop, &rng, &checksum, a});
  }
  const auto t0 = Clock::now();
  for (std::uint64_t n = 0; n < kEvents; ++n) loop.step();
  return static_cast<double>(kEvents) / seconds_since(t0);
}

// 2. Asio completions: timers re-armed from their handlers.
double timer_completions_per_s() {
  World w;
  std::uint64_t done = 0;
  constexpr std::uint64_t kTarget = 2'000'000;
  w.add_node("n", [&](Host& h) {
    auto timers = std::make_shared<std::vector<std::unique_ptr<SimTimer>>>();
    for (int k = 0; k < kActors; ++k) timers->push_back(std::make_unique<SimTimer>(h));
    auto rearm = std::make_shared<std::function<void(SimTimer&)>>();
    *rearm = [&done, &h, rearm](SimTimer& t) {
      t.expires_after(std::chrono::microseconds(1 + h.rng("t").below(1000)));
      t.async_wait([&done, &t, rearm](boost::system::error_code ec) {
        if (ec || ++done >= kTarget) return;
        (*rearm)(t);
      });
    };
    for (auto& t : *timers) (*rearm)(*t);
    return std::shared_ptr<void>(timers);
  });
  const auto t0 = Clock::now();
  w.run_until([&] { return done >= kTarget; });
  return static_cast<double>(done) / seconds_since(t0);
}

// 3. Stream throughput: 64 KiB writes, reads of up to 64 KiB.
double stream_mb_per_s() {
  World w;
  w.default_link().latency = 100 * kMicrosecond;
  w.default_link().max_segment = 64 * 1024;
  w.default_link().window = 4u << 20;
  std::uint64_t received = 0;
  constexpr std::uint64_t kTarget = 2ull << 30;  // 2 GiB
  w.add_node("sink", [&](Host& h) {
    auto acc = std::make_shared<SimAcceptor>(h, 1);
    auto keep = std::make_shared<std::vector<std::shared_ptr<void>>>();
    acc->async_accept([&, keep](boost::system::error_code, SimSocket s) {
      auto sock = std::make_shared<SimSocket>(std::move(s));
      auto buf = std::make_shared<std::vector<std::uint8_t>>(64 * 1024);
      auto loop = std::make_shared<std::function<void()>>();
      *loop = [&, sock, buf, loop] {
        sock->async_read_some(boost::asio::buffer(*buf),
                              [&, loop](boost::system::error_code ec, std::size_t n) {
                                received += n;
                                if (!ec && received < kTarget) (*loop)();
                              });
      };
      (*loop)();
      keep->push_back(sock);
    });
    return std::shared_ptr<void>(
        std::make_shared<std::pair<decltype(acc), decltype(keep)>>(acc, keep));
  });
  w.add_node("source", [&](Host& h) {
    auto sock = std::make_shared<SimSocket>(h);
    auto data = std::make_shared<std::vector<std::uint8_t>>(64 * 1024, 0x5a);
    auto loop = std::make_shared<std::function<void()>>();
    *loop = [&, sock, data, loop] {
      boost::asio::async_write(*sock, boost::asio::buffer(*data),
                               [&, loop](boost::system::error_code ec, std::size_t) {
                                 if (!ec && received < kTarget) (*loop)();
                               });
    };
    sock->async_connect(Address{"sink", 1}, [loop](boost::system::error_code ec) {
      if (!ec) (*loop)();
    });
    return std::shared_ptr<void>(sock);
  });
  const auto t0 = Clock::now();
  w.run_until([&] { return received >= kTarget; });
  return static_cast<double>(received) / 1e6 / seconds_since(t0);
}

}  // namespace

int main() {
  std::uint64_t c1 = 0, c2 = 0;
  const double bare = bare_loop_events_per_s(c1);
  const double loop = event_loop_events_per_s(c2);
  std::printf(
      "core loop:        %6.2f M events/s   bare POD heap: %6.2f M events/s   ratio %.0f %%%s\n",
      loop / 1e6, bare / 1e6, 100 * loop / bare, c1 == c2 ? "" : "  (checksums differ!)");
  std::printf("asio completions: %6.2f M timer completions/s\n", timer_completions_per_s() / 1e6);
  std::printf("simulated stream: %6.0f MB/s (64 KiB writes)\n", stream_mb_per_s());
  syncsim::sim::demo::ChatterOptions o;
  o.clients = 9;
  o.run_for = 120 * kSecond;
  o.period = 5 * kMillisecond;
  const auto t0 = Clock::now();
  const auto r = syncsim::sim::demo::run_chatter(o);
  const double wall = seconds_since(t0);
  std::printf(
      "busy 10-node net:  %.0f virtual s in %.2f wall s = %.0fx real time; %.2f M events/s, %llu "
      "frames echoed\n",
      static_cast<double>(o.run_for) / 1e9, wall, static_cast<double>(o.run_for) / 1e9 / wall,
      static_cast<double>(r.events) / wall / 1e6, static_cast<unsigned long long>(r.stats.echoed));
  std::printf(
      "busy 10-node net / core loop: %.1f %% of the core loop's events/s (issue 18 aims at 25 "
      "%%: 3M against an 11.8M core loop)\n",
      100 * static_cast<double>(r.events) / wall / loop);
  return 0;
}
