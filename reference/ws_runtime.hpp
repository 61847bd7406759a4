// The WebSocket transport Origin speaks (§2.1): one sync frame per binary
// message. WsRuntime has TcpRuntime's shape, so the same Server and Client
// shells run over it. The socket hands the shells a byte stream made of
// whole frames: a binary message that is shorter than its header or than
// 5 + its length is skipped (FRAME-5), bytes after the frame are dropped
// (FRAME-4), text messages are skipped (FRAME-7); WebSocket pings are
// answered and a close ends the session (FRAME-12, done by Beast).
#pragma once

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include "reference/runtime.hpp"

namespace syncsim::reference {

class WsSocket {
 public:
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;
  using Stream = boost::beast::websocket::stream<boost::beast::tcp_stream>;
  static constexpr std::size_t kMaxMessage = 16u << 20;  // FRAME-9's largest frame

  // A client-side socket; `path` is the request target of the handshake.
  WsSocket(boost::asio::io_context& ioc, std::string path)
      : s_(std::make_shared<State>(tcp::socket(ioc))) {
    s_->path = std::move(path);
  }
  // A server-side socket over an accepted connection (handshake not yet read).
  explicit WsSocket(tcp::socket accepted) : s_(std::make_shared<State>(std::move(accepted))) {}

  template <class Handler>
  void async_connect(const tcp::endpoint& at, Handler handler) {
    auto s = s_;
    s->ws.next_layer().socket().async_connect(
        at, [s, at, handler = std::move(handler)](error_code ec) mutable {
          if (ec) return handler(ec);
          s->ws.binary(true);
          s->ws.async_handshake(at.address().to_string() + ":" + std::to_string(at.port()), s->path,
                                std::move(handler));
        });
  }
  template <class Handler>
  void async_accept_handshake(Handler handler) {
    s_->ws.binary(true);
    s_->ws.async_accept(std::move(handler));
  }

  // Bytes of the next whole frame (or what is left of it).
  template <class Handler>
  void async_read_some(boost::asio::mutable_buffer into, Handler handler) {
    auto s = s_;
    if (s->pos < s->frame.size()) {
      const std::size_t n = s->take(into);
      return boost::asio::post(s->ws.get_executor(),
                               [handler = std::move(handler), n]() mutable { handler({}, n); });
    }
    s->message.clear();
    s->ws.async_read(s->message,
                     [s, into, handler = std::move(handler)](error_code ec, std::size_t) mutable {
                       if (ec) return handler(ec, 0);
                       if (!s->accept_message()) {  // skipped: read the next one
                         WsSocket again(s);
                         return again.async_read_some(into, std::move(handler));
                       }
                       handler({}, s->take(into));
                     });
  }

  // One frame, one binary message.
  template <class Handler>
  void async_write_frame(boost::asio::const_buffer frame, Handler handler) {
    s_->ws.async_write(frame, std::move(handler));
  }

  void close(error_code& ec) {
    auto& sock = s_->ws.next_layer().socket();
    if (!sock.is_open()) return;
    sock.shutdown(tcp::socket::shutdown_both, ec);
    sock.close(ec);
  }
  tcp::endpoint remote_endpoint(error_code& ec) const {
    return s_->ws.next_layer().socket().remote_endpoint(ec);
  }
  tcp::endpoint local_endpoint(error_code& ec) const {
    return s_->ws.next_layer().socket().local_endpoint(ec);
  }
  std::uint64_t skipped() const { return s_->skipped; }

 private:
  struct State {
    explicit State(tcp::socket s) : ws(std::move(s)) { ws.read_message_max(kMaxMessage); }
    Stream ws;
    std::string path = "/";
    boost::beast::flat_buffer message;
    std::string frame;  // the current message's frame, handed out in pieces
    std::size_t pos = 0;
    std::uint64_t skipped = 0;

    // FRAME-4/5/7: keeps the message's one frame, or says to skip it.
    bool accept_message() {
      frame.clear();
      pos = 0;
      const auto data = message.cdata();
      const auto* p = static_cast<const unsigned char*>(data.data());
      const std::size_t n = data.size();
      if (!ws.got_binary() || n < 5) return ++skipped, false;
      const std::size_t len = std::size_t{p[1]} | std::size_t{p[2]} << 8 | std::size_t{p[3]} << 16 |
                              std::size_t{p[4]} << 24;
      if (n < 5 + len) return ++skipped, false;
      frame.assign(reinterpret_cast<const char*>(p), 5 + len);
      return true;
    }
    std::size_t take(boost::asio::mutable_buffer into) {
      const std::size_t n = std::min(into.size(), frame.size() - pos);
      std::memcpy(into.data(), frame.data() + pos, n);
      pos += n;
      return n;
    }
  };
  explicit WsSocket(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

// Accepts TCP connections and completes the WebSocket handshake on each;
// a connection that does not upgrade is closed and never reported.
class WsAcceptor {
 public:
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;

  explicit WsAcceptor(boost::asio::io_context& ioc) : a_(std::make_shared<tcp::acceptor>(ioc)) {}
  tcp::acceptor& tcp_acceptor() { return *a_; }
  tcp::endpoint local_endpoint() const { return a_->local_endpoint(); }
  void close() {
    error_code ignored;
    a_->close(ignored);
  }

  template <class Handler>
  void async_accept(Handler handler) {
    auto a = a_;
    a->async_accept([a, handler = std::move(handler)](error_code ec, tcp::socket s) mutable {
      if (ec) return handler(ec, WsSocket(std::move(s)));
      auto ws = std::make_shared<WsSocket>(std::move(s));
      ws->async_accept_handshake([a, ws, handler = std::move(handler)](error_code hec) mutable {
        if (hec) {  // not a WebSocket client: drop it, keep accepting
          error_code ignored;
          ws->close(ignored);
          return WsAcceptor::again(a, std::move(handler));
        }
        handler({}, std::move(*ws));
      });
    });
  }

 private:
  template <class Handler>
  static void again(std::shared_ptr<tcp::acceptor> a, Handler handler) {
    WsAcceptor acceptor(std::move(a));
    acceptor.async_accept(std::move(handler));
  }
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
  Acceptor listen(std::uint16_t port, boost::system::error_code& ec) const {
    Acceptor a(*ioc);
    TcpRuntime{ioc, prng, bind_address}.bind_listen(a.tcp_acceptor(), port, ec);
    return a;
  }
  Now now() const { return TcpRuntime{ioc, prng}.now(); }
  static std::string peer_of(const Socket& s) {
    boost::system::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    return ec ? "unknown:0" : ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  sim::Prng& rng(std::string_view) const { return *prng; }
  static std::uint64_t connection_id(const Socket& s) {
    boost::system::error_code ec;
    const auto local = s.local_endpoint(ec), remote = s.remote_endpoint(ec);
    return ec ? 0 : std::min(local.port(), remote.port());
  }
  template <class Handler>
  static void write_frame(Socket& s, boost::asio::const_buffer frame, Handler handler) {
    s.async_write_frame(frame, std::move(handler));
  }
};

}  // namespace syncsim::reference
