#include "conformance/live/proxy.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <sstream>

#include "conformance/live/frame_conn.hpp"
#include "conformance/live/live_judge.hpp"
#include "conformance/runner/runner.hpp"
#include "conformance/runner/yaml_reader.hpp"
#include "protocol/codec.hpp"
#include "reference/ws_runtime.hpp"
#include "sim/frame_fate.hpp"

namespace syncsim::conformance {

using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using protocol::Bytes;
using protocol::Sender;

ProxyFaults no_proxy_faults() {
  ProxyFaults f;
  f.to_server.latency = 0;
  f.to_client.latency = 0;
  return f;
}

ProxyFaultsLoad parse_proxy_faults(const std::string& text, const std::string& file) {
  using namespace yaml;
  ProxyFaults faults = no_proxy_faults();
  ProxyFaultsLoad out;
  out.error = parse_yaml(text, file, [&](const YAML::Node& root, const Reader& r) {
    if (!root || root.IsNull()) return;  // an empty file: no faults
    r.keys(root, {"client_to_server", "server_to_client"}, "a fault file");
    for (const char* dir : {"client_to_server", "server_to_client"}) {
      const auto d = root[dir];
      if (!d) continue;
      r.keys(d, {"latency_ms", "jitter_ms", "frames"}, std::string("\"") + dir + "\"");
      LinkSpec spec;
      opt(r, d, "latency_ms", spec.latency_ms, 0.0, 600'000.0);
      opt(r, d, "jitter_ms", spec.jitter_ms, 0.0, 600'000.0);
      if (const auto f = d["frames"]) spec.frames = read_frame_faults(f, r);
      apply_link_spec(std::string(dir) == "client_to_server" ? faults.to_server : faults.to_client,
                      spec);
    }
  });
  if (out.error.empty()) out.faults = faults;
  return out;
}

ProxyFaultsLoad load_proxy_faults(const std::string& path) {
  std::string text, error;
  if (!yaml::read_text_file(path, text, error)) return ProxyFaultsLoad{std::nullopt, error};
  return parse_proxy_faults(text, path);
}

std::string describe_faults(const sim::LinkParams& p) {
  std::ostringstream o;
  auto ms = [](sim::Duration d) { return static_cast<double>(d) / 1e6; };
  auto pct = [](sim::Ratio r) {
    return 100.0 * static_cast<double>(r.num) / static_cast<double>(r.den);
  };
  o << "latency " << ms(p.latency) << " ms, jitter " << ms(p.jitter) << " ms";
  if (!p.frame_faults) return o.str() + ", no frame faults";
  o << "; of ";
  if (p.frame_types.all()) {
    o << "every type";
  } else {
    std::string types;
    for (int c = 0; c < 256; ++c) {
      if (p.frame_types.test(static_cast<std::size_t>(c)))
        types += (types.empty() ? "" : ",") +
                 std::string(protocol::code_name(static_cast<std::uint8_t>(c)));
    }
    o << types;
  }
  o << ": drop " << pct(p.frame_drop) << "%, duplicate " << pct(p.frame_duplicate) << "%, reorder "
    << pct(p.frame_reorder) << "% (window " << ms(p.reorder_window) << " ms), corrupt "
    << pct(p.frame_corrupt) << "%";
  if (p.drop_next) o << ", drop the next " << p.drop_next;
  if (!p.frame_inject_unknown.is_never())
    o << ", unknown codes slipped in " << pct(p.frame_inject_unknown) << "%";
  if (!p.frame_inject_undecodable.is_never())
    o << ", undecodable bodies slipped in " << pct(p.frame_inject_undecodable) << "%";
  return o.str();
}

static_assert(static_cast<int>(reference::WsSocket::Kind::Close) ==
                  static_cast<int>(WsKind::Close) &&
              static_cast<int>(reference::WsSocket::Kind::Text) == static_cast<int>(WsKind::Text));

namespace proxy_detail {

// One end of a pair, whatever its transport.
struct Side {
  std::function<void(Bytes)> send;
  std::function<void()> close;
};

template <class Socket>
Side side_of(const std::shared_ptr<FrameConn<Socket>>& conn) {
  return Side{[conn](Bytes f) { conn->send(std::move(f)); }, [conn] { conn->close(); }};
}

}  // namespace proxy_detail
using proxy_detail::Side;
using proxy_detail::side_of;

struct Proxy::Impl : std::enable_shared_from_this<Proxy::Impl> {
  struct Pair;

  // One direction of a pair: the frames held until their time comes.
  struct Direction {
    Sender from;
    sim::LinkParams params;
    sim::Prng rng;
    std::map<std::pair<Clock::time_point, std::uint64_t>, Bytes> held;
    std::uint64_t seq = 0;
    Clock::time_point last_due{};
    boost::asio::steady_timer timer;
    bool source_closed = false;
    bool ws = false;  // the source speaks WebSocket: its messages are recorded whole
    Direction(boost::asio::io_context& ioc, Sender f, sim::LinkParams p, sim::Prng r)
        : from(f), params(p), rng(r), timer(ioc) {}
  };

  struct Pair : std::enable_shared_from_this<Pair> {
    std::shared_ptr<Impl> impl;
    std::uint64_t id;
    Side down, up;
    bool up_ready = false, ended = false;
    Direction to_server, to_client;
    boost::asio::steady_timer connect_timer;
    Pair(std::shared_ptr<Impl> i, std::uint64_t n)
        : impl(std::move(i)),
          id(n),
          to_server(impl->ioc, Sender::Client, impl->options.faults.to_server,
                    sim::Prng::stream(impl->options.seed, "proxy/" + std::to_string(n) + "/c2s")),
          to_client(impl->ioc, Sender::Server, impl->options.faults.to_client,
                    sim::Prng::stream(impl->options.seed, "proxy/" + std::to_string(n) + "/s2c")),
          connect_timer(impl->ioc) {}

    Side& target(const Direction& d) { return &d == &to_server ? up : down; }
    bool target_ready(const Direction& d) const { return &d != &to_server || up_ready; }

    void ingest(Direction& d, Bytes frame) {
      if (ended) return;
      // A WebSocket source's message was recorded whole (observed); its frame is judged from it.
      if (!d.ws) impl->judge(frame, id, d.from, Seen::Written);
      const auto type = frame[0];
      const auto len = static_cast<std::uint32_t>(frame.size() - 5);
      const sim::FrameFate fate = sim::frame_fate(d.params, d.rng, type, len);
      const auto now = Clock::now();
      const char* dir = &d == &to_server ? "client->server" : "server->client";
      // A frame the relay slips in first (FRAME-3, FRAME-10).
      const auto inject = [&](const auto& bytes, const char* what) {
        ++impl->stats.injected;
        impl->event("conn " + std::to_string(id) + " " + dir + ": " + what + " slipped in");
        hold(d, Bytes(bytes.begin(), bytes.end()), now);
      };
      if (fate.unknown_before) inject(*fate.unknown_before, "unknown code 0x99");
      if (fate.undecodable_before)
        inject(*fate.undecodable_before, "a Ping/Pong with an undecodable body");
      if (fate.dropped) {
        if (fate.used_drop_next) impl->used_drop_next(d.from);
        ++impl->stats.dropped;
        impl->event("conn " + std::to_string(id) + " " + dir + ": dropped " +
                    std::string(protocol::code_name(type)));
        return;
      }
      if (fate.corrupt_bit) {
        frame[5 + *fate.corrupt_bit / 8] ^=
            static_cast<std::uint8_t>(1u << (*fate.corrupt_bit % 8));
        ++impl->stats.corrupted;
        impl->event("conn " + std::to_string(id) + " " + dir + ": corrupted " +
                    std::string(protocol::code_name(type)) + " (bit " +
                    std::to_string(*fate.corrupt_bit) + ")");
      }
      auto due = now + std::chrono::nanoseconds(fate.latency);
      if (fate.reorder_extra) {
        due += std::chrono::nanoseconds(*fate.reorder_extra);
        ++impl->stats.reordered;
        impl->event("conn " + std::to_string(id) + " " + dir + ": held back " +
                    std::string(protocol::code_name(type)) + " " +
                    std::to_string(*fate.reorder_extra / 1'000'000) + " ms");
      } else {
        due = std::max(due, d.last_due);  // a byte stream keeps its order
        d.last_due = due;
      }
      if (fate.duplicate_extra) {
        ++impl->stats.duplicated;
        impl->event("conn " + std::to_string(id) + " " + dir + ": duplicated " +
                    std::string(protocol::code_name(type)));
        hold(d, frame, due + std::chrono::nanoseconds(*fate.duplicate_extra));
      }
      hold(d, std::move(frame), due);
    }

    void hold(Direction& d, Bytes frame, Clock::time_point due) {
      if (d.held.size() >= impl->options.max_held_frames) {
        return end("over " + std::to_string(impl->options.max_held_frames) +
                   " frames held in one direction: the receiver does not keep up");
      }
      d.held.emplace(std::make_pair(due, d.seq++), std::move(frame));
      arm(d);
    }

    void arm(Direction& d) {
      if (ended || d.held.empty() || !target_ready(d) || impl->blocked(d.from)) return;
      d.timer.expires_at(d.held.begin()->first.first);
      auto fire = [self = this->shared_from_this(), &d](const error_code& ec) {
        // Only a cancel stops delivery: a wait that failed otherwise still
        // delivers what is due and arms again, so no held frame is stranded.
        if (ec != boost::asio::error::operation_aborted) self->deliver(d);
      };
      if (impl->injects(sim::IoOp::Wait)) {
        return boost::asio::post(impl->ioc, [fire, ec = impl->options.fail->error] { fire(ec); });
      }
      d.timer.async_wait(std::move(fire));
    }

    void deliver(Direction& d) {
      const auto now = Clock::now();
      while (!ended && !impl->blocked(d.from) && !d.held.empty() &&
             d.held.begin()->first.first <= now) {
        Bytes frame = std::move(d.held.begin()->second);
        d.held.erase(d.held.begin());
        ++impl->stats.forwarded;
        // What the receiver reads, decodable or not (FRAME-3, FRAME-10: it must go on).
        impl->judge(frame, id, d.from, Seen::Received);
        target(d).send(std::move(frame));
      }
      if (ended) return;
      if (d.held.empty() && d.source_closed) return end("");
      arm(d);
    }

    // Every WebSocket message the source wrote, whole (FRAME-4..7).
    void observed(Direction& d, reference::WsSocket::Kind k, std::span<const std::uint8_t> b) {
      if (ended) return;
      impl->judge_.ws(static_cast<WsKind>(k), b, id, d.from, Seen::Written);
    }

    void source_closed(Direction& d, const std::string& why) {
      if (ended) return;
      if (why.empty()) impl->judge_.hangup(id, d.from);  // it closed its end (FRAME-3/10)
      d.source_closed = true;
      impl->event("conn " + std::to_string(id) + ": " +
                  (d.from == Sender::Client ? "the client" : "the server") +
                  (why.empty() ? " closed" : " connection ended: " + why));
      if (d.held.empty()) end("");
    }

    void end(const std::string& why) {
      if (ended) return;
      ended = true;
      if (!why.empty()) impl->event("conn " + std::to_string(id) + " cut: " + why);
      to_server.timer.cancel();
      to_client.timer.cancel();
      connect_timer.cancel();
      if (down.close) down.close();
      if (up.close) up.close();
      impl->closed(id);
    }
  };

  boost::asio::io_context& ioc;
  Options options;
  LiveJudge judge_;
  Stats stats;
  std::map<std::uint64_t, std::shared_ptr<Pair>> pairs;
  std::uint64_t next_id = 1;
  std::optional<tcp::acceptor> tcp_acceptor;
  std::optional<reference::WsAcceptor> ws_acceptor;
  bool stopped = false;
  bool blocked_from_client = false, blocked_from_server = false;  // set_blocked

  Impl(boost::asio::io_context& io, Options o)
      : ioc(io),
        options(std::move(o)),
        judge_(options.trace, options.on_finding, options.sees_every_session) {
    judge_.set_tap_tolerance_floor_ns(options.tap_tolerance_floor_ns);
  }

  bool injects(sim::IoOp op) const { return options.fail && options.fail->hit(op); }
  // drop_next counts per direction of the proxy, not per pair: a reconnect
  // does not draw N more losses (as in the simulator, one count per link).
  void used_drop_next(Sender from) {
    auto& shared = (from == Sender::Client ? options.faults.to_server : options.faults.to_client);
    if (shared.drop_next > 0) --shared.drop_next;
    for (auto& [id, p] : pairs)
      (from == Sender::Client ? p->to_server : p->to_client).params.drop_next = shared.drop_next;
  }
  bool blocked(Sender from) const {
    return from == Sender::Client ? blocked_from_client : blocked_from_server;
  }
  void event(const std::string& line) {
    if (options.on_event) options.on_event(line);
  }
  void judge(const Bytes& frame, std::uint64_t conn, Sender from, Seen seen) {
    if (options.on_frame) options.on_frame(frame, from, seen);
    judge_.frame(frame, conn, from, seen);
  }
  void closed(std::uint64_t id) {
    judge_.closed(id);
    pairs.erase(id);
  }

  template <class Socket>
  void accepted(Socket s) {
    if (stopped) return;
    if (pairs.size() >= options.max_connections) {
      ++stats.refused;
      error_code ignored;
      s.close(ignored);
      event("refused a connection: " + std::to_string(options.max_connections) + " already open");
      return;
    }
    auto pair = std::make_shared<Pair>(shared_from_this(), next_id++);
    pairs[pair->id] = pair;
    ++stats.connections;
    event("conn " + std::to_string(pair->id) + ": a client connected; connecting to " +
          options.upstream.text());
    auto down = std::make_shared<FrameConn<Socket>>(std::move(s));
    down->max_queued_bytes = options.max_queued_bytes;
    down->fail = options.fail;
    std::weak_ptr<Pair> weak = pair;
    if constexpr (std::is_same_v<Socket, reference::WsSocket>) {
      pair->to_server.ws = true;
      down->socket().observe([weak](reference::WsSocket::Kind k, std::span<const std::uint8_t> b) {
        if (auto p = weak.lock()) p->observed(p->to_server, k, b);
      });
    }
    down->on_frame = [weak](const Bytes& f) {
      if (auto p = weak.lock()) p->ingest(p->to_server, f);
    };
    down->on_close = [weak](const std::string& why) {
      if (auto p = weak.lock()) p->source_closed(p->to_server, why);
    };
    pair->down = side_of(down);
    down->start();
    if (options.upstream.transport == Endpoint::Transport::WebSocket) {
      connect_upstream(pair, reference::WsSocket(ioc, options.upstream.path));
    } else {
      connect_upstream(pair, tcp::socket(ioc));
    }
  }

  template <class Socket>
  void connect_upstream(const std::shared_ptr<Pair>& pair, Socket s) {
    auto conn = std::make_shared<FrameConn<Socket>>(std::move(s));
    conn->max_queued_bytes = options.max_queued_bytes;
    conn->fail = options.fail;
    error_code ec;
    const tcp::endpoint at(boost::asio::ip::make_address(options.upstream.host, ec),
                           options.upstream.port);
    std::weak_ptr<Pair> weak = pair;
    if constexpr (std::is_same_v<Socket, reference::WsSocket>) {
      pair->to_client.ws = true;
      conn->socket().observe([weak](reference::WsSocket::Kind k, std::span<const std::uint8_t> b) {
        if (auto p = weak.lock()) p->observed(p->to_client, k, b);
      });
    }
    pair->up = side_of(conn);
    pair->connect_timer.expires_after(std::chrono::seconds(5));
    pair->connect_timer.async_wait([weak](const error_code& e) {
      auto p = weak.lock();
      if (e || !p || p->up_ready || p->ended) return;
      ++p->impl->stats.upstream_failures;
      p->end("the server did not accept the connection within 5 s");
    });
    auto connected = [weak, conn](const error_code& e) {
      auto p = weak.lock();
      if (!p || p->ended) return;
      if (e) {
        ++p->impl->stats.upstream_failures;
        return p->end("cannot connect to the server: " + e.message());
      }
      p->connect_timer.cancel();
      p->up_ready = true;
      conn->on_frame = [weak](const Bytes& f) {
        if (auto q = weak.lock()) q->ingest(q->to_client, f);
      };
      conn->on_close = [weak](const std::string& why) {
        if (auto q = weak.lock()) q->source_closed(q->to_client, why);
      };
      conn->start();
      p->arm(p->to_server);  // what the client sent meanwhile
    };
    if (injects(sim::IoOp::Connect)) {
      return boost::asio::post(ioc, [connected, e = options.fail->error] { connected(e); });
    }
    conn->socket().async_connect(at, std::move(connected));
  }

  template <class Acceptor>
  void accept_loop(Acceptor& a) {
    a.async_accept([self = shared_from_this(), &a](const error_code& ec, auto s) {
      if (self->stopped) return;
      if (!ec && self->injects(sim::IoOp::Accept)) {
        error_code ignored;  // as if accept had failed: the connection goes unserved
        s.close(ignored);
        self->event("accept failed (injected)");
      } else if (!ec) {
        self->accepted(std::move(s));
      }
      self->accept_loop(a);
    });
  }
};

Proxy::Proxy(boost::asio::io_context& ioc, Options options)
    : impl_(std::make_shared<Impl>(ioc, std::move(options))) {}
Proxy::~Proxy() { stop(); }

bool Proxy::start(error_code& ec) {
  auto& i = *impl_;
  const tcp::endpoint at(boost::asio::ip::make_address(i.options.listen.host, ec),
                         i.options.listen.port);
  if (ec) return false;
  tcp::acceptor* raw = nullptr;
  if (i.options.listen.transport == Endpoint::Transport::WebSocket) {
    i.ws_acceptor.emplace(i.ioc);
    raw = &i.ws_acceptor->tcp_acceptor();
  } else {
    i.tcp_acceptor.emplace(i.ioc);
    raw = &*i.tcp_acceptor;
  }
  raw->open(at.protocol(), ec);
  if (!ec) raw->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) raw->bind(at, ec);
  if (!ec) raw->listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return false;
  if (i.ws_acceptor) {
    i.accept_loop(*i.ws_acceptor);
  } else {
    i.accept_loop(*i.tcp_acceptor);
  }
  return true;
}

std::uint16_t Proxy::port() const {
  error_code ec;
  if (impl_->ws_acceptor) return impl_->ws_acceptor->tcp_acceptor().local_endpoint(ec).port();
  if (impl_->tcp_acceptor) return impl_->tcp_acceptor->local_endpoint(ec).port();
  return 0;
}

void Proxy::stop() {
  auto& i = *impl_;
  if (i.stopped) return;
  i.stopped = true;
  error_code ignored;
  if (i.ws_acceptor) i.ws_acceptor->close();
  if (i.tcp_acceptor) i.tcp_acceptor->close(ignored);
  auto pairs = i.pairs;  // end() erases from the map
  for (auto& [id, p] : pairs) p->end("the proxy stops");
}

void Proxy::set_link(Sender from, const sim::LinkParams& params) {
  auto& i = *impl_;
  (from == Sender::Client ? i.options.faults.to_server : i.options.faults.to_client) = params;
  for (auto& [id, p] : i.pairs)
    (from == Sender::Client ? p->to_server : p->to_client).params = params;
  i.event(std::string(from == Sender::Client ? "client->server" : "server->client") +
          " link now: " + describe_faults(params));
}

void Proxy::set_blocked(Sender from, bool blocked) {
  auto& i = *impl_;
  (from == Sender::Client ? i.blocked_from_client : i.blocked_from_server) = blocked;
  i.event(std::string(from == Sender::Client ? "client->server" : "server->client") +
          (blocked ? " blocked: frames wait" : " unblocked"));
  if (blocked) return;
  for (auto& [id, p] : i.pairs) {
    auto& d = from == Sender::Client ? p->to_server : p->to_client;
    p->arm(d);  // not before the pair's upstream connection is up
  }
}

void Proxy::reset_connections() {
  auto& i = *impl_;
  auto pairs = i.pairs;  // end() erases from the map
  for (auto& [id, p] : pairs) p->end("reset by the scenario");
}

sim::LinkParams Proxy::link(Sender from) const {
  return from == Sender::Client ? impl_->options.faults.to_server : impl_->options.faults.to_client;
}

void Proxy::purged(std::uint32_t tenant, const std::string& collection) {
  impl_->judge_.purged(tenant, collection);
}

void Proxy::finish() { impl_->judge_.finish(); }

const SessionChecker& Proxy::checker() const { return impl_->judge_.checker(); }
std::string Proxy::tap_tolerance_text() const { return impl_->judge_.tap_tolerance_text(); }
const Proxy::Stats& Proxy::stats() const { return impl_->stats; }

}  // namespace syncsim::conformance
