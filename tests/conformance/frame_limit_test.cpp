// FRAME-9 at the harness's live readers: a frame of 16 MiB (header included)
// passes whole, a header declaring one byte more ends the connection before
// any body is read.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/asio/write.hpp>
#include <optional>

#include "conformance/live/frame_conn.hpp"
#include "conformance/live/proxy.hpp"
#include "conformance/live/target.hpp"
#include "tests/support/asio_wait.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace conformance;
using tcp = boost::asio::ip::tcp;
const tcp::endpoint kLoopback(boost::asio::ip::address_v4::loopback(), 0);

// Writes `bytes` into a live frame connection over loopback TCP.
struct ConnRig {
  boost::asio::io_context ioc;
  tcp::acceptor acceptor{ioc, kLoopback};
  tcp::socket writer{ioc};
  std::vector<std::size_t> frames;  // sizes of the frames handed over
  std::optional<std::string> closed;
  std::shared_ptr<FrameConn<tcp::socket>> conn;

  explicit ConnRig(const protocol::Bytes& bytes) {
    writer.connect(acceptor.local_endpoint());
    conn = std::make_shared<FrameConn<tcp::socket>>(acceptor.accept());
    conn->on_frame = [this](const protocol::Bytes& f) { frames.push_back(f.size()); };
    conn->on_close = [this](const std::string& why) { closed = why; };
    conn->start();
    boost::asio::async_write(writer, boost::asio::buffer(bytes),
                             [](boost::system::error_code, std::size_t) {});
  }
};

TEST(FRAME_9, LiveFrameConnectionTakesTheLargestFrameAndRefusesOneByteMore) {
  const protocol::Bytes largest = unknown_frame(kLargestBody);
  ConnRig ok(largest);
  run_until_within(
      ok.ioc, [&] { return !ok.frames.empty(); }, std::chrono::seconds(60));
  ASSERT_EQ(ok.frames.size(), 1u);
  EXPECT_EQ(ok.frames[0], protocol::kMaxFrameSize);
  EXPECT_FALSE(ok.closed);

  ConnRig over(unknown_frame(kLargestBody + 1, false));  // the header alone
  run_until(over.ioc, [&] { return over.closed.has_value(); });
  ASSERT_TRUE(over.closed);
  EXPECT_EQ(*over.closed,
            "FRAME-9 at stream offset 1: frame too large: declared body length 16777212 "
            "exceeds the limit of 16777211");
  EXPECT_TRUE(over.frames.empty());
}

// client -> proxy -> a server that counts what reaches it.
struct ProxyRig {
  boost::asio::io_context ioc;
  tcp::acceptor upstream{ioc, kLoopback};
  std::optional<tcp::socket> server;
  std::array<std::uint8_t, 65536> buf{};
  std::size_t at_server = 0;
  std::vector<std::string> events;
  std::optional<Proxy> proxy;
  tcp::socket client{ioc};
  bool client_cut = false;

  ProxyRig() {
    upstream.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      server.emplace(std::move(s));
      read();
    });
    Proxy::Options po;
    po.listen = *parse_endpoint("tcp://127.0.0.1:0").endpoint;
    po.upstream = po.listen;
    po.upstream.port = upstream.local_endpoint().port();
    po.on_event = [this](const std::string& e) { events.push_back(e); };
    proxy.emplace(ioc, po);
    boost::system::error_code ec;
    EXPECT_TRUE(proxy->start(ec)) << ec.message();
    client.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), proxy->port()));
    client.async_read_some(boost::asio::buffer(buf),
                           [this](boost::system::error_code e, std::size_t) { client_cut = !!e; });
  }
  void read() {
    server->async_read_some(boost::asio::buffer(buf),
                            [this](boost::system::error_code ec, std::size_t n) {
                              if (ec) return;
                              at_server += n;
                              read();
                            });
  }
  void send(const protocol::Bytes& bytes) {
    boost::asio::async_write(client, boost::asio::buffer(bytes),
                             [](boost::system::error_code, std::size_t) {});
  }
  bool said(std::string_view what) const {
    return std::any_of(events.begin(), events.end(),
                       [&](const std::string& e) { return e.find(what) != std::string::npos; });
  }
};

TEST(FRAME_9, ProxyPassesTheLargestFrameAndCutsAtOneByteMore) {
  ProxyRig ok;
  const protocol::Bytes largest = unknown_frame(kLargestBody);
  ok.send(largest);
  const auto all_there = [&] { return ok.at_server == protocol::kMaxFrameSize; };
  run_until_within(ok.ioc, all_there, std::chrono::seconds(60));
  EXPECT_EQ(ok.at_server, protocol::kMaxFrameSize);
  EXPECT_FALSE(ok.said("FRAME-9"));

  ProxyRig over;
  const protocol::Bytes header = unknown_frame(kLargestBody + 1, false);
  over.send(header);
  run_until(over.ioc, [&] { return over.client_cut; });
  EXPECT_TRUE(over.client_cut);
  EXPECT_TRUE(over.said("FRAME-9")) << (over.events.empty() ? "" : over.events.back());
  EXPECT_EQ(over.at_server, 0u);
}

}  // namespace
}  // namespace syncsim::test
