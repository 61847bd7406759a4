// The one place Beast's WebSocket stream is instantiated (see the header).
#include "reference/ws_runtime.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstring>

#include "protocol/frame_header.hpp"

namespace syncsim::reference {

struct WsSocket::State {
  using Stream = boost::beast::websocket::stream<boost::beast::tcp_stream>;
  explicit State(tcp::socket s) : ws(std::move(s)) { ws.read_message_max(kMaxMessage); }
  Stream ws;
  std::string path = "/";
  boost::beast::flat_buffer message;
  std::string frame;  // the current message's frame, handed out in pieces
  std::size_t pos = 0;
  std::uint64_t skipped = 0;
  WsSocket::Observer observer;
  void observed_message() {
    if (!observer) return;
    const auto data = message.cdata();
    observer(ws.got_binary() ? Kind::Binary : Kind::Text,
             {static_cast<const std::uint8_t*>(data.data()), data.size()});
  }

  enum class Taken { Frame, Skipped, TooLarge };
  // FRAME-4/5/7/9: keeps the message's one frame, or says to skip it, or
  // that its header declares more than a frame may hold.
  Taken accept_message() {
    frame.clear();
    pos = 0;
    if (!ws.got_binary()) return ++skipped, Taken::Skipped;
    const auto data = message.cdata();
    const auto m =
        protocol::frame_of_message({static_cast<const std::uint8_t*>(data.data()), data.size()});
    if (m.kind == protocol::MessageFrame::Kind::TooLarge) return Taken::TooLarge;
    if (m.kind == protocol::MessageFrame::Kind::Short) return ++skipped, Taken::Skipped;
    frame.assign(reinterpret_cast<const char*>(m.frame.data()), m.frame.size());
    return Taken::Frame;
  }
  std::size_t take(boost::asio::mutable_buffer into) {
    const std::size_t n = std::min(into.size(), frame.size() - pos);
    std::memcpy(into.data(), frame.data() + pos, n);
    pos += n;
    return n;
  }
};

WsSocket::WsSocket(boost::asio::io_context& ioc, std::string path)
    : s_(std::make_shared<State>(tcp::socket(ioc))) {
  s_->path = std::move(path);
}
WsSocket::WsSocket(tcp::socket accepted) : s_(std::make_shared<State>(std::move(accepted))) {}
WsSocket::WsSocket(std::shared_ptr<State> s) : s_(std::move(s)) {}
WsSocket::WsSocket(WsSocket&&) noexcept = default;
WsSocket& WsSocket::operator=(WsSocket&&) noexcept = default;
WsSocket::~WsSocket() = default;

void WsSocket::async_connect(const tcp::endpoint& at, DoneHandler handler) {
  auto s = s_;
  s->ws.next_layer().socket().async_connect(
      at, [s, at, handler = std::move(handler)](error_code ec) mutable {
        if (ec) return handler(ec);
        s->ws.binary(true);
        s->ws.async_handshake(at.address().to_string() + ":" + std::to_string(at.port()), s->path,
                              std::move(handler));
      });
}

void WsSocket::async_accept_handshake(DoneHandler handler) {
  s_->ws.binary(true);
  s_->ws.async_accept(std::move(handler));
}

void WsSocket::async_read_some(boost::asio::mutable_buffer into, IoHandler handler) {
  auto s = s_;
  if (s->pos < s->frame.size()) {
    const std::size_t n = s->take(into);
    return boost::asio::post(s->ws.get_executor(),
                             [handler = std::move(handler), n]() mutable { handler({}, n); });
  }
  s->message.clear();
  s->ws.async_read(s->message,
                   [s, into, handler = std::move(handler)](error_code ec, std::size_t) mutable {
                     // A close handshake reads as the end of a byte stream would.
                     if (ec == boost::beast::websocket::error::closed) ec = boost::asio::error::eof;
                     if (ec) return handler(ec, 0);
                     s->observed_message();
                     switch (s->accept_message()) {
                       case State::Taken::Frame: return handler({}, s->take(into));
                       case State::Taken::TooLarge:  // FRAME-9: the connection ends
                         return handler(boost::beast::websocket::error::message_too_big, 0);
                       case State::Taken::Skipped: break;
                     }
                     WsSocket again(s);  // skipped: read the next one
                     again.async_read_some(into, std::move(handler));
                   });
}

void WsSocket::async_write_frame(boost::asio::const_buffer frame, IoHandler handler) {
  async_write_message(frame, false, std::move(handler));
}

void WsSocket::async_write_message(boost::asio::const_buffer bytes, bool text, IoHandler handler) {
  s_->ws.text(text);
  s_->ws.async_write(bytes, std::move(handler));
}

void WsSocket::close(error_code& ec) {
  auto& sock = s_->ws.next_layer().socket();
  if (!sock.is_open()) return;
  sock.shutdown(tcp::socket::shutdown_both, ec);
  sock.close(ec);
}
WsSocket::tcp::endpoint WsSocket::remote_endpoint(error_code& ec) const {
  return s_->ws.next_layer().socket().remote_endpoint(ec);
}
WsSocket::tcp::endpoint WsSocket::local_endpoint(error_code& ec) const {
  return s_->ws.next_layer().socket().local_endpoint(ec);
}
std::uint64_t WsSocket::skipped() const { return s_->skipped; }

void WsSocket::observe(Observer o) {
  s_->observer = std::move(o);
  State* st = s_.get();  // the callback lives in the state's stream
  s_->ws.control_callback(
      [st](boost::beast::websocket::frame_type kind, boost::beast::string_view payload) {
        if (!st->observer) return;
        using boost::beast::websocket::frame_type;
        const Kind k = kind == frame_type::ping   ? Kind::Ping
                       : kind == frame_type::pong ? Kind::Pong
                                                  : Kind::Close;
        st->observer(k, {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()});
      });
}

void WsAcceptor::async_accept(AcceptHandler handler) {
  auto a = a_;
  a->async_accept([a, hook = on_accept, handler = std::move(handler)](error_code ec,
                                                                      tcp::socket s) mutable {
    if (ec) return handler(ec, WsSocket(std::move(s)));
    auto ws = std::make_shared<WsSocket>(std::move(s));
    ws->async_accept_handshake([a, ws, hook, handler = std::move(handler)](error_code hec) mutable {
      if (hec) {  // not a WebSocket client: drop it, keep accepting
        error_code ignored;
        ws->close(ignored);
        WsAcceptor again(a);
        again.on_accept = hook;
        return again.async_accept(std::move(handler));
      }
      if (hook) hook(*ws);
      handler({}, std::move(*ws));
    });
  });
}

}  // namespace syncsim::reference
