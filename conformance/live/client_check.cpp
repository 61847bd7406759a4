#include "conformance/live/client_check.hpp"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <optional>

#include "conformance/live/child_process.hpp"
#include "conformance/live/client_case.hpp"
#include "conformance/live/frame_conn.hpp"
#include "reference/jwt.hpp"
#include "reference/ws_runtime.hpp"

extern char** environ;

namespace syncsim::conformance {

using namespace protocol;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

using client_case::Case;
using client_case::Script;

// The client process of one case (`--exec`).
using ClientProcess = ChildProcess;

// Every case, grouped by family (client_cases_*.cpp).
std::vector<Case> make_cases() {
  std::vector<Case> out;
  for (auto group : {client_case::session_cases, client_case::flow_cases, client_case::write_cases,
                     client_case::token_cases}) {
    for (auto& c : group()) out.push_back(std::move(c));
  }
  return out;
}

// One case over one accepted connection of either transport.
template <class Acceptor, class Socket>
void run_case(boost::asio::io_context& ioc, Acceptor& acceptor, const ClientCheckOptions& o,
              const Case& c, ClientProcess* process, CaseResult& r, ClientCheckRun& run) {
  Script script(ioc, o, r, c.policy);
  std::optional<Socket> accepted;
  bool accept_done = false;
  acceptor.async_accept([&](error_code ec, Socket s) {
    accept_done = true;
    if (!ec) accepted.emplace(std::move(s));
  });
  std::optional<int> exit_status;
  script.wait(
      [&] {
        if (process && !exit_status) exit_status = process->exited();
        return accept_done || exit_status.has_value();
      },
      o.connect_budget_ms);
  if (!accepted) {
    acceptor.close();  // the pending accept completes (aborted) before we leave
    script.wait([&] { return accept_done; }, 1000);
    r.verdict = Verdict::Unreachable;
    r.detail =
        exit_status
            ? "the client exited with status " + std::to_string(*exit_status) + " before connecting"
            : "no client connected to " + o.listen.text() + " within " +
                  std::to_string(o.suite.scaled(o.connect_budget_ms).count()) + " ms";
    return;
  }
  auto conn = std::make_shared<FrameConn<Socket>>(std::move(*accepted));
  if constexpr (std::is_same_v<Socket, reference::WsSocket>) {
    script.ws = true;
    conn->socket().observe([&script](reference::WsSocket::Kind k, std::span<const std::uint8_t> b) {
      script.on_ws(static_cast<WsKind>(k), b);
    });
  }
  conn->on_frame = [&script](const Bytes& f) { script.on_frame(f); };
  conn->on_close = [&script](const std::string& why) { script.on_close(why); };
  script.write = [conn](Bytes f) { conn->send(std::move(f)); };
  conn->start();
  client_case::run_steps(script, c);
  conn->close();
  script.wait([] { return false; }, 5);  // let the aborted handlers run
  if (ioc.stopped()) ioc.restart();
  ioc.poll();
  script.finish();
  run.max_tap_tolerance_ns = std::max(run.max_tap_tolerance_ns, script.tap_tolerance_ns());
  run.max_round_trip_ns = std::max(run.max_round_trip_ns, script.max_round_trip_ns());
}

// tcp::acceptor with WsAcceptor's accept signature.
struct TcpAcceptAdapter {
  tcp::acceptor& a;
  void async_accept(std::function<void(error_code, tcp::socket)> h) {
    a.async_accept(std::move(h));
  }
  void close() {
    error_code ignored;
    a.close(ignored);
  }
};

std::string mint_token(const ClientCheckOptions& o, std::int64_t lifetime_ms) {
  reference::JwtClaims claims;
  claims.sub = "syncsim-check-client";
  claims.tenant_id = o.tenant;
  claims.user_id = 1;
  claims.exp = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() +
               (lifetime_ms + 999) / 1000;
  return reference::mint_hs256(claims, o.jwt_secret);
}

// Listens for one case: a fresh acceptor each time, so a connection left
// over from the previous case's client is never taken for this one's.
template <class Acceptor, class Socket>
bool case_on(boost::asio::io_context& ioc, const ClientCheckOptions& o, std::uint16_t& port,
             const Case& c, CaseResult& r, ClientCheckRun& run) {
  std::string& error = run.error;
  Acceptor acceptor(ioc);
  error_code ec;
  auto& raw = [&]() -> tcp::acceptor& {
    if constexpr (std::is_same_v<Acceptor, reference::WsAcceptor>) {
      return acceptor.tcp_acceptor();
    } else {
      return acceptor;
    }
  }();
  const tcp::endpoint at(boost::asio::ip::make_address(o.listen.host, ec), port);
  if (!ec) raw.open(at.protocol(), ec);
  if (!ec) raw.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) raw.bind(at, ec);
  if (!ec) raw.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen on " + o.listen.text() + ": " + ec.message();
    return false;
  }
  port = raw.local_endpoint().port();  // port 0: keep the one picked for every case
  Endpoint shown = o.listen;
  shown.port = port;
  std::optional<ClientProcess> process;
  if (!o.exec.empty()) {
    process.emplace(
        o.exec,
        std::vector<std::string>{
            "SYNCSIM_TARGET=" + shown.text(), "SYNCSIM_CASE=" + c.info.id,
            "SYNCSIM_TOKEN=" + mint_token(o, o.suite.scaled(c.token_lifetime_ms).count()),
            "SYNCSIM_JWT_SECRET=" + o.jwt_secret},
        o.show_client_output);
    if (!process->started()) {
      error = "cannot start the client: /bin/sh -c \"" + o.exec + "\"";
      return false;
    }
  } else if (o.progress) {
    o.progress("case " + c.info.id + ": waiting for the client on " + shown.text());
  }

  if constexpr (std::is_same_v<Acceptor, reference::WsAcceptor>) {
    run_case<reference::WsAcceptor, Socket>(ioc, acceptor, o, c, process ? &*process : nullptr, r,
                                            run);
  } else {
    TcpAcceptAdapter adapter{acceptor};
    run_case<TcpAcceptAdapter, Socket>(ioc, adapter, o, c, process ? &*process : nullptr, r, run);
  }
  if (process) {
    process->stop();
    if (counts_as_failure(r.verdict) || r.verdict == Verdict::Unreachable) {
      for (const auto& line : process->tail(8)) r.frames.push_back("client| " + line);
    }
  }
  return true;
}

}  // namespace

