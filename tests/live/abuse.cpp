// Abusive peers against a live server or proxy on 127.0.0.1, all at once,
// next to one well-behaved client (tests/live/abuse.sh starts the target):
//   slowloris  N connections that send a frame header and 3 body bytes, then nothing;
//   big        one peer that declares a 1 GiB body (FRAME-9: closed unread);
//   flood      one peer that sends M Pings as fast as it can, reading the Pongs;
//   deaf       one peer that sends D Pings and never reads.
// The well-behaved client pings every 20 ms and must get every Pong and
// keep its connection. Every abusive connection must be closed within
// --shed-within seconds (the target's idle timeout and then some); the
// target's peak RSS (VmHWM in /proc/PID/status) must stay under --rss-mib.
// Bounded: the whole run ends at --deadline seconds. Prints the figures.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "protocol/codec.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Bytes = syncsim::protocol::Bytes;

struct Options {
  std::uint16_t port = 0;
  int pid = 0;
  int slowloris = 200;
  long flood = 100'000;
  long deaf = 100'000;
  double shed_within_s = 5;
  double deadline_s = 30;
  long rss_mib = 256;
};

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

long status_kib(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
  }
  return -1;
}

Bytes handshake() {
  syncsim::protocol::Handshake h;
  h.client_version = "abuse";
  h.wire_version = 1;
  return syncsim::protocol::encode_frame(h);
}
Bytes pings(long n, std::uint64_t from) {
  Bytes out;
  for (long k = 0; k < n; ++k) {
    syncsim::protocol::PingPong p;
    p.timestamp_ms = from + static_cast<std::uint64_t>(k);
    const Bytes f = syncsim::protocol::encode_frame(p);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

// One connection: counts the Pongs it reads, notes when it ends.
struct Peer : std::enable_shared_from_this<Peer> {
  explicit Peer(asio::io_context& ioc, std::string n) : s(ioc), name(std::move(n)) {}
  tcp::socket s;
  std::string name;
  Clock::time_point started = Clock::now(), ended_at{};
  bool ended = false, reading = true;
  long pongs = 0;
  Bytes rx;
  std::array<std::uint8_t, 65536> buf{};

  void end() {
    if (ended) return;
    ended = true;
    ended_at = Clock::now();
    boost::system::error_code ignored;
    s.close(ignored);
  }
  double lived() const { return std::chrono::duration<double>(ended_at - started).count(); }
  void read() {
    s.async_read_some(asio::buffer(buf), [self = shared_from_this()](auto ec, std::size_t n) {
      if (ec) return self->end();
      self->rx.insert(self->rx.end(), self->buf.begin(), self->buf.begin() + n);
      std::size_t off = 0;
      while (self->rx.size() - off >= 5) {
        const std::size_t len = syncsim::protocol::load_le32(self->rx.data() + off + 1);
        if (self->rx.size() - off < 5 + len) break;
        self->pongs += self->rx[off] == 0xFF;
        off += 5 + len;
      }
      self->rx.erase(self->rx.begin(), self->rx.begin() + static_cast<std::ptrdiff_t>(off));
      self->read();
    });
  }
  // Connects, writes `first`, then reads unless deaf; `then` after the write.
  void open(const tcp::endpoint& at, Bytes first, std::function<void()> then = nullptr) {
    auto data = std::make_shared<Bytes>(std::move(first));
    s.async_connect(at, [self = shared_from_this(), data, then](auto ec) {
      if (ec) return self->end();
      if (self->reading) self->read();
      asio::async_write(self->s, asio::buffer(*data), [self, data, then](auto e, std::size_t) {
        if (e) return self->end();
        if (then) then();
      });
    });
  }
};

// Writes `total` Pings in batches of 1000; `done` when all are written.
void send_pings(const std::shared_ptr<Peer>& p, long total, std::function<void()> done) {
  auto left = std::make_shared<long>(total);
  auto batch = std::make_shared<Bytes>();
  auto next = std::make_shared<std::function<void()>>();
  *next = [p, left, batch, next, done] {
    if (*left <= 0 || p->ended) return done();
    const long n = std::min(*left, 1000L);
    *batch = pings(n, static_cast<std::uint64_t>(*left));
    *left -= n;
    asio::async_write(p->s, asio::buffer(*batch), [p, next, done](auto ec, std::size_t) {
      if (ec) {
        p->end();
        return done();
      }
      (*next)();
    });
  };
  (*next)();
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--port")
      o.port = static_cast<std::uint16_t>(std::atoi(v));
    else if (k == "--pid")
      o.pid = std::atoi(v);
    else if (k == "--slowloris")
      o.slowloris = std::atoi(v);
    else if (k == "--flood")
      o.flood = std::atol(v);
    else if (k == "--deaf")
      o.deaf = std::atol(v);
    else if (k == "--shed-within")
      o.shed_within_s = std::atof(v);
    else if (k == "--deadline")
      o.deadline_s = std::atof(v);
    else if (k == "--rss-mib")
      o.rss_mib = std::atol(v);
    else
      return false;
  }
  return o.port != 0 && o.pid != 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: abuse --port P --pid PID [--slowloris N] [--flood M] [--deaf D]"
                 " [--shed-within S] [--deadline S] [--rss-mib MIB]\n");
    return 2;
  }
  asio::io_context ioc;
  const tcp::endpoint at(asio::ip::address_v4::loopback(), o.port);
  const auto t0 = Clock::now();
  const long rss_before = status_kib(o.pid, "VmRSS");

  auto good = std::make_shared<Peer>(ioc, "well-behaved");
  long good_pings = 0;
  good->open(at, handshake());
  std::vector<std::shared_ptr<Peer>> slow;
  Bytes half = handshake();
  half.resize(8);  // the header (declaring the whole body) and 3 body bytes
  for (int k = 0; k < o.slowloris; ++k) {
    slow.push_back(std::make_shared<Peer>(ioc, "slowloris"));
    slow.back()->open(at, half);
  }
  auto big = std::make_shared<Peer>(ioc, "1 GiB");
  big->open(at, Bytes{0x01, 0x00, 0x00, 0x00, 0x40});
  auto flood = std::make_shared<Peer>(ioc, "flood");
  Clock::time_point flood_sent{};
  flood->open(at, handshake(),
              [&] { send_pings(flood, o.flood, [&] { flood_sent = Clock::now(); }); });
  auto deaf = std::make_shared<Peer>(ioc, "deaf");
  deaf->reading = false;
  bool deaf_sent = false;
  deaf->open(at, handshake(), [&] { send_pings(deaf, o.deaf, [&] { deaf_sent = true; }); });

  long hwm = 0, rss_max = 0;
  auto all_shed = [&] {
    for (auto& p : slow)
      if (!p->ended) return false;
    return big->ended;
  };
  Clock::time_point last_ping = t0, flood_answered{};
  while (since(t0) < o.deadline_s) {
    ioc.run_for(std::chrono::milliseconds(10));
    if (Clock::now() - last_ping >= std::chrono::milliseconds(20) && !good->ended &&
        good->s.is_open()) {
      last_ping = Clock::now();
      auto one = std::make_shared<Bytes>(pings(1, static_cast<std::uint64_t>(++good_pings)));
      asio::async_write(good->s, asio::buffer(*one), [one](auto, std::size_t) {});
    }
    hwm = std::max(hwm, status_kib(o.pid, "VmHWM"));
    rss_max = std::max(rss_max, status_kib(o.pid, "VmRSS"));
    if (flood_answered == Clock::time_point{} && flood->pongs >= o.flood)
      flood_answered = Clock::now();
    const bool flood_done = flood->ended || flood->pongs >= o.flood;
    if (all_shed() && flood_done && (deaf_sent || deaf->ended) && since(t0) > 1) break;
  }
  const double elapsed = since(t0);
  ioc.run_for(std::chrono::milliseconds(200));  // the last Pongs of the good client

  int failed = 0;
  auto check = [&](bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    failed += !ok;
  };
  double slowest = 0;
  int open_slow = 0;
  for (auto& p : slow) {
    if (!p->ended)
      ++open_slow;
    else
      slowest = std::max(slowest, p->lived());
  }
  check(open_slow == 0,
        std::to_string(o.slowloris - open_slow) + "/" + std::to_string(o.slowloris) +
            " slowloris connections shed, the last after " + std::to_string(slowest) + " s");
  check(slowest <= o.shed_within_s, "shed within " + std::to_string(o.shed_within_s) + " s");
  check(big->ended && big->lived() < 2, "the 1 GiB declaration closed after " +
                                            std::to_string(big->ended ? big->lived() : -1) + " s");
  auto secs = [&](Clock::time_point t) {
    return std::chrono::duration<double>(t - flood->started).count();
  };
  std::printf("info flood: %ld Pings", o.flood);
  if (flood_sent != Clock::time_point{}) std::printf(" written in %.2f s", secs(flood_sent));
  if (flood_answered != Clock::time_point{}) {
    std::printf(", all %ld answered after %.2f s: %.0f frames/s\n", o.flood, secs(flood_answered),
                static_cast<double>(o.flood) / secs(flood_answered));
  } else {
    std::printf(", %ld Pongs read%s\n", flood->pongs,
                flood->ended ? ", then the connection was cut" : "");
  }
  std::printf("info deaf: %ld Pings written%s\n", o.deaf,
              deaf->ended ? ("; cut after " + std::to_string(deaf->lived()) + " s").c_str()
                          : "; still open");
  check(!good->ended, "the well-behaved client kept its connection");
  check(good->pongs >= good_pings - 1 && good_pings > 10,
        "the well-behaved client got " + std::to_string(good->pongs) + " Pongs for " +
            std::to_string(good_pings) + " Pings");
  check(hwm > 0 && hwm / 1024 <= o.rss_mib,
        "peak RSS (VmHWM) " + std::to_string(hwm / 1024) + " MiB <= " + std::to_string(o.rss_mib) +
            " MiB (VmRSS before " + std::to_string(rss_before / 1024) + " MiB, max seen " +
            std::to_string(rss_max / 1024) + " MiB)");
  std::printf("info the run took %.2f s\n", elapsed);
  return failed == 0 ? 0 : 1;
}
