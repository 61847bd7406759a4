// The reference pair over WebSocket (§2.1, FRAME-4/5/7/12/14): one frame per
// binary message, bad messages skipped without ending the session.
#include <gtest/gtest.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <functional>

#include "protocol/codec.hpp"
#include "reference/client.hpp"
#include "reference/server.hpp"
#include "reference/ws_runtime.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using namespace reference;
using boost::system::error_code;
using tcp = boost::asio::ip::tcp;
namespace websocket = boost::beast::websocket;

void run_until(boost::asio::io_context& ioc, const std::function<bool()>& done) {
  for (int k = 0; k < 1000 && !done(); ++k) ioc.run_one_for(std::chrono::milliseconds(5));
}

struct WsServer {
  boost::asio::io_context ioc;
  sim::Prng prng{3};
  std::shared_ptr<Server<WsRuntime>> server;
  std::uint16_t port = 0;
  WsServer() {
    server = std::make_shared<Server<WsRuntime>>(WsRuntime{&ioc, &prng}, ServerConfig{});
    error_code ec;
    EXPECT_TRUE(server->start(0, ec)) << ec.message();
    port = server->acceptor().local_endpoint().port();
  }
  ~WsServer() {
    server->stop();
    ioc.poll();
  }
};

TEST(FRAME_4, ReferenceClientAndServerOverWebSocket) {
  WsServer s;
  ClientConfig cfg;
  ShapeDefinition shape;
  shape.shape_id = "s1";
  shape.shape_type = shape_type::Document{"orders", {}};
  cfg.shapes = {shape};
  auto client = std::make_shared<Client<WsRuntime>>(
      WsRuntime{&s.ioc, &s.prng, "/sync"},
      tcp::endpoint(boost::asio::ip::address_v4::loopback(), s.port), cfg, ClientPersistent{});
  std::vector<Message> sent;
  client->on_send = [&](const Message& m, std::uint64_t) { sent.push_back(m); };
  client->start();
  run_until(s.ioc, [&] { return client->core().authenticated(); });
  ASSERT_TRUE(client->core().authenticated());
  client->write("orders", "o1", {1, 2, 3});
  const auto done = [&] {
    const auto& v = client->core().view();
    return client->core().pending() == 0 && v.count("orders") && v.at("orders").count("o1");
  };
  run_until(s.ioc, done);
  EXPECT_TRUE(done());
  EXPECT_EQ(s.server->core().collections().at({0, "orders"}).documents.at("o1"), (Bytes{1, 2, 3}));
  client->stop();
}

// A raw WebSocket peer: sends what a test says, collects the frames it gets.
struct RawPeer {
  websocket::stream<tcp::socket> ws;
  std::vector<Message> received;
  boost::beast::flat_buffer in;
  bool closed = false;
  explicit RawPeer(boost::asio::io_context& ioc) : ws(ioc) {}
  void read() {
    ws.async_read(in, [this](error_code ec, std::size_t) {
      if (ec) {
        closed = true;
        return;
      }
      const auto d = in.cdata();
      const Bytes frame(static_cast<const std::uint8_t*>(d.data()),
                        static_cast<const std::uint8_t*>(d.data()) + d.size());
      in.consume(in.size());
      if (auto m = decode_frame(frame).message) received.push_back(*m);
      read();
    });
  }
};

TEST(FRAME_5, ShortAndTextMessagesAreSkippedAndTheSessionGoesOn) {
  WsServer s;
  RawPeer peer(s.ioc);
  bool connected = false;
  // One thread runs both ends, so the peer connects asynchronously too.
  peer.ws.next_layer().async_connect(
      {boost::asio::ip::address_v4::loopback(), s.port}, [&](error_code ec) {
        ASSERT_FALSE(ec) << ec.message();
        peer.ws.async_handshake("localhost", "/any/path", [&](error_code hec) {  // FRAME-14
          ASSERT_FALSE(hec) << hec.message();
          connected = true;
        });
      });
  run_until(s.ioc, [&] { return connected; });
  ASSERT_TRUE(connected);
  peer.read();
  Handshake hs;
  hs.wire_version = 1;
  const Bytes good = encode_frame(hs);
  bool sent = false;
  // FRAME-7: a text message; FRAME-5: shorter than a header, and shorter
  // than 5 + its length; then a real frame with trailing bytes (FRAME-4).
  auto step = std::make_shared<int>(0);
  std::function<void()> next = [&, step] {
    const int k = (*step)++;
    auto done = [&](error_code ec, std::size_t) {
      ASSERT_FALSE(ec) << ec.message();
      next();
    };
    if (k == 0) {
      peer.ws.text(true);
      peer.ws.async_write(boost::asio::buffer(std::string("hello")), done);
    } else if (k == 1) {
      peer.ws.binary(true);
      static const Bytes tiny{0x01, 0x02};
      peer.ws.async_write(boost::asio::buffer(tiny), done);
    } else if (k == 2) {
      static Bytes cut;
      cut.assign(good.begin(), good.end() - 1);
      peer.ws.async_write(boost::asio::buffer(cut), done);
    } else if (k == 3) {
      static Bytes extra;
      extra = good;
      extra.push_back(0xAA);
      peer.ws.async_write(boost::asio::buffer(extra), done);
    } else {
      sent = true;
    }
  };
  next();
  run_until(s.ioc, [&] { return sent && !peer.received.empty(); });
  ASSERT_EQ(peer.received.size(), 1u);
  EXPECT_TRUE(std::get<HandshakeAck>(peer.received[0]).success);
  EXPECT_FALSE(peer.closed);
  EXPECT_EQ(s.server->connections(), 1u);
}

TEST(FRAME_14, APlainTcpPeerIsDroppedAndTheServerKeepsAccepting) {
  WsServer s;
  tcp::socket plain(s.ioc);
  bool plain_done = false;
  Bytes frame = encode_frame(PingPong{1, false});
  std::array<std::uint8_t, 64> sink{};
  plain.async_connect({boost::asio::ip::address_v4::loopback(), s.port}, [&](error_code ec) {
    ASSERT_FALSE(ec);
    boost::asio::async_write(plain, boost::asio::buffer(frame), [&](error_code, std::size_t) {
      plain.async_read_some(boost::asio::buffer(sink),
                            [&](error_code, std::size_t) { plain_done = true; });
    });
  });
  run_until(s.ioc, [&] { return plain_done; });
  EXPECT_TRUE(plain_done);  // answered with an HTTP error or closed, never served
  EXPECT_EQ(s.server->connections(), 0u);
  // A WebSocket client after it is served.
  auto client = std::make_shared<Client<WsRuntime>>(
      WsRuntime{&s.ioc, &s.prng}, tcp::endpoint(boost::asio::ip::address_v4::loopback(), s.port),
      ClientConfig{}, ClientPersistent{});
  client->start();
  run_until(s.ioc, [&] { return client->core().authenticated(); });
  EXPECT_TRUE(client->core().authenticated());
  client->stop();
}

}  // namespace
}  // namespace syncsim::test
