#include "conformance/live/live_client.hpp"

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <variant>

#include "conformance/live/live_judge.hpp"
#include "conformance/runner/scenario_client.hpp"
#include "protocol/codec.hpp"
#include "reference/client.hpp"
#include "reference/runtime.hpp"
#include "reference/ws_runtime.hpp"

namespace syncsim::conformance {

using namespace reference;

struct LiveClient::Impl {
  boost::asio::io_context& ioc;
  Options options;
  sim::Prng prng;
  LiveJudge judge_;
  std::variant<std::shared_ptr<Client<TcpRuntime>>, std::shared_ptr<Client<WsRuntime>>> client;
  boost::asio::steady_timer write_timer;
  int writes_done = 0;
  bool stopped = false;

  Impl(boost::asio::io_context& io, Options o)
      : ioc(io),
        options(std::move(o)),
        prng(options.seed),
        judge_(options.trace, options.on_finding),
        write_timer(io) {}

  void judge(const protocol::Message& m, std::uint64_t conn, protocol::Sender from) {
    if (options.on_frame) options.on_frame(m, from == protocol::Sender::Client);
    judge_.frame(m, conn, from, Seen::Both);
  }
  void closed(std::uint64_t conn) { judge_.closed(conn); }

  template <class Runtime>
  void start_with(Runtime rt) {
    const boost::asio::ip::tcp::endpoint server(boost::asio::ip::make_address(options.connect.host),
                                                options.connect.port);
    auto c = std::make_shared<Client<Runtime>>(rt, server, options.config, ClientPersistent{});
    // A tap at the client: what it wrote is what the server reads on one
    // connection, and the other way round.
    c->on_send = [this](const protocol::Message& m, std::uint64_t conn) {
      judge(m, conn, protocol::Sender::Client);
    };
    c->on_receive = [this](const protocol::Message& m, std::uint64_t conn) {
      judge(m, conn, protocol::Sender::Server);
    };
    c->on_closed = [this](std::uint64_t conn) { closed(conn); };
    client = c;
    c->start();
  }

  void write_next() {
    if (stopped || writes_done >= options.writes) return;
    write_timer.expires_after(std::chrono::milliseconds(options.write_every_ms));
    write_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopped) return;
      const int i = writes_done++;
      const std::string doc = "doc-" + std::to_string(i % std::max(1, options.docs));
      const protocol::Bytes value{static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8),
                                  0x5C};
      std::visit([&](auto& c) { c->write(options.collection, doc, value); }, client);
      write_next();
    });
  }
};

LiveClient::LiveClient(boost::asio::io_context& ioc, Options options)
    : impl_(std::make_unique<Impl>(ioc, std::move(options))) {}
LiveClient::~LiveClient() { stop(); }

void LiveClient::start() {
  const auto& to = impl_->options.connect;
  if (to.transport == Endpoint::Transport::WebSocket) {
    impl_->start_with(WsRuntime{&impl_->ioc, &impl_->prng, to.path});
  } else {
    impl_->start_with(TcpRuntime{&impl_->ioc, &impl_->prng});
  }
  impl_->write_next();
}

void LiveClient::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->write_timer.cancel();
  std::visit(
      [](auto& c) {
        if (c) c->stop();
      },
      impl_->client);
}

void LiveClient::finish() { impl_->judge_.finish(); }

void LiveClient::drive(const DriverCommand& c) {
  std::visit(
      [&](auto& client) {
        if (!client) return;
        if (c.verb != DriverVerb::Step) return;
        // The line's own value and state, not the scenario's generated ones.
        if (c.step == StepKind::Write)
          return void(client->write(c.collection, c.document, c.value));
        if (c.step == StepKind::Presence) return client->update_presence(c.channel, c.value);
        ScenarioEvent e;  // the scenario step it stands for, done as in a scenario
        e.kind = c.step;
        e.collection = c.collection;
        e.count = static_cast<int>(c.number);
        e.rate = c.number;
        std::uint64_t refused = 0;
        perform_client_step(*client, e, 0, refused);
      },
      impl_->client);
}

const SessionChecker& LiveClient::checker() const { return impl_->judge_.checker(); }
std::string LiveClient::tap_tolerance_text() const { return impl_->judge_.tap_tolerance_text(); }
const ClientCore& LiveClient::core() const {
  return std::visit([](auto& c) -> const ClientCore& { return c->core(); }, impl_->client);
}
int LiveClient::writes_done() const { return impl_->writes_done; }

}  // namespace syncsim::conformance
