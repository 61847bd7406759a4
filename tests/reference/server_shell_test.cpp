// The reference server's Asio shell, on the simulator and on real loopback
// TCP: the same template, two runtimes.
#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <functional>

#include "protocol/codec.hpp"
#include "protocol/frame_stream.hpp"
#include "reference/client.hpp"
#include "reference/runtime.hpp"
#include "reference/server.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using namespace reference;
using boost::system::error_code;

// A scripted client: writes frames, collects every decoded frame it reads.
template <class Socket>
struct ScriptedClient : std::enable_shared_from_this<ScriptedClient<Socket>> {
  explicit ScriptedClient(Socket s) : socket(std::move(s)) {}
  Socket socket;
  FrameStream decoder;
  std::array<std::uint8_t, 4096> buf{};
  std::vector<Message> received;
  error_code connect_error, read_error;
  Bytes out;

  void send_all(const std::vector<Message>& ms) {
    for (const auto& m : ms) append_frame(m, out);
    boost::asio::async_write(socket, boost::asio::buffer(out),
                             [self = this->shared_from_this()](error_code, std::size_t) {});
  }
  void read() {
    socket.async_read_some(boost::asio::buffer(buf),
                           [self = this->shared_from_this()](error_code ec, std::size_t n) {
                             if (ec) {
                               self->read_error = ec;
                               return;
                             }
                             self->decoder.feed(std::span<const std::uint8_t>(self->buf.data(), n));
                             for (;;) {
                               auto ev = self->decoder.next();
                               if (ev.kind != StreamEvent::Kind::Frame) break;
                               auto body = decode_body(ev.msg_type, ev.body);
                               if (body.message) self->received.push_back(*body.message);
                             }
                             self->read();
                           });
  }
};

// Adds a node "server" running the reference server on port 9091.
std::shared_ptr<Server<SimRuntime>>& add_server(sim::World& w,
                                                std::shared_ptr<Server<SimRuntime>>& server) {
  w.add_node("server", [&server](sim::Host& h) {
    server = std::make_shared<Server<SimRuntime>>(SimRuntime{&h}, ServerConfig{});
    error_code ec;
    EXPECT_TRUE(server->start(9091, ec)) << ec.message();
    return std::shared_ptr<void>(server);
  });
  return server;
}

// Adds a node running a ScriptedClient that connects to the server and, once
// connected, starts reading and hands itself to `on_connected`.
using SimScripted = ScriptedClient<sim::SimSocket>;
void add_scripted_client(sim::World& w, const std::string& name,
                         std::shared_ptr<SimScripted>& client,
                         std::function<void(const std::shared_ptr<SimScripted>&)> on_connected) {
  w.add_node(name, [&client, on_connected](sim::Host& h) {
    client = std::make_shared<SimScripted>(sim::SimSocket(h));
    client->socket.async_connect(sim::Address{"server", 9091},
                                 [c = client, on_connected](error_code ec) {
                                   c->connect_error = ec;
                                   if (ec) return;
                                   c->read();
                                   on_connected(c);
                                 });
    return std::shared_ptr<void>(client);
  });
}

std::vector<Message> opening_script() {
  Handshake hs;
  hs.wire_version = 1;
  DeltaPush p;
  p.collection = "orders";
  p.document_id = "o1";
  p.delta = {1, 2, 3};
  p.peer_id = 1;
  p.mutation_id = 1;
  return {Message{hs}, Message{PingPong{5, false}}, Message{p}};
}

void expect_opening_answers(const std::vector<Message>& got) {
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(std::get<HandshakeAck>(got[0]).success);
  EXPECT_EQ(std::get<PingPong>(got[1]).timestamp_ms, 5u);
  EXPECT_EQ(std::get<DeltaAck>(got[2]).lsn, 1u);
}

TEST(FRAME_13, SimulatedServerAnswersInRequestOrder) {
  sim::World w;
  std::shared_ptr<Server<SimRuntime>> server;
  add_server(w, server);
  std::shared_ptr<SimScripted> client;
  add_scripted_client(w, "client", client, [](const auto& c) { c->send_all(opening_script()); });
  w.run_until(sim::kSecond);
  EXPECT_FALSE(client->connect_error);
  expect_opening_answers(client->received);
  EXPECT_EQ(*server->core().wire_session_id(1),
            "sync-client:40000-1");  // SESSION-1 with the simulated address
}

