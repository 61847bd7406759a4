// A small Asio workload for simulator tests, benchmarks and `syncsim
// sim-demo`: an echo server
// and clients that send Ping frames on a timer, read the echoes through the
// frame stream decoder, and reconnect with jittered backoff after errors.
// It touches every simulated I/O path: connect, accept, read, write, timers,
// node PRNG streams, resets and crashes.
#pragma once

#include <array>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <memory>

#include "protocol/codec.hpp"
#include "protocol/frame_stream.hpp"
#include "sim/asio_io.hpp"

namespace syncsim::sim::demo {

struct ChatterStats {
  std::uint64_t connects = 0, sent = 0, echoed = 0, errors = 0, accepted = 0;
};

class EchoSession : public std::enable_shared_from_this<EchoSession> {
 public:
  explicit EchoSession(sim::SimSocket s) : sock_(std::move(s)) {}
  void start() { read(); }

 private:
  void read() {
    sock_.async_read_some(
        boost::asio::buffer(buf_), [self = shared_from_this()](auto ec, std::size_t n) {
          if (ec) return;
          boost::asio::async_write(self->sock_, boost::asio::buffer(self->buf_.data(), n),
                                   [self](auto ec2, std::size_t) {
                                     if (!ec2) self->read();
                                   });
        });
  }
  sim::SimSocket sock_;
  std::array<std::uint8_t, 2048> buf_{};
};

class EchoServer : public std::enable_shared_from_this<EchoServer> {
 public:
  EchoServer(sim::Host& host, std::uint16_t port, ChatterStats& stats)
      : acc_(host, port), stats_(stats) {}
  void start() {
    acc_.async_accept([self = shared_from_this()](auto ec, sim::SimSocket s) {
      if (ec) return;
      ++self->stats_.accepted;
      std::make_shared<EchoSession>(std::move(s))->start();
      self->start();
    });
  }

 private:
  sim::SimAcceptor acc_;
  ChatterStats& stats_;
};

class ChatterClient : public std::enable_shared_from_this<ChatterClient> {
 public:
  ChatterClient(sim::Host& host, sim::Address server, sim::Duration period, ChatterStats& stats)
      : host_(host),
        server_(std::move(server)),
        period_(period),
        sock_(host),
        timer_(host),
        stats_(stats) {}

  void start() { connect(); }

 private:
  // Handlers of an older connection attempt carry an older generation and
  // do nothing, so one failure triggers one backoff.
  void connect() {
    ++gen_;
    sock_ = sim::SimSocket(host_);
    decoder_ = protocol::FrameStream();
    sock_.async_connect(server_, [self = shared_from_this(), g = gen_](auto ec) {
      if (g != self->gen_) return;
      if (ec) return self->backoff();
      ++self->stats_.connects;
      self->read();
      self->tick();
    });
  }
  void backoff() {
    ++gen_;
    ++stats_.errors;
    sock_.close();
    timer_.cancel();
    const auto delay =
        10 * sim::kMillisecond + host_.rng("backoff").between(0, 50 * sim::kMillisecond);
    timer_.expires_after(std::chrono::nanoseconds(delay));
    timer_.async_wait([self = shared_from_this()](auto ec) {
      if (!ec) self->connect();
    });
  }
  void tick() {
    timer_.expires_after(std::chrono::nanoseconds(period_));
    timer_.async_wait([self = shared_from_this(), g = gen_](auto ec) {
      if (ec || g != self->gen_) return;
      self->send();
      self->tick();
    });
  }
  void send() {
    if (writing_) return;
    protocol::PingPong ping{.timestamp_ms = static_cast<std::uint64_t>(host_.system_now_ms()),
                            .is_pong = false};
    out_ = protocol::encode_frame(ping);
    // Pad with a DeltaPush of random size so segmentation varies.
    protocol::DeltaPush push;
    push.delta.resize(1 + host_.rng("size").below(3000));
    protocol::append_frame(push, out_);
    writing_ = true;
    boost::asio::async_write(sock_, boost::asio::buffer(out_),
                             [self = shared_from_this(), g = gen_](auto ec, std::size_t) {
                               self->writing_ = false;
                               if (g != self->gen_) return;
                               if (ec) return self->backoff();
                               self->stats_.sent += 2;
                             });
  }
  void read() {
    sock_.async_read_some(boost::asio::buffer(in_),
                          [self = shared_from_this(), g = gen_](auto ec, std::size_t n) {
                            if (g != self->gen_) return;
                            if (ec) return self->backoff();
                            self->decoder_.feed(std::span<const std::uint8_t>(self->in_.data(), n));
                            for (;;) {
                              auto ev = self->decoder_.next();
                              if (ev.kind == protocol::StreamEvent::Kind::NeedMore ||
                                  ev.kind == protocol::StreamEvent::Kind::Closed)
                                break;
                              if (ev.kind == protocol::StreamEvent::Kind::Frame)
                                ++self->stats_.echoed;
                            }
                            self->read();
                          });
  }

