#include "conformance/explore/hostile.hpp"

#include <boost/asio/write.hpp>
#include <utility>

#include "protocol/codec.hpp"
#include "protocol/frame_stream.hpp"
#include "reference/client.hpp"
#include "reference/runtime.hpp"
#include "reference/server.hpp"
#include "sim/asio_io.hpp"
#include "sim/world.hpp"

namespace syncsim::conformance {

using protocol::Bytes;
using protocol::Message;
using error_code = boost::system::error_code;

std::string_view mutation_name(Mutation m) {
  static constexpr std::string_view kNames[] = {
      "bit-flip",  "type-swap", "huge-length", "huge-count",   "deep-nesting",
      "wrong-tag", "truncate",  "random-body", "unknown-code", "splice"};
  return kNames[static_cast<std::size_t>(m)];
}

namespace {

constexpr std::size_t kMaxHostileFrame = 1u << 20;

void set_length(Bytes& frame) {
  const auto n = static_cast<std::uint32_t>(frame.size() - 5);
  for (int i = 0; i < 4; ++i) frame[1 + i] = static_cast<std::uint8_t>(n >> (8 * i));
}

template <std::size_t... I>
std::vector<Bytes> every_type(std::index_sequence<I...>) {
  return {protocol::encode_frame(Message{std::in_place_index<I>})...};
}

std::vector<Bytes> seed_frames() {
  auto out = every_type(std::make_index_sequence<protocol::kMessageTypeCount>{});
  // Richer ones too: mutations reach further into what has more structure.
  protocol::Handshake hs;
  hs.jwt_token = "a.b.c";
  hs.client_version = "hostile/1";
  hs.wire_version = 1;
  hs.subscribed_shapes = {"orders-all"};
  hs.vector_clock["orders"]["peer"] = 3;
  protocol::DeltaPush push;
  push.collection = "orders";
  push.document_id = "doc-1";
  push.delta = {1, 2, 3};
  push.peer_id = 7;
  push.mutation_id = 1;
  protocol::ShapeDefinition shape;
  shape.shape_id = "orders-all";
  shape.shape_type = protocol::shape_type::Document{"orders", {}};
  protocol::ResyncRequest resync{protocol::resync_reason::SequenceGap{3, 7}, 3, ""};
  protocol::DeltaReject reject{1, "permission denied", protocol::compensation::PermissionDenied{}};
  for (const Message& m :
       {Message{hs}, Message{push}, Message{protocol::ShapeSubscribe{shape}}, Message{resync},
        Message{reject},
        Message{protocol::ShapeDelta{"orders-all", "orders", "d", "INSERT", Bytes{9}, 4}}})
    out.push_back(protocol::encode_frame(m));
  return out;
}

}  // namespace

FrameMutator::FrameMutator(std::uint64_t seed)
    : rng_(sim::Prng::stream(seed, "hostile-frames")), seeds_(seed_frames()) {}

Bytes FrameMutator::next(Mutation& how) {
  Bytes f = seeds_[rng_.below(seeds_.size())];
  how = static_cast<Mutation>(rng_.below(kMutationCount));
  const std::size_t body = f.size() - 5;
  switch (how) {
    case Mutation::BitFlip:
      if (body > 0) f[5 + rng_.below(body)] ^= static_cast<std::uint8_t>(1u << rng_.below(8));
      break;
    case Mutation::TypeSwap: {
      static constexpr std::uint8_t kMarkers[] = {
          0xc0, 0xc2, 0xc3, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xca, 0xcb, 0xd9, 0xda, 0xdb,
          0xc4, 0xc5, 0xc6, 0xdc, 0xdd, 0xde, 0xdf, 0x90, 0x80, 0xa0, 0xc1, 0xd4, 0xc7};
      if (body > 0) f[5 + rng_.below(body)] = kMarkers[rng_.below(std::size(kMarkers))];
      break;
    }
    case Mutation::HugeLength: {
      static constexpr std::uint32_t kLengths[] = {0xFFFF'FFFFu, (16u << 20) + 1, 16u << 20,
                                                   (16u << 20) - 5, 0x7FFF'FFFFu};
      const std::uint32_t n = rng_.below(2)
                                  ? kLengths[rng_.below(std::size(kLengths))]
                                  : static_cast<std::uint32_t>(body + 1 + rng_.below(100'000));
      for (int i = 0; i < 4; ++i) f[1 + i] = static_cast<std::uint8_t>(n >> (8 * i));
      break;
    }
    case Mutation::HugeCount: {
      static constexpr std::uint8_t kHeads[] = {0xdd, 0xdf, 0xdb, 0xc6};  // array, map, str, bin 32
      const Bytes head{kHeads[rng_.below(4)], 0xFF, 0xFF, 0xFF, 0xFF};
      const std::size_t at = 5 + (body > 0 ? rng_.below(body) : 0);
      f.insert(f.begin() + static_cast<std::ptrdiff_t>(at), head.begin(), head.end());
      set_length(f);
      break;
    }
    case Mutation::DeepNesting: {
      const std::size_t depth = 1000 + rng_.below(100'000);
      f.resize(5);
      f.insert(f.end(), depth, 0x91);
      f.push_back(0xc0);
      set_length(f);
      break;
    }
    case Mutation::WrongTag: {
      // The first string of 3+ bytes (field values, variant tags) renamed.
      for (std::size_t i = 5; i < f.size(); ++i) {
        const std::size_t n = f[i] & 0x1f;
        if ((f[i] & 0xe0) == 0xa0 && n >= 3 && i + n < f.size()) {
          for (std::size_t k = 1; k <= n; ++k)
            f[i + k] = static_cast<std::uint8_t>('a' + rng_.below(26));
          break;
        }
      }
      break;
    }
    case Mutation::Truncate: f.resize(1 + rng_.below(f.size() - 1)); break;
    case Mutation::RandomBody: {
      f.resize(5 + rng_.below(65));
      for (std::size_t i = 5; i < f.size(); ++i) f[i] = static_cast<std::uint8_t>(rng_.next());
      set_length(f);
      break;
    }
    case Mutation::UnknownCode: {
      static constexpr std::uint8_t kCodes[] = {0x00, 0x03, 0x7F, 0x99, 0xFE, 0x13, 0x24};
      f[0] = kCodes[rng_.below(std::size(kCodes))];
      break;
    }
    case Mutation::Splice: {
      const Bytes& other = seeds_[rng_.below(seeds_.size())];
      const std::size_t keep = 5 + (body > 0 ? rng_.below(body) : 0);
      f.resize(keep);
      const std::size_t from = 5 + (other.size() > 5 ? rng_.below(other.size() - 5) : 0);
      f.insert(f.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
      set_length(f);
      break;
    }
  }
  if (f.size() > kMaxHostileFrame) f.resize(kMaxHostileFrame);
  return f;
}

namespace {

using Socket = sim::SimSocket;

// One hostile connection: writes its bytes, reads what comes back, notes a
// Pong echoing `ping` and whether the other side closed.
struct Peer : std::enable_shared_from_this<Peer> {
  explicit Peer(Socket s) : socket(std::move(s)) {}
  Socket socket;
  protocol::FrameStream decoder;
  std::array<std::uint8_t, 4096> buf{};
  Bytes out;
  std::uint64_t ping = 0;
  bool ponged = false, closed = false;
  std::vector<Message> received;
  std::function<void(Peer&, const Message&)> on_message;

  void read() {
    socket.async_read_some(boost::asio::buffer(buf),
                           [self = shared_from_this()](error_code ec, std::size_t n) {
                             if (ec) {
                               self->closed = true;
                               return;
                             }
                             self->decoder.feed(std::span<const std::uint8_t>(self->buf.data(), n));
                             for (;;) {
                               auto ev = self->decoder.next();
                               if (ev.kind == protocol::StreamEvent::Kind::NeedMore) break;
                               if (ev.kind != protocol::StreamEvent::Kind::Frame) continue;
                               auto body = protocol::decode_body(ev.msg_type, ev.body);
                               if (!body.message) continue;
                               const auto* p = std::get_if<protocol::PingPong>(&*body.message);
                               if (p && p->is_pong && p->timestamp_ms == self->ping)
                                 self->ponged = true;
                               if (self->received.size() < 64)
                                 self->received.push_back(*body.message);
                               if (self->on_message) self->on_message(*self, *body.message);
                             }
                             self->read();
                           });
  }
  void write() {
    boost::asio::async_write(socket, boost::asio::buffer(out),
                             [self = shared_from_this()](error_code, std::size_t) {});
  }
};

// `frames_per_session` mutated frames, then a Ping carrying the session number.
Bytes session_bytes(FrameMutator& m, const HostileOptions& o, HostileStats& s, std::uint64_t ping) {
  Bytes out;
  for (int k = 0; k < o.frames_per_session && s.frames < o.frames; ++k) {
    Mutation how{};
    const Bytes f = m.next(how);
    ++s.by_mutation[static_cast<std::size_t>(how)];
    ++s.frames;
    out.insert(out.end(), f.begin(), f.end());
  }
  protocol::append_frame(protocol::PingPong{ping, false}, out);
  return out;
}

// Runs the world until `done` or `limit` of virtual time has passed.
void run_until_or(sim::World& w, sim::Duration limit, const std::function<bool()>& done) {
  const sim::Time end = w.now() + limit;
  while (!done() && w.now() < end) w.run_until(std::min(end, w.now() + 10 * sim::kMillisecond));
}

void classify(const Peer& p, HostileStats& s) {
  if (p.ponged) {
    ++s.answered;
  } else if (p.closed) {
    ++s.closed;
  } else {
    ++s.stalled;
  }
}

void report(const HostileOptions& o, const HostileStats& s, std::uint64_t& next_report) {
  if (!o.progress || s.frames < next_report) return;
  o.progress(s);
  next_report += std::max<std::uint64_t>(1, o.frames / 10);
}

}  // namespace

HostileStats hostile_sim_server(const HostileOptions& o) {
  HostileStats s;
  sim::WorldOptions wo;
  wo.seed = o.seed;
  sim::World w(wo);
  std::shared_ptr<reference::Server<reference::SimRuntime>> server;
  w.add_node("server", [&server](sim::Host& h) {
    server = std::make_shared<reference::Server<reference::SimRuntime>>(reference::SimRuntime{&h},
                                                                        reference::ServerConfig{});
    error_code ec;
    server->start(9091, ec);
    return std::shared_ptr<void>(server);
  });
  sim::Host* host = nullptr;
  w.add_node("hostile", [&host](sim::Host& h) {
    host = &h;
    return std::make_shared<int>(0);
  });
  w.run_until(w.now() + sim::kMillisecond);
  FrameMutator mutator(o.seed);
  std::uint64_t next_report = std::max<std::uint64_t>(1, o.frames / 10);
  while (s.frames < o.frames) {
    auto p = std::make_shared<Peer>(Socket(*host));
    p->ping = ++s.sessions;
    p->out = session_bytes(mutator, o, s, p->ping);
    p->socket.async_connect(sim::Address{"server", 9091}, [p](error_code ec) {
      if (ec) {
        p->closed = true;
        return;
      }
      p->read();
      p->write();
    });
    w.run_until(w.now() + 300 * sim::kMillisecond);
    classify(*p, s);
    error_code ignored;
    p->socket.close(ignored);
    w.run_until(w.now() + 10 * sim::kMillisecond);
    report(o, s, next_report);
  }
  // Every hostile connection is gone; a well-behaved client is served.
  w.run_until(w.now() + sim::kSecond);
  if (server->core().session_count() != 0) {
    s.problem = std::to_string(server->core().session_count()) +
                " sessions left after every hostile connection closed";
  }
  auto good = std::make_shared<Peer>(Socket(*host));
  good->ping = 424242;
  protocol::Handshake hs;
  hs.wire_version = 1;
  protocol::append_frame(hs, good->out);
  protocol::append_frame(protocol::PingPong{good->ping, false}, good->out);
  good->socket.async_connect(sim::Address{"server", 9091}, [good](error_code ec) {
    if (ec) return;
    good->read();
    good->write();
  });
  w.run_until(w.now() + sim::kSecond);
  const bool acked = !good->received.empty() &&
                     std::holds_alternative<protocol::HandshakeAck>(good->received.front()) &&
                     std::get<protocol::HandshakeAck>(good->received.front()).success;
  s.alive = acked && good->ponged;
  if (!s.alive && s.problem.empty()) s.problem = "a fresh client was not served afterwards";
  return s;
}

HostileStats hostile_sim_client(const HostileOptions& o) {
  HostileStats s;
  sim::WorldOptions wo;
  wo.seed = o.seed;
  sim::World w(wo);
  FrameMutator mutator(o.seed);
  // The hostile side is the server: it accepts the reference client, answers
  // its handshake, then sends a session's mutated frames and a Ping.
  std::optional<sim::SimAcceptor> acceptor;
  std::shared_ptr<Peer> current;
  std::function<void()> accept;
  w.add_node("server", [&](sim::Host& h) {
    acceptor.emplace(h, 9091);
    return std::make_shared<int>(0);
  });
  std::shared_ptr<reference::Client<reference::SimRuntime>> client;
  w.add_node("client", [&client](sim::Host& h) {
    reference::ClientConfig cfg;
    protocol::ShapeDefinition shape;
    shape.shape_id = "orders-all";
    shape.shape_type = protocol::shape_type::Document{"orders", {}};
    cfg.shapes = {shape};
    client = std::make_shared<reference::Client<reference::SimRuntime>>(
        reference::SimRuntime{&h}, sim::Address{"server", 9091}, cfg,
        reference::ClientPersistent{});
    client->start();
    return std::shared_ptr<void>(client);
  });
  accept = [&] {
    acceptor->async_accept([&](error_code ec, Socket sock) {
      if (ec) return;
      auto p = std::make_shared<Peer>(std::move(sock));
      p->ping = s.sessions + 1;
      p->on_message = [&s, &mutator, &o](Peer& peer, const Message& m) {
        if (!std::holds_alternative<protocol::Handshake>(m) || !peer.out.empty()) return;
        protocol::HandshakeAck ack;
        ack.success = true;
        ack.session_id = "hostile";
        ack.server_wire_version = 4;
        protocol::append_frame(ack, peer.out);
        const Bytes rest = session_bytes(mutator, o, s, peer.ping);
        peer.out.insert(peer.out.end(), rest.begin(), rest.end());
        peer.write();
      };
      p->read();
      current = p;
      accept();
    });
  };
  w.run_until(w.now() + sim::kMillisecond);
  accept();
  std::uint64_t next_report = std::max<std::uint64_t>(1, o.frames / 10);
  // Each session: the client connects (after its backoff), is fed, and the
  // connection is dropped; up to 70 s covers CONN-1's longest backoff.
  while (s.frames < o.frames) {
    current.reset();
    const std::uint64_t before = s.frames;
    run_until_or(w, 70 * sim::kSecond, [&] { return current && !current->out.empty(); });
    if (!current || s.frames == before) {
      s.alive = false;
      s.problem = "the client stopped reconnecting";
      return s;
    }
    ++s.sessions;
    w.run_until(w.now() + 300 * sim::kMillisecond);
    classify(*current, s);
    error_code ignored;
    current->socket.close(ignored);
    report(o, s, next_report);
  }
  // It still reconnects and handshakes with a server that behaves.
  current.reset();
  run_until_or(w, 70 * sim::kSecond, [&] { return current != nullptr; });
  s.alive = current != nullptr;
  if (!s.alive) s.problem = "the client did not reconnect at the end";
  if (client->core().backlog() > 0 || client->core().pending() > 10'000)
    s.problem = "the client holds state it should not";
  return s;
}

}  // namespace syncsim::conformance