TEST(SESSION_3, SimulatedIdleConnectionIsClosedAfterFiveMinutes) {
  sim::World w;
  std::shared_ptr<Server<SimRuntime>> server;
  add_server(w, server);
  std::shared_ptr<SimScripted> client;
  add_scripted_client(w, "client", client, [](const auto&) {});
  w.run_until(299 * sim::kSecond);
  EXPECT_FALSE(client->read_error);
  w.run_until(301 * sim::kSecond);
  EXPECT_EQ(client->read_error, boost::asio::error::eof);
}

// D72: a peer that floods Pings and never reads is not read either once
// 1 MiB of answers waits for it, so the server's queue stays bounded (it
// used to read on and queue every Pong); it then idles out (SESSION-3),
// though its write never completes (it used to keep the socket for good).
TEST(SESSION_3, APeerThatNeverReadsIsNotReadEitherAndIdlesOut) {
  sim::World w;
  std::shared_ptr<Server<SimRuntime>> server;
  add_server(w, server);
  std::uint64_t pongs = 0;
  w.after(0, [&] {
    server->on_send = [&pongs](const Message& m, std::uint64_t) {
      pongs += std::holds_alternative<PingPong>(m);
    };
  });
  constexpr std::uint64_t kPings = 400'000;  // ~4 MiB of Pings, ~30 MiB of queued Pongs
  std::shared_ptr<SimScripted> deaf;
  w.add_node("deaf", [&deaf](sim::Host& h) {
    deaf = std::make_shared<SimScripted>(sim::SimSocket(h));
    deaf->socket.async_connect(sim::Address{"server", 9091}, [c = deaf](error_code ec) {
      if (ec) return;
      Handshake hs;
      hs.wire_version = 1;
      append_frame(Message{hs}, c->out);
      for (std::uint64_t k = 0; k < kPings; ++k) append_frame(Message{PingPong{k, false}}, c->out);
      boost::asio::async_write(c->socket, boost::asio::buffer(c->out),
                               [c](error_code, std::size_t) {});  // and never reads
    });
    return std::shared_ptr<void>(deaf);
  });
  w.run_until(10 * sim::kSecond);
  EXPECT_EQ(server->connections(), 1u);
  EXPECT_GT(pongs, 1000u);
  // At most the link's 1 MiB window of Pongs written (~12 B each) and 1 MiB
  // queued (charged 64 B more each), then reading stops: ~100,000, not 400,000.
  EXPECT_LT(pongs, 150'000u) << "the server read on while its answers piled up";
  const sim::RunResult r = w.run_until(320 * sim::kSecond);
  EXPECT_EQ(r.reason, sim::StopReason::TimeReached)
      << "the closing session woke the server in a loop";
  // Idled out (SESSION-3), its stuck write given up after kCloseLinger.
  EXPECT_EQ(server->connections(), 0u);
}

TEST(FRAME_9, OverLongLengthClosesTheConnectionUnread) {
  sim::World w;
  std::shared_ptr<Server<SimRuntime>> server;
  add_server(w, server);
  std::shared_ptr<SimScripted> client;
  add_scripted_client(w, "client", client, [](const auto& c) {
    c->out = {0x10, 0xff, 0xff, 0xff, 0x7f};  // N = 2^31 - 1
    boost::asio::async_write(c->socket, boost::asio::buffer(c->out),
                             [c](error_code, std::size_t) {});
  });
  w.run_until(sim::kSecond);
  EXPECT_EQ(client->read_error, boost::asio::error::eof);
}

TEST(FRAME_13, RealTcpServerAnswersTheSameScript) {
  boost::asio::io_context ioc;
  sim::Prng prng(1);
  auto server = std::make_shared<Server<TcpRuntime>>(TcpRuntime{&ioc, &prng}, ServerConfig{});
  error_code ec;
  ASSERT_TRUE(server->start(0, ec)) << ec.message();
  const auto port = server->acceptor().local_endpoint().port();
  auto client = std::make_shared<ScriptedClient<boost::asio::ip::tcp::socket>>(
      boost::asio::ip::tcp::socket(ioc));
  client->socket.async_connect({boost::asio::ip::address_v4::loopback(), port},
                               [client](error_code e) {
                                 ASSERT_FALSE(e) << e.message();
                                 client->read();
                                 client->send_all(opening_script());
                               });
  for (int k = 0; k < 2000 && client->received.size() < 3; ++k)
    ioc.run_one_for(std::chrono::milliseconds(5));
  expect_opening_answers(client->received);
  server->stop();
  client->socket.close();
  ioc.poll();
}

}  // namespace
}  // namespace syncsim::test

