// The reference pair over WebSocket (§2.1, FRAME-4/5/7/12/14): one frame per
// binary message, bad messages skipped without ending the session.
#include <gtest/gtest.h>

#include <array>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/error.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <optional>

#include "protocol/codec.hpp"
#include "protocol/frame_stream.hpp"
#include "reference/client.hpp"
#include "reference/server.hpp"
#include "reference/ws_runtime.hpp"
#include "tests/support/asio_wait.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using namespace reference;
using boost::system::error_code;
using tcp = boost::asio::ip::tcp;

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

// A raw WebSocket peer: sends whatever messages a test says, collects the
// frames it gets.
struct RawPeer {
  WsSocket ws;
  std::vector<Message> received;
  std::array<std::uint8_t, 4096> in{};
  FrameStream frames;
  bool closed = false;
  explicit RawPeer(boost::asio::io_context& ioc) : ws(ioc, "/any/path") {}  // FRAME-14
  void read() {
    ws.async_read_some(boost::asio::buffer(in), [this](error_code ec, std::size_t n) {
      if (ec) {
        closed = true;
        return;
      }
      frames.feed(std::span<const std::uint8_t>(in.data(), n));
      for (auto ev = frames.next(); ev.kind == StreamEvent::Kind::Frame; ev = frames.next()) {
        if (auto body = decode_body(ev.msg_type, ev.body); body.valid())
          received.push_back(*body.message);
      }
      read();
    });
  }
};

TEST(FRAME_5, ShortAndTextMessagesAreSkippedAndTheSessionGoesOn) {
  WsServer s;
  RawPeer peer(s.ioc);
  bool connected = false;
  peer.ws.async_connect({boost::asio::ip::address_v4::loopback(), s.port}, [&](error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    connected = true;
  });
  run_until(s.ioc, [&] { return connected; });
  ASSERT_TRUE(connected);
  peer.read();
  Handshake hs;
  hs.wire_version = 1;
  const Bytes good = encode_frame(hs);
  // FRAME-7: a text message; FRAME-5: shorter than a header, and shorter
  // than 5 + its length; then a real frame with trailing bytes (FRAME-4).
  const std::string text = "hello";
  const Bytes tiny{0x01, 0x02};
  const Bytes cut(good.begin(), good.end() - 1);
  Bytes padded = good;
  padded.push_back(0xAA);
  const std::vector<std::pair<boost::asio::const_buffer, bool>> messages = {
      {boost::asio::buffer(text), true},
      {boost::asio::buffer(tiny), false},
      {boost::asio::buffer(cut), false},
      {boost::asio::buffer(padded), false}};
  std::size_t sent = 0;
  std::function<void()> next = [&] {
    if (sent == messages.size()) return;
    const auto [bytes, is_text] = messages[sent];
    peer.ws.async_write_message(bytes, is_text, [&](error_code ec, std::size_t) {
      ASSERT_FALSE(ec) << ec.message();
      ++sent;
      next();
    });
  };
  next();
  run_until(s.ioc, [&] { return sent == messages.size() && !peer.received.empty(); });
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

// A WsSocket pair over loopback: what the accepting side reads of the
// messages the other side writes, and the error that ends its reading.
struct WsPair {
  boost::asio::io_context ioc;
  WsAcceptor acceptor{ioc};
  std::optional<WsSocket> server;
  WsSocket client{ioc, "/"};
  std::array<std::uint8_t, 65536> in{}, out{};
  std::size_t read = 0;
  std::optional<error_code> error;
  WsPair() {
    auto& a = acceptor.tcp_acceptor();
    a.open(tcp::v4());
    a.bind({boost::asio::ip::address_v4::loopback(), 0});
    a.listen();
    acceptor.async_accept([this](error_code ec, WsSocket s) {
      if (ec) return;
      server.emplace(std::move(s));
      read_more();
    });
    bool connected = false;
    client.async_connect(acceptor.local_endpoint(), [&](error_code ec) { connected = !ec; });
    run_until(ioc, [&] { return connected && server.has_value(); });
    EXPECT_TRUE(connected && server);
    drain();
  }
  // The writing side reads too, so it answers a close handshake.
  void drain() {
    client.async_read_some(boost::asio::buffer(out), [this](error_code ec, std::size_t) {
      if (!ec) drain();
    });
  }
  void read_more() {
    server->async_read_some(boost::asio::buffer(in), [this](error_code ec, std::size_t n) {
      if (ec) {
        error = ec;
        return;
      }
      read += n;
      read_more();
    });
  }
  // Messages go out one at a time: a WebSocket stream takes one write at once
  // (Beast asserts it), so each waits for the one before.
  std::deque<const Bytes*> outbox;
  void send(const Bytes& message) {
    outbox.push_back(&message);
    if (outbox.size() == 1) write_next();
  }
  void write_next() {
    client.async_write_message(boost::asio::buffer(*outbox.front()), false,
                               [this](error_code ec, std::size_t) {
                                 outbox.pop_front();
                                 if (!ec && !outbox.empty()) write_next();
                               });
  }
};

TEST(FRAME_9, WebSocketRuntimeTakesTheLargestFrameAndRefusesOneByteMore) {
  WsPair ok;
  const Bytes largest = test::unknown_frame(kLargestBody);
  ok.send(largest);
  const auto all_read = [&] { return ok.read == kMaxFrameSize || ok.error; };
  run_until_within(ok.ioc, all_read, std::chrono::seconds(60));
  EXPECT_EQ(ok.read, kMaxFrameSize);
  EXPECT_FALSE(ok.error) << ok.error->message();

  // A message whose header declares one byte too many ends the connection
  // (it is not skipped as a short message would be): the ping after it is
  // never read.
  WsPair header_only;
  const Bytes header = test::unknown_frame(kLargestBody + 1, false);
  const Bytes ping = encode_frame(PingPong{1, false});
  header_only.send(header);
  header_only.send(ping);
  run_until(header_only.ioc, [&] { return header_only.error || header_only.read > 0; });
  EXPECT_EQ(header_only.error, error_code(boost::beast::websocket::error::message_too_big));
  EXPECT_EQ(header_only.read, 0u);

  WsPair whole;  // 16 MiB + 1 byte: Beast refuses the message by its size
  const Bytes over = test::unknown_frame(kLargestBody + 1);
  whole.send(over);
  run_until_within(
      whole.ioc, [&] { return whole.error.has_value(); }, std::chrono::seconds(60));
  EXPECT_TRUE(whole.error);
  EXPECT_EQ(whole.read, 0u);
}

}  // namespace
}  // namespace syncsim::test
