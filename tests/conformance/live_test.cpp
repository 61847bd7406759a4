// `syncsim serve`'s core: the reference server on real loopback sockets with
// the checker judging every frame live, over TCP and WebSocket.
#include <gtest/gtest.h>

#include <boost/asio/write.hpp>
#include <chrono>

#include "conformance/live/live_server.hpp"
#include "protocol/codec.hpp"
#include "reference/client.hpp"
#include "reference/runtime.hpp"
#include "reference/ws_runtime.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using namespace reference;
using conformance::Endpoint;
using conformance::LiveServer;
using tcp = boost::asio::ip::tcp;

void run_until(boost::asio::io_context& ioc, const std::function<bool()>& done) {
  for (int k = 0; k < 1000 && !done(); ++k) ioc.run_one_for(std::chrono::milliseconds(5));
}

TEST(Endpoint, ParsesTcpAndWebSocketAddressesAndSaysWhatIsWrong) {
  const auto t = conformance::parse_endpoint("tcp://127.0.0.1:9091");
  ASSERT_TRUE(t.endpoint) << t.error;
  EXPECT_EQ(t.endpoint->port, 9091);
  EXPECT_EQ(t.endpoint->text(), "tcp://127.0.0.1:9091");
  const auto w = conformance::parse_endpoint("ws://[::1]:9090/sync/v1");
  ASSERT_TRUE(w.endpoint) << w.error;
  EXPECT_EQ(w.endpoint->transport, Endpoint::Transport::WebSocket);
  EXPECT_EQ(w.endpoint->host, "::1");
  EXPECT_EQ(w.endpoint->path, "/sync/v1");
  EXPECT_NE(conformance::parse_endpoint("http://x:1").error.find("unknown scheme"),
            std::string::npos);
  EXPECT_NE(conformance::parse_endpoint("tcp://127.0.0.1").error.find("no port"),
            std::string::npos);
  EXPECT_NE(conformance::parse_endpoint("tcp://127.0.0.1:70000").error.find("0..65535"),
            std::string::npos);
  EXPECT_NE(conformance::parse_endpoint("tcp://localhost:1").error.find("not an IP address"),
            std::string::npos);
  EXPECT_NE(conformance::parse_endpoint("tcp://127.0.0.1:1/x").error.find("needs ws://"),
            std::string::npos);
}

template <class Runtime>
void reference_client_is_served_and_judged(const std::string& listen) {
  boost::asio::io_context ioc;
  LiveServer::Options o;
  o.listen = *conformance::parse_endpoint(listen).endpoint;
  LiveServer server(ioc, o);
  boost::system::error_code ec;
  ASSERT_TRUE(server.start(ec)) << ec.message();
  sim::Prng prng(2);
  Runtime rt{&ioc, &prng};
  ClientConfig cfg;
  ShapeDefinition shape;
  shape.shape_id = "s1";
  shape.shape_type = shape_type::Document{"orders", {}};
  cfg.shapes = {shape};
  auto client = std::make_shared<Client<Runtime>>(
      rt, tcp::endpoint(boost::asio::ip::address_v4::loopback(), server.port()), cfg,
      ClientPersistent{});
  client->start();
  run_until(ioc, [&] { return client->core().authenticated(); });
  client->write("orders", "o1", {1, 2, 3});
  run_until(ioc, [&] { return client->core().pending() == 0 && !client->core().view().empty(); });
  EXPECT_EQ(client->core().pending(), 0u);
  client->stop();
  server.stop();
  ioc.poll();
  server.finish();
  EXPECT_EQ(server.connections(), 1u);
  EXPECT_GT(server.checker().frames(), 8u);  // both directions, written and read
  EXPECT_EQ(server.checker().must_count(), 0u)
      << conformance::format_check_finding(server.checker().findings().front());
}

TEST(Live, ReferenceClientIsServedAndJudgedOverTcp) {
  reference_client_is_served_and_judged<TcpRuntime>("tcp://127.0.0.1:0");
}

TEST(Live, ReferenceClientIsServedAndJudgedOverWebSocket) {
  reference_client_is_served_and_judged<WsRuntime>("ws://127.0.0.1:0/");
}

TEST(HS_1, LiveServerReportsAClientThatPushesBeforeTheHandshake) {
  boost::asio::io_context ioc;
  LiveServer::Options o;
  o.listen = *conformance::parse_endpoint("tcp://127.0.0.1:0").endpoint;
  std::vector<std::string> seen;
  o.on_finding = [&](const conformance::CheckFinding& f) { seen.emplace_back(f.finding.rule); };
  LiveServer server(ioc, o);
  boost::system::error_code ec;
  ASSERT_TRUE(server.start(ec)) << ec.message();
  tcp::socket raw(ioc);
  DeltaPush p;
  p.collection = "orders";
  p.document_id = "d";
  p.delta = {1};
  p.mutation_id = 1;
  const Bytes frame = encode_frame(p);
  std::array<std::uint8_t, 256> answer{};
  std::size_t got = 0;
  raw.async_connect(
      {boost::asio::ip::address_v4::loopback(), server.port()}, [&](boost::system::error_code e) {
        ASSERT_FALSE(e);
        boost::asio::async_write(raw, boost::asio::buffer(frame),
                                 [](boost::system::error_code, std::size_t) {});
        raw.async_read_some(boost::asio::buffer(answer),
                            [&](boost::system::error_code, std::size_t n) { got = n; });
      });
  run_until(ioc, [&] { return got > 0; });
  ASSERT_GT(got, 0u);
  const auto d = decode_frame(Bytes(answer.begin(), answer.begin() + static_cast<long>(got)));
  ASSERT_TRUE(d.message);
  EXPECT_EQ(std::get<DeltaReject>(*d.message).reason, "not authenticated");  // SESSION-5
  EXPECT_NE(std::find(seen.begin(), seen.end(), "HS-1"), seen.end());        // reported live
  server.stop();
  ioc.poll();
}

}  // namespace
}  // namespace syncsim::test