  sim::Host& host_;
  sim::Address server_;
  sim::Duration period_;
  sim::SimSocket sock_;
  sim::SimTimer timer_;
  ChatterStats& stats_;
  protocol::FrameStream decoder_;
  protocol::Bytes out_;
  std::array<std::uint8_t, 4096> in_{};
  bool writing_ = false;
  std::uint64_t gen_ = 0;
};

struct ChatterOptions {
  std::uint64_t seed = 1;
  int clients = 3;  // nodes client-0..client-{n-1}; client-0's link relays frames lossily
  sim::Duration run_for = 10 * sim::kSecond;
  sim::Duration period = 20 * sim::kMillisecond;
  bool faults = true;
  std::ostream* trace_out = nullptr;
  std::function<void(const sim::World&)> on_start;  // e.g. print world.describe()
};

struct ChatterResult {
  std::uint64_t trace_hash = 0;
  std::uint64_t trace_lines = 0;
  std::uint64_t events = 0;
  ChatterStats stats;
};

// Builds a world, runs it, returns the trace hash and counters.
inline ChatterResult run_chatter(const ChatterOptions& o) {
  ChatterResult result;
  sim::WorldOptions wo;
  wo.seed = o.seed;
  wo.trace_out = o.trace_out;
  sim::World world(wo);
  auto& stats = result.stats;
  world.default_link().latency = 2 * sim::kMillisecond;
  world.default_link().jitter = 3 * sim::kMillisecond;
  if (o.faults) {
    world.default_link().segment_loss = sim::Ratio::ppm(20'000);
    world.default_link().tail = sim::Ratio::ppm(50'000);
    world.default_link().tail_mean = 30 * sim::kMillisecond;
  }
  world.add_node("server", [&stats](sim::Host& h) {
    auto s = std::make_shared<EchoServer>(h, 9091, stats);
    s->start();
    return std::shared_ptr<void>(s);
  });
  for (int k = 0; k < o.clients; ++k) {
    const auto id = world.add_node(
        "client-" + std::to_string(k),
        [&stats, &o](sim::Host& h) {
          auto c =
              std::make_shared<ChatterClient>(h, sim::Address{"server", 9091}, o.period, stats);
          c->start();
          return std::shared_ptr<void>(c);
        },
        sim::ClockParams{.offset = (k - 1) * 5 * sim::kSecond, .drift_ppm = (k - 1) * 50});
    if (o.faults && k == 0) {
      auto& l = world.link(id, 0);
      l.frame_faults = true;
      l.frame_drop = sim::Ratio::ppm(50'000);
      l.frame_duplicate = sim::Ratio::ppm(20'000);
      l.frame_reorder = sim::Ratio::ppm(50'000);
      l.frame_corrupt = sim::Ratio::ppm(10'000);
    }
  }
  if (o.faults) {
    world.random_partitions(2 * sim::kSecond, 300 * sim::kMillisecond, sim::Ratio{1, 3}, o.run_for);
    world.at(o.run_for / 4, [&world] { world.partition(2, 0, /*one_way=*/true); });
    world.at(o.run_for / 4 + 200 * sim::kMillisecond, [&world] { world.heal(2, 0); });
    world.at(o.run_for / 3, [&world] { world.clock_jump(1, -2 * sim::kSecond); });
    world.at(o.run_for / 2, [&world] {
      const auto ids = world.connection_ids();
      if (!ids.empty()) world.reset_connection(ids.front());
    });
    world.at(o.run_for * 2 / 3, [&world] { world.restart(0, false); });
  }
  if (o.on_start) o.on_start(world);
  const auto r = world.run_until(o.run_for);
  result.trace_hash = world.trace().hash();
  result.trace_lines = world.trace().lines();
  result.events = r.events;
  return result;
}

}  // namespace syncsim::sim::demo
