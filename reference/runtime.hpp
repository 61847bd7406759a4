// What the reference implementations need from the world they run in, in
// two flavours with the same shape: SimRuntime (a simulated node: virtual
// time, simulated sockets and timers) and TcpRuntime (real loopback or
// network sockets, a real steady_timer). The server and client shells are
// templates over the runtime, so one body of code runs on both.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string>

#include "reference/server_core.hpp"
#include "sim/asio_io.hpp"

namespace syncsim::reference {

struct SimRuntime {
  using Socket = sim::SimSocket;
  using Timer = sim::SimTimer;
  using Acceptor = sim::SimAcceptor;
  using Address = sim::Address;

  sim::Host* host = nullptr;

  Socket socket() const { return Socket(*host); }
  Timer timer() const { return Timer(*host); }
  Acceptor listen(std::uint16_t port, boost::system::error_code& ec) const {
    Acceptor a(*host, port);
    ec = a.listen_error();
    return a;
  }
  Now now() const { return Now{host->steady_now() / sim::kMillisecond, host->system_now_ms()}; }
  static std::string peer_of(const Socket& s) {
    const auto a = s.remote_address();
    return a.node + ":" + std::to_string(a.port);
  }
  sim::Prng& rng(std::string_view label) const { return host->rng(label); }
  static std::uint64_t connection_id(const Socket& s) { return s.connection_id(); }
  template <class Handler>
  static void write_frame(Socket& s, boost::asio::const_buffer frame, Handler handler) {
    boost::asio::async_write(s, frame, std::move(handler));
  }
};

// Real sockets. Time here is the machine's: runs on it are not reproducible
// (that is what the simulator is for).
struct TcpRuntime {
  using Socket = boost::asio::ip::tcp::socket;
  using Timer = boost::asio::steady_timer;
  using Acceptor = boost::asio::ip::tcp::acceptor;
  using Address = boost::asio::ip::tcp::endpoint;

  boost::asio::io_context* ioc = nullptr;
  sim::Prng* prng = nullptr;  // seeded by the caller

  Socket socket() const { return Socket(*ioc); }
  Timer timer() const { return Timer(*ioc); }
  boost::asio::ip::address bind_address = boost::asio::ip::address_v4::loopback();
  // The wall clock this side reports, this far off the machine's (a live
  // scenario client's clock_offset_ms: DELTA-15 skew warnings, live).
  std::int64_t clock_offset_ms = 0;

  Acceptor listen(std::uint16_t port, boost::system::error_code& ec) const {
    Acceptor a(*ioc);
    bind_listen(a, port, ec);
    return a;
  }
  void bind_listen(Acceptor& a, std::uint16_t port, boost::system::error_code& ec) const {
    const Address at(bind_address, port);
    a.open(at.protocol(), ec);
    if (!ec) a.set_option(Acceptor::reuse_address(true), ec);
    if (!ec) a.bind(at, ec);
    if (!ec) a.listen(boost::asio::socket_base::max_listen_connections, ec);
  }
  Now now() const {
    using namespace std::chrono;
    return Now{duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count(),
               duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count() +
                   clock_offset_ms};
  }
  // Any socket with remote_endpoint/local_endpoint(ec): WsRuntime uses these too.
  template <class AnySocket>
  static std::string peer_of(const AnySocket& s) {
    boost::system::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    return ec ? "unknown:0" : ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  sim::Prng& rng(std::string_view) const { return *prng; }
  // Both ends agree on it, and two connections to one server differ: the
  // two ports, lower first (the server's port alone would name them all).
  template <class AnySocket>
  static std::uint64_t connection_id(const AnySocket& s) {
    boost::system::error_code ec;
    const auto local = s.local_endpoint(ec), remote = s.remote_endpoint(ec);
    if (ec) return 0;
    const std::uint64_t a = local.port(), b = remote.port();
    return std::min(a, b) << 16 | std::max(a, b);
  }
  template <class Handler>
  static void write_frame(Socket& s, boost::asio::const_buffer frame, Handler handler) {
    boost::asio::async_write(s, frame, std::move(handler));
  }
};

}  // namespace syncsim::reference