namespace syncsim::test {
namespace {

TEST(FRAME_8, ReferenceClientAndServerOverRealLoopbackTcp) {
  boost::asio::io_context ioc;
  sim::Prng prng(5);
  auto server = std::make_shared<Server<TcpRuntime>>(TcpRuntime{&ioc, &prng}, ServerConfig{});
  error_code ec;
  ASSERT_TRUE(server->start(0, ec)) << ec.message();
  const auto port = server->acceptor().local_endpoint().port();
  ClientConfig cfg;
  ShapeDefinition shape;
  shape.shape_id = "s1";
  shape.shape_type = shape_type::Document{"orders", {}};
  cfg.shapes = {shape};
  auto client = std::make_shared<Client<TcpRuntime>>(
      TcpRuntime{&ioc, &prng},
      boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), port), cfg,
      ClientPersistent{});
  client->start();
  for (int k = 0; k < 400 && !client->core().authenticated(); ++k)
    ioc.run_one_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(client->core().authenticated());
  client->write("orders", "o1", {1, 2, 3});
  const auto done = [&] {
    const auto& v = client->core().view();
    return client->core().pending() == 0 && v.count("orders") && v.at("orders").count("o1");
  };
  for (int k = 0; k < 400 && !done(); ++k) ioc.run_one_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(done());
  EXPECT_EQ(server->core().collections().at({0, "orders"}).documents.at("o1"),
            (protocol::Bytes{1, 2, 3}));
  client->stop();
  server->stop();
  ioc.poll();
}

}  // namespace
}  // namespace syncsim::test

#include <rapidcheck/gtest.h>

namespace syncsim::test {
namespace {

// A peer sending arbitrary bytes never takes the server down: a second
// client is served normally afterwards, and the server's buffers stay bounded.
RC_GTEST_PROP(FRAME_10, ServerShellSurvivesArbitraryBytes,
              (const std::vector<std::uint8_t>& junk)) {
  sim::WorldOptions o;
  o.seed = *rc::gen::arbitrary<std::uint64_t>();
  sim::World w(o);
  std::shared_ptr<Server<SimRuntime>> server;
  add_server(w, server);
  // Valid frames mixed into the junk make it reach deeper than the framing.
  Bytes bytes = junk;
  for (const auto& m : opening_script()) {
    if (*rc::gen::arbitrary<bool>()) append_frame(m, bytes);
  }
  w.add_node("hostile", [&](sim::Host& h) {
    auto c = std::make_shared<ScriptedClient<sim::SimSocket>>(sim::SimSocket(h));
    c->socket.async_connect(sim::Address{"server", 9091}, [c, bytes](error_code ec) {
      if (ec) return;
      c->read();
      c->out = bytes;
      boost::asio::async_write(c->socket, boost::asio::buffer(c->out),
                               [c](error_code, std::size_t) {});
    });
    return std::shared_ptr<void>(c);
  });
  std::shared_ptr<ScriptedClient<sim::SimSocket>> good;
  w.add_node("good", [&](sim::Host& h) {
    good = std::make_shared<ScriptedClient<sim::SimSocket>>(sim::SimSocket(h));
    return std::shared_ptr<void>(good);
  });
  w.run_until(sim::kSecond);
  good->socket.async_connect(sim::Address{"server", 9091}, [g = good](error_code ec) {
    if (ec) return;
    g->read();
    g->send_all(opening_script());
  });
  w.run_until(2 * sim::kSecond);
  RC_ASSERT(good->received.size() == 3u);
}

}  // namespace
}  // namespace syncsim::test
