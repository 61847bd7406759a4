// `syncsim serve`'s core: the reference server on real loopback sockets with
// the checker judging every frame live, over TCP and WebSocket.
#include <gtest/gtest.h>

#include <boost/asio/write.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <set>

#include "conformance/live/admin_port.hpp"
#include "conformance/live/frame_conn.hpp"
#include "conformance/live/live_server.hpp"
#include "conformance/live/server_check.hpp"
#include "protocol/codec.hpp"
#include "reference/client.hpp"
#include "reference/runtime.hpp"
#include "reference/ws_runtime.hpp"
#include "tests/support/asio_wait.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using namespace reference;
using conformance::Endpoint;
using conformance::LiveServer;
using tcp = boost::asio::ip::tcp;

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

namespace syncsim::test {
namespace {

using conformance::ServerCheckOptions;
using conformance::Verdict;

struct CheckRun {
  boost::asio::io_context ioc;
  std::unique_ptr<LiveServer> server;
  std::unique_ptr<conformance::AdminPort> admin;  // the hooks' way in (purge, define)
  std::vector<conformance::ServerCaseResult> results;
  void serve(const std::string& listen, std::set<ServerBug> bugs = {}) {
    LiveServer::Options o;
    o.listen = *conformance::parse_endpoint(listen).endpoint;
    o.config.bugs = std::move(bugs);
    o.config.jwt.hs256_secret = "live-test-secret";  // the cases that mint tokens run too
    server = std::make_unique<LiveServer>(ioc, o);
    boost::system::error_code ec;
    ASSERT_TRUE(server->start(ec)) << ec.message();
    admin = std::make_unique<conformance::AdminPort>(
        ioc, [this](const std::string& line) { return server->admin(line); });
    ASSERT_TRUE(admin->start("127.0.0.1", 0, ec)) << ec.message();
  }
  void check(Endpoint target, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000),
             std::string filter = "") {
    ServerCheckOptions o;
    o.target = std::move(target);
    o.answer_budget_ms = timeout.count();
    o.jwt_secret = "live-test-secret";
    o.suite.filter = std::move(filter);
    if (admin) {  // hooks as `serve --target-out` writes them (D134): the purge cases run too
      const std::string call = std::string("'") + SYNCSIM_BINARY +
                               "' admin tcp://127.0.0.1:" + std::to_string(admin->port()) + " ";
      o.hooks = {{"purge", call + "purge {tenant} {collection}"},
                 {"define", call + "define {tenant} {type} {name} {action} {json}"}};
    }
    results = conformance::check_server(ioc, o);
  }
  std::string failures() const {
    std::string out;
    for (const auto& r : results) {
      if (r.verdict != Verdict::Pass)
        out += "\n  " + std::string(conformance::verdict_name(r.verdict)) + " " + r.rule + " " +
               r.id + ": " + r.detail;
    }
    return out;
  }
  const conformance::ServerCaseResult* result(const std::string& rule) const {
    for (const auto& r : results) {
      if (r.rule == rule) return &r;
    }
    return nullptr;
  }
};

TEST(CheckServer, TheReferenceServerPassesEveryCaseOverTcpAndWebSocket) {
  for (const std::string scheme : {"tcp://127.0.0.1:0", "ws://127.0.0.1:0/"}) {
    CheckRun run;
    run.serve(scheme);
    Endpoint target = *conformance::parse_endpoint(scheme).endpoint;
    target.port = run.server->port();
    target.path = "/sync";
    run.check(target);
    EXPECT_EQ(run.results.size(), conformance::server_cases().size());
    EXPECT_TRUE(run.failures().empty()) << scheme << run.failures();
  }
}

// A server of our own that answers a ResyncRequest the way NodeDB documents
// as an alternative: by sending the session's last ShapeDelta again, not a
// fresh snapshot. It fans writes out to the other sessions' shapes only.
class ResendingServer {
 public:
  explicit ResendingServer(boost::asio::io_context& ioc)
      : acceptor_(ioc, {boost::asio::ip::address_v4::loopback(), 0}) {
    accept();
  }
  ~ResendingServer() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& s : sessions_) s->conn->close();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  struct Session {
    std::shared_ptr<conformance::FrameConn<tcp::socket>> conn;
    std::map<std::string, std::string> shapes;  // shape id -> collection
    std::optional<ShapeDelta> last;
  };
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      auto session = std::make_shared<Session>();
      session->conn = std::make_shared<conformance::FrameConn<tcp::socket>>(std::move(s));
      Session* self = session.get();
      session->conn->on_frame = [this, self](const Bytes& f) { on_frame(*self, f); };
      session->conn->start();
      sessions_.push_back(std::move(session));
      accept();
    });
  }
  static void send(Session& s, const Message& m) { s.conn->send(encode_frame(m)); }
  void on_frame(Session& s, const Bytes& f) {
    const auto d = decode_frame(f);
    if (!d.message) return;
    const Message& m = *d.message;
    if (std::holds_alternative<Handshake>(m)) {
      HandshakeAck a;
      a.success = true;
      a.session_id = "resending-" + std::to_string(++ids_);
      a.server_wire_version = 4;
      return send(s, a);
    }
    if (const auto* p = std::get_if<PingPong>(&m); p && !p->is_pong)
      return send(s, PingPong{p->timestamp_ms, true});
    if (const auto* sub = std::get_if<ShapeSubscribe>(&m)) {
      const auto* doc = std::get_if<shape_type::Document>(&sub->shape.shape_type);
      s.shapes[sub->shape.shape_id] = doc ? doc->collection : "";
      return send(s, ShapeSnapshot{sub->shape.shape_id, {}, lsn_, 0});
    }
    if (const auto* p = std::get_if<DeltaPush>(&m)) {
      if (p->device_valid_time_ms && p->mutation_id < 128) {
        // The skew warning packed as msgpack-cxx packs a positive int64:
        // with the unsigned marker cf (ENC-3 wants d3).
        const std::uint64_t skew = 1'750'000'000'000;
        Bytes ack{0x11,
                  12,
                  0,
                  0,
                  0,
                  0x93,
                  static_cast<std::uint8_t>(p->mutation_id),
                  static_cast<std::uint8_t>(++lsn_ & 0x7F),
                  0xCF};
        for (int k = 7; k >= 0; --k) ack.push_back(static_cast<std::uint8_t>(skew >> (8 * k)));
        return s.conn->send(std::move(ack));
      }
      send(s, DeltaAck{p->mutation_id, ++lsn_, std::nullopt});
      for (auto& other : sessions_) {
        if (other.get() == &s) continue;  // no echo, as Origin
        for (const auto& [id, coll] : other->shapes) {
          if (coll != p->collection) continue;
          other->last = ShapeDelta{id, coll, p->document_id, "INSERT", p->delta, lsn_};
          send(*other, *other->last);
        }
      }
      return;
    }
    if (std::holds_alternative<ResyncRequest>(m) && s.last) send(s, *s.last);
  }

  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Session>> sessions_;
  std::uint64_t lsn_ = 0;
  int ids_ = 0;
};

