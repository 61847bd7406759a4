// The WebSocket transport Origin speaks (§2.1): one sync frame per binary
// message. WsRuntime has TcpRuntime's shape, so the same Server and Client
// shells run over it. The socket hands the shells a byte stream made of
// whole frames: a binary message that is shorter than its header or than
// 5 + its length is skipped (FRAME-5), bytes after the frame are dropped
// (FRAME-4), text messages are skipped (FRAME-7), a header or a message
// over FRAME-9's limit ends the connection (a read error); WebSocket pings
// are answered and a close ends the session (FRAME-12, done by Beast).
#pragma once

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "protocol/frame_header.hpp"
#include "reference/runtime.hpp"

namespace syncsim::reference {

// Beast's WebSocket stream is instantiated once, in ws_runtime.cpp (it is
// the costliest template in the build); callers see plain callbacks.
class WsSocket {
 public:
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;
  using DoneHandler = std::function<void(error_code)>;
  using IoHandler = std::function<void(error_code, std::size_t)>;
  static constexpr std::size_t kMaxMessage = protocol::kMaxFrameSize;  // FRAME-9

  // A client-side socket; `path` is the request target of the handshake.
  WsSocket(boost::asio::io_context& ioc, std::string path);
  // A server-side socket over an accepted connection (handshake not yet read).
  explicit WsSocket(tcp::socket accepted);
  WsSocket(WsSocket&&) noexcept;
  WsSocket& operator=(WsSocket&&) noexcept;
  ~WsSocket();

  void async_connect(const tcp::endpoint& at, DoneHandler handler);  // TCP, then the upgrade
  void async_accept_handshake(DoneHandler handler);
  // Bytes of the next whole frame (or what is left of it).
  void async_read_some(boost::asio::mutable_buffer into, IoHandler handler);
  // One frame, one binary message.
  void async_write_frame(boost::asio::const_buffer frame, IoHandler handler);
  // Any message, binary or text (tests send malformed ones with it).
  void async_write_message(boost::asio::const_buffer bytes, bool text, IoHandler handler);

  void close(error_code& ec);
  tcp::endpoint remote_endpoint(error_code& ec) const;
  tcp::endpoint local_endpoint(error_code& ec) const;
  std::uint64_t skipped() const;  // messages skipped under FRAME-5/7

  // What a recorder sees (FRAME-4..7, FRAME-12): every message read, whole,
  // before it is taken apart or skipped, and every control frame received.
  enum class Kind : unsigned char { Binary, Text, Ping, Pong, Close };
  using Observer = std::function<void(Kind, std::span<const std::uint8_t>)>;
  void observe(Observer o);

 private:
  struct State;
  explicit WsSocket(std::shared_ptr<State> s);
  std::shared_ptr<State> s_;
};

// Accepts TCP connections and completes the WebSocket handshake on each;
// a connection that does not upgrade is closed and never reported.
class WsAcceptor {
 public:
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;
  using AcceptHandler = std::function<void(error_code, WsSocket)>;

  explicit WsAcceptor(boost::asio::io_context& ioc) : a_(std::make_shared<tcp::acceptor>(ioc)) {}
  tcp::acceptor& tcp_acceptor() { return *a_; }
  tcp::endpoint local_endpoint() const { return a_->local_endpoint(); }
  void close() {
    error_code ignored;
    a_->close(ignored);
  }
  void async_accept(AcceptHandler handler);
  // Called with each upgraded socket before it is handed out (a recorder observes it).
  std::function<void(WsSocket&)> on_accept;

 private:
  explicit WsAcceptor(std::shared_ptr<tcp::acceptor> a) : a_(std::move(a)) {}
  std::shared_ptr<tcp::acceptor> a_;
};

// Real sockets carrying frames over WebSocket. Time is the machine's.
struct WsRuntime {
  using Socket = WsSocket;
  using Timer = boost::asio::steady_timer;
  using Acceptor = WsAcceptor;
  using Address = boost::asio::ip::tcp::endpoint;

  boost::asio::io_context* ioc = nullptr;
  sim::Prng* prng = nullptr;
  std::string path = "/";  // the client's request target; the server accepts any (FRAME-14)
  boost::asio::ip::address bind_address = boost::asio::ip::address_v4::loopback();

  Socket socket() const { return Socket(*ioc, path); }
  Timer timer() const { return Timer(*ioc); }
  std::function<void(WsSocket&)> on_accept;  // see WsAcceptor::on_accept
  Acceptor listen(std::uint16_t port, boost::system::error_code& ec) const {
    Acceptor a(*ioc);
    a.on_accept = on_accept;
    TcpRuntime{ioc, prng, bind_address}.bind_listen(a.tcp_acceptor(), port, ec);
    return a;
  }
  Now now() const { return TcpRuntime{ioc, prng}.now(); }
  static std::string peer_of(const Socket& s) { return TcpRuntime::peer_of(s); }
  sim::Prng& rng(std::string_view) const { return *prng; }
  static std::uint64_t connection_id(const Socket& s) { return TcpRuntime::connection_id(s); }
  template <class Handler>
  static void write_frame(Socket& s, boost::asio::const_buffer frame, Handler handler) {
    s.async_write_frame(frame, WsSocket::IoHandler(std::move(handler)));
  }
};

}  // namespace syncsim::reference
