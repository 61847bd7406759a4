#include "conformance/live/live_server.hpp"

#include <chrono>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <sstream>
#include <type_traits>
#include <variant>

#include "conformance/live/live_judge.hpp"
#include "protocol/codec.hpp"
#include "protocol/json.hpp"
#include "reference/runtime.hpp"
#include "reference/server.hpp"
#include "reference/ws_runtime.hpp"

namespace syncsim::conformance {

using namespace reference;

struct LiveServer::Impl {
  boost::asio::io_context& ioc;
  Options options;
  sim::Prng prng;
  LiveJudge judge_;
  std::set<std::uint64_t> seen_connections;
  std::set<std::uint64_t> ws_conns;  // WebSocket connections: messages recorded whole
  std::variant<std::shared_ptr<Server<TcpRuntime>>, std::shared_ptr<Server<WsRuntime>>> server;
  std::uint16_t bound_port = 0;

  Impl(boost::asio::io_context& io, Options o)
      : ioc(io),
        options(std::move(o)),
        prng(options.seed),
        judge_(options.trace, options.on_finding) {}

  void judge(const protocol::Message& m, std::uint64_t conn, protocol::Sender from) {
    seen_connections.insert(conn);
    judge_.frame(m, conn, from, Seen::Both);
  }
  void closed(std::uint64_t conn) { judge_.closed(conn); }

  // Over WebSocket the client's messages are judged whole (D85); their frames
  // from them, not as the server decodes them. Control frames are Beast's
  // (FRAME-12 binds the server: us).
  void observe(WsSocket& socket) {
    const std::uint64_t conn = WsRuntime::connection_id(socket);
    ws_conns.insert(conn);
    socket.observe([this, conn](WsSocket::Kind k, std::span<const std::uint8_t> b) {
      if (k != WsSocket::Kind::Binary && k != WsSocket::Kind::Text) return;
      seen_connections.insert(conn);
      judge_.ws(static_cast<WsKind>(k), b, conn, protocol::Sender::Client, Seen::Both);
    });
  }

  template <class Runtime>
  bool start_with(Runtime rt, boost::system::error_code& ec) {
    if constexpr (std::is_same_v<Runtime, WsRuntime>) {
      rt.on_accept = [this](WsSocket& socket) { observe(socket); };
    }
    auto s = std::make_shared<Server<Runtime>>(rt, options.config);
    // A tap at the server: over one TCP or WebSocket connection what the
    // client wrote is what the server reads, so each frame counts as both
    // written and read (D27); the client's own rules are judged on it too.
    s->on_send = [this](const protocol::Message& m, std::uint64_t conn) {
      judge(m, conn, protocol::Sender::Server);
    };
    s->on_receive = [this](const protocol::Message& m, std::uint64_t conn) {
      if (!ws_conns.count(conn)) judge(m, conn, protocol::Sender::Client);
    };
    s->on_closed = [this](std::uint64_t conn) {
      ws_conns.erase(conn);
      closed(conn);
    };
    if (!s->start(options.listen.port, ec)) return false;
    bound_port = s->acceptor().local_endpoint().port();
    server = s;
    return true;
  }
};

LiveServer::LiveServer(boost::asio::io_context& ioc, Options options)
    : impl_(std::make_unique<Impl>(ioc, std::move(options))) {}
LiveServer::~LiveServer() { stop(); }

bool LiveServer::start(boost::system::error_code& ec) {
  const auto address = boost::asio::ip::make_address(impl_->options.listen.host, ec);
  if (ec) return false;
  if (impl_->options.listen.transport == Endpoint::Transport::WebSocket) {
    WsRuntime rt{&impl_->ioc, &impl_->prng, impl_->options.listen.path, address};
    return impl_->start_with(rt, ec);
  }
  TcpRuntime rt{&impl_->ioc, &impl_->prng, address};
  return impl_->start_with(rt, ec);
}

std::uint16_t LiveServer::port() const { return impl_->bound_port; }

void LiveServer::stop() {
  std::visit(
      [](auto& s) {
        if (s) s->stop();
      },
      impl_->server);
}

void LiveServer::finish() { impl_->judge_.finish(); }

std::string LiveServer::admin(const std::string& line) {
  std::istringstream in(line);
  std::string cmd, coll;
  std::uint32_t tenant = 0;
  if (!(in >> cmd >> tenant >> coll)) return "error usage: purge|write|define <tenant> ...";
  auto& i = *impl_;
  if (cmd == "purge") {
    std::visit([&](auto& sv) { sv->purge_collection(tenant, coll); }, i.server);
    i.judge_.purged(tenant, coll);
    return "ok";
  }
  std::string a, b;
  if (cmd == "write" && in >> a >> b) {
    const auto value = b == "-" ? std::optional<protocol::Bytes>(protocol::Bytes{})
                                : protocol::from_hex(b);  // "-": delete
    if (!value) return "error the value is not hex";
    std::visit([&](auto& sv) { sv->inject_write(tenant, coll, a, *value); }, i.server);
    return "ok";
  }
  if (cmd == "define" && in >> a >> b) {  // coll is the definition type here
    std::string json;
    std::getline(in, json);
    json.erase(0, json.find_first_not_of(' '));
    if (b != "put" && b != "delete") return "error the action is put or delete";
    protocol::DefinitionSync d{
        coll, a, b, b == "put" ? protocol::Bytes(json.begin(), json.end()) : protocol::Bytes{}};
    std::visit([&](auto& sv) { sv->put_definition(tenant, d); }, i.server);
    return "ok";
  }
  return "error unknown command (purge, write, define)";
}

std::map<std::string, protocol::Bytes> LiveServer::documents(std::uint32_t tenant,
                                                             const std::string& collection) const {
  return std::visit(
      [&](const auto& sv) {
        std::map<std::string, protocol::Bytes> out;
        if (!sv) return out;
        const auto& store = sv->core().collections();
        const auto it = store.find({tenant, collection});
        if (it != store.end()) out = it->second.documents;
        return out;
      },
      impl_->server);
}

const SessionChecker& LiveServer::checker() const { return impl_->judge_.checker(); }
std::string LiveServer::tap_tolerance_text() const { return impl_->judge_.tap_tolerance_text(); }
std::uint64_t LiveServer::connections() const { return impl_->seen_connections.size(); }

}  // namespace syncsim::conformance