// D127: a server that answers a re-sync NodeDB's way gets a FAIL naming
// RESYNC-8 and the harness choice, not a TIMEOUT; one that does not echo a
// session's own writes (this one, like Origin) one naming SHAPE-7's.
TEST(CheckServer, RESYNC_8_ANodeDbLikeServerGetsAVerdictNamingTheHarnessChoice) {
  boost::asio::io_context ioc;
  ResendingServer server(ioc);
  Endpoint target = *conformance::parse_endpoint("tcp://127.0.0.1:0").endpoint;
  target.port = server.port();
  for (const auto& [filter, rule] : {std::pair{"resync-answered-by-snapshot", "RESYNC-8"},
                                     std::pair{"own-writes-delivered-back", "SHAPE-7"}}) {
    ServerCheckOptions o;
    o.target = target;
    o.answer_budget_ms = 1000;
    o.suite.filter = filter;
    const auto results = conformance::check_server(ioc, o);
    ASSERT_EQ(results.size(), 1u) << filter;
    EXPECT_EQ(results[0].verdict, Verdict::Fail) << results[0].detail;
    EXPECT_NE(results[0].detail.find(std::string(rule) + " (HARNESS CHOICE"), std::string::npos)
        << results[0].detail;
  }
}

// ENC-3: the same server writes clock_skew_warning_ms with an unsigned marker.
TEST(CheckServer, ENC_3_AnI64WithAnUnsignedMarkerIsCaught) {
  boost::asio::io_context ioc;
  ResendingServer server(ioc);
  ServerCheckOptions o;
  o.target = *conformance::parse_endpoint("tcp://127.0.0.1:0").endpoint;
  o.target.port = server.port();
  o.answer_budget_ms = 1000;
  o.suite.filter = "i64-in-smallest-signed-form";
  const auto results = conformance::check_server(ioc, o);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].verdict, Verdict::Fail) << results[0].detail;
  EXPECT_NE(results[0].detail.find("ENC-3"), std::string::npos) << results[0].detail;
}