const std::vector<CaseInfo>& client_cases() {
  static const std::vector<CaseInfo> kInfos = [] {
    std::vector<CaseInfo> out;
    for (const auto& c : make_cases()) out.push_back(c.info);
    return out;
  }();
  return kInfos;
}

ClientCheckRun check_client(boost::asio::io_context& ioc, const ClientCheckOptions& options) {
  ClientCheckRun run;
  std::uint16_t port = options.listen.port;
  for (const Case& c : make_cases()) {
    if (!options.suite.selected(c.info)) continue;
    CaseResult r = start_result(c.info, options.suite);
    if (r.verdict == Verdict::Unsupported) {
      run.results.push_back(std::move(r));
      continue;
    }
    const auto started = Clock::now();
    const bool ran =
        options.listen.transport == Endpoint::Transport::WebSocket
            ? case_on<reference::WsAcceptor, reference::WsSocket>(ioc, options, port, c, r, run)
            : case_on<tcp::acceptor, tcp::socket>(ioc, options, port, c, r, run);
    if (!ran) return run;
    run.port = port;
    r.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    const bool unreachable = r.verdict == Verdict::Unreachable;
    if (!unreachable) apply_baseline(r, options.suite);
    run.results.push_back(std::move(r));
    if (unreachable) break;  // the rest would wait for the same absent client
  }
  return run;
}

}  // namespace syncsim::conformance