TEST(CheckServer, AFaultyServerFailsTheCaseOfTheRuleItBreaks) {
  const std::pair<ServerBug, std::string> faults[] = {{ServerBug::SkipDedup, "DELTA-6"},
                                                      {ServerBug::SkipCrcCheck, "DELTA-4"}};
  for (const auto& [bug, rule] : faults) {
    CheckRun run;
    run.serve("tcp://127.0.0.1:0", {bug});
    Endpoint target = *conformance::parse_endpoint("tcp://127.0.0.1:0").endpoint;
    target.port = run.server->port();
    run.check(target);
    const auto* r = run.result(rule);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->verdict, Verdict::Fail) << rule;
    EXPECT_FALSE(r->frames.empty());  // the frames around it are shown
    for (const auto& other : run.results) {
      // Another case may meet the same bug (the proxy's duplicates meet a
      // server that does not deduplicate): then it fails citing the rule.
      if (other.rule != rule && other.detail.find(rule) == std::string::npos) {
        EXPECT_EQ(other.verdict, Verdict::Pass) << other.id << ": " << other.detail;
      }
    }
  }
}

TEST(CheckServer, AnUnreachableServerEndsTheRunAtOnce) {
  CheckRun run;
  std::uint16_t port = 0;
  {
    tcp::acceptor probe(run.ioc, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    port = probe.local_endpoint().port();
  }  // closed: nothing listens there now
  Endpoint target = *conformance::parse_endpoint("tcp://127.0.0.1:1").endpoint;
  target.port = port;
  const auto t0 = std::chrono::steady_clock::now();
  run.check(target);
  ASSERT_EQ(run.results.size(), 1u);
  EXPECT_EQ(run.results[0].verdict, Verdict::Unreachable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST(CheckServer, AStalledPeerTimesOutAndAGarbagePeerFailsNamingTheRule) {
  // Stalled: accepts, never answers. Garbage: answers every connection with
  // a header claiming a 4 GiB frame.
  for (const bool garbage : {false, true}) {
    CheckRun run;
    tcp::acceptor peer(run.ioc, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    std::vector<std::shared_ptr<tcp::socket>> held;
    const Bytes junk{0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x00};
    std::function<void()> accept = [&] {
      peer.async_accept([&](boost::system::error_code ec, tcp::socket s) {
        if (ec) return;
        auto sock = std::make_shared<tcp::socket>(std::move(s));
        held.push_back(sock);
        if (garbage)
          boost::asio::async_write(*sock, boost::asio::buffer(junk),
                                   [](boost::system::error_code, std::size_t) {});
        accept();
      });
    };
    accept();
    Endpoint target = *conformance::parse_endpoint("tcp://127.0.0.1:1").endpoint;
    target.port = peer.local_endpoint().port();
    const auto t0 = std::chrono::steady_clock::now();
    run.check(target, std::chrono::milliseconds(100), "PING-2");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
    ASSERT_EQ(run.results.size(), 1u);
    if (garbage) {
      EXPECT_EQ(run.results[0].verdict, Verdict::Fail);
      EXPECT_NE(run.results[0].detail.find("FRAME-9"), std::string::npos) << run.results[0].detail;
    } else {
      EXPECT_EQ(run.results[0].verdict, Verdict::Timeout);
    }
  }
}

}  // namespace
}  // namespace syncsim::test
