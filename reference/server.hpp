// The reference server's Asio shell: accepts connections, turns bytes into
// frames (protocol::FrameStream), hands decodable frames to ServerCore and
// writes what the core emits. Generic over the runtime (runtime.hpp), so the
// same code serves simulated and real TCP connections.
//
// Bad input: an unknown code is skipped (FRAME-3), an undecodable body is
// ignored (FRAME-10), a declared length over 16 MiB closes the connection
// unread (FRAME-9). Per connection at most kMaxOutboundBytes wait to be
// written; a peer that does not read beyond that is disconnected.
#pragma once

#include <array>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <span>

#include "protocol/codec.hpp"
#include "protocol/frame_stream.hpp"
#include "reference/server_core.hpp"
#include "reference/wake_timer.hpp"

namespace syncsim::reference {

template <class Runtime>
class Server : public std::enable_shared_from_this<Server<Runtime>> {
 public:
  static constexpr std::size_t kMaxOutboundBytes = 64u << 20;
  // What a queued frame costs beyond its bytes (its vector and deque slot),
  // charged against kMaxOutboundBytes so a peer that never reads cannot pile
  // up millions of small frames at several times their size (D72).
  static constexpr std::size_t kQueuedFrameOverhead = 64;
  // Backpressure: a connection is not read while this much waits to be
  // written to it (its own answers pile up no further), and is read again
  // once half has gone. A peer that floods but reads is slowed, not cut (D72).
  static constexpr std::size_t kReadPauseBytes = 1u << 20;
  // A session the core closed while a write to it is still pending gets this
  // long for the write to finish; a peer that does not read is cut then (D72).
  static constexpr auto kCloseLinger = std::chrono::seconds(5);

  static constexpr auto kAcceptRetry = std::chrono::milliseconds(100);  // D70

  Server(Runtime rt, ServerConfig config)
      : rt_(rt),
        core_(std::move(config)),
        acceptor_(std::nullopt),
        wake_(rt_),
        accept_retry_(rt.timer()) {
    core_.set_note_sink([this](std::uint64_t handle, StateNote n) {
      if (!on_note) return;
      const auto it = conns_.find(handle);
      on_note(it == conns_.end() ? 0 : it->second->conn_id, std::move(n));
    });
  }

  // Listens and starts accepting. False (with ec) if the port is unavailable.
  bool start(std::uint16_t port, boost::system::error_code& ec) {
    acceptor_.emplace(rt_.listen(port, ec));
    if (ec) return false;
    accept();
    arm_timer();
    return true;
  }

  ServerCore& core() { return core_; }
  // See every frame the server writes, and every connection that ends, with
  // the connection id both ends share (tests, traces, the checker).
  std::function<void(const protocol::Message&, std::uint64_t conn)> on_send;
  // Like on_send, with the frame exactly as written (header included), so a
  // recorder need not encode it again.
  std::function<void(const protocol::Message&, const protocol::Bytes& frame, std::uint64_t conn)>
      on_send_frame;
  // Every decodable frame read, before the core handles it (traces, checks).
  std::function<void(const protocol::Message&, std::uint64_t conn)> on_receive;
  // Like on_receive, with the frame exactly as read (header included), so a
  // recorder need not encode it again; valid during the call only.
  std::function<void(const protocol::Message&, std::span<const std::uint8_t> frame,
                     std::uint64_t conn)>
      on_receive_frame;
  std::function<void(std::uint64_t conn)> on_closed;
  // Notes on the core's state the wire cannot show (D84), with the connection
  // they concern (0: none).
  std::function<void(std::uint64_t conn, StateNote)> on_note;
  std::size_t connections() const { return conns_.size(); }
  typename Runtime::Acceptor& acceptor() { return *acceptor_; }

  // Admin actions: run on the core, then write what they produced.
  void purge_collection(std::uint32_t tenant, const std::string& collection) {
    core_.purge_collection(tenant, collection, rt_.now());
    flush();
  }
  void inject_write(std::uint32_t tenant, const std::string& collection, const std::string& doc,
                    std::optional<protocol::Bytes> value) {
    core_.inject_write(tenant, collection, doc, std::move(value), rt_.now());
    flush();
  }
  void put_definition(std::uint32_t tenant, const protocol::DefinitionSync& d) {
    core_.put_definition(tenant, d, rt_.now());
    flush();
  }

  void stop() {
    stopped_ = true;
    accept_retry_.cancel();
    if (acceptor_) acceptor_->close();
    wake_.cancel();
    for (auto& [h, c] : conns_) close_socket(*c);
    conns_.clear();
  }

 private:
  struct Conn {
    Conn(typename Runtime::Socket s, typename Runtime::Timer t)
        : socket(std::move(s)), linger(std::move(t)) {}
    typename Runtime::Socket socket;
    typename Runtime::Timer linger;  // kCloseLinger
    protocol::FrameStream decoder;
    std::array<std::uint8_t, 16384> buf{};
    std::deque<protocol::Bytes> out;
    std::size_t out_bytes = 0;
    bool writing = false;
    bool closing = false;
    bool read_paused = false;
    SessionHandle handle = 0;
    std::uint64_t conn_id = 0;
  };

  void accept() {
    acceptor_->async_accept([self = this->shared_from_this()](boost::system::error_code ec,
                                                              typename Runtime::Socket s) {
      if (ec) return self->accept_failed(ec);
      auto handle = self->core_.open_session(Runtime::peer_of(s), self->rt_.now());
      if (handle) {
        auto c = std::make_shared<Conn>(std::move(s), self->rt_.timer());
        c->handle = *handle;
        c->conn_id = Runtime::connection_id(c->socket);
        self->conns_[*handle] = c;
        self->read(c);
        self->arm_timer();  // the new session's idle deadline
      } else {
        boost::system::error_code ignored;
        s.close(ignored);  // SESSION-2: closed at once, no frame
      }
      self->accept();
    });
  }

  // A closed acceptor ends the loop. Any other error (out of descriptors, a
  // connection aborted before it was accepted) is retried after a pause, so
  // one failed accept never leaves the server deaf (D70).
  void accept_failed(boost::system::error_code ec) {
    if (stopped_ || ec == boost::asio::error::operation_aborted) return;
    accept_retry_.expires_after(kAcceptRetry);
    accept_retry_.async_wait([self = this->shared_from_this()](boost::system::error_code e) {
      if (e != boost::asio::error::operation_aborted && !self->stopped_) self->accept();
    });
  }

  void read(const std::shared_ptr<Conn>& c) {
    c->socket.async_read_some(
        boost::asio::buffer(c->buf),
        [self = this->shared_from_this(), c](boost::system::error_code ec, std::size_t n) {
          if (ec) return self->drop(c);
          if (!self->on_bytes(*c, n)) return self->drop(c);
          self->flush();
          if (c->closing) return;
          if (c->out_bytes > kReadPauseBytes) {
            c->read_paused = true;  // resumed by write() as the queue drains
          } else {
            self->read(c);
          }
        });
  }

  // False when the connection must close (FRAME-9).
  bool on_bytes(Conn& c, std::size_t n) {
    c.decoder.feed(std::span<const std::uint8_t>(c.buf.data(), n));
    for (;;) {
      protocol::StreamEvent ev = c.decoder.next();
      switch (ev.kind) {
        case protocol::StreamEvent::Kind::NeedMore: return true;
        case protocol::StreamEvent::Kind::Closed: return false;
        case protocol::StreamEvent::Kind::Error:
          if (ev.fatal) return false;
          break;  // FRAME-3: unknown code skipped
        case protocol::StreamEvent::Kind::Frame: {
          protocol::DecodedBody body = protocol::decode_body(ev.msg_type, ev.body);
          if (!body.valid()) break;  // FRAME-10: ignored
          if (on_receive) on_receive(*body.message, c.conn_id);
          if (on_receive_frame) on_receive_frame(*body.message, ev.frame, c.conn_id);
          core_.on_frame(c.handle, *body.message, rt_.now());
          flush();  // FRAME-13: one frame at a time, its answers written before the next
          if (c.closing) return true;
          break;
        }
      }
    }
  }

  void flush() {
    for (auto& o : core_.take_output()) {
      auto it = conns_.find(o.session);
      if (it == conns_.end() || it->second->closing) continue;
      Conn& c = *it->second;
      protocol::Bytes frame = protocol::encode_frame(o.message);
      if (on_send) on_send(o.message, c.conn_id);
      if (on_send_frame) on_send_frame(o.message, frame, c.conn_id);
      c.out_bytes += frame.size() + kQueuedFrameOverhead;
      c.out.push_back(std::move(frame));
      if (c.out_bytes > kMaxOutboundBytes) {
        drop(it->second);  // a peer that does not read
        continue;
      }
      write(it->second);
    }
    for (const SessionHandle h : core_.take_closes()) {
      auto it = conns_.find(h);
      if (it == conns_.end()) continue;
      auto c = it->second;
      if (c->closing) continue;  // already lingering
      c->closing = true;
      if (!c->writing) {
        drop(c);
        continue;
      }
      // The core forgets the session now, so its past deadline does not wake
      // the server again and again; the socket lingers for its pending write.
      core_.close_session(c->handle, rt_.now());
      flush();  // what the others are told of it (presence)
      c->linger.expires_after(kCloseLinger);
      c->linger.async_wait([self = this->shared_from_this(), c](boost::system::error_code ec) {
        if (ec != boost::asio::error::operation_aborted) self->drop(c);
      });
    }
    arm_timer();
  }

  void write(const std::shared_ptr<Conn>& c) {
    if (c->writing || c->out.empty()) return;
    c->writing = true;
    Runtime::write_frame(
        c->socket, boost::asio::buffer(c->out.front()),
        [self = this->shared_from_this(), c](boost::system::error_code ec, std::size_t) {
          c->writing = false;
          if (ec) return self->drop(c);
          c->out_bytes -= c->out.front().size() + kQueuedFrameOverhead;
          c->out.pop_front();
          if (c->out.empty() && c->closing) return self->drop(c);
          if (c->read_paused && !c->closing && c->out_bytes <= kReadPauseBytes / 2) {
            c->read_paused = false;
            self->read(c);
          }
          self->write(c);
        });
  }

  void drop(std::shared_ptr<Conn> c) {  // by value: callers may pass a reference into conns_
    auto it = conns_.find(c->handle);
    if (it == conns_.end() || it->second != c) return;
    conns_.erase(it);
    c->linger.cancel();
    close_socket(*c);
    if (on_closed) on_closed(c->conn_id);
    core_.close_session(c->handle, rt_.now());
    flush();  // presence leaves for the others
  }

  static void close_socket(Conn& c) {
    boost::system::error_code ignored;
    c.socket.close(ignored);
  }

  void arm_timer() {
    wake_.arm(core_.next_deadline(), *this, [this] {
      core_.advance(rt_.now());
      flush();
    });
  }

  Runtime rt_;
  ServerCore core_;
  std::optional<typename Runtime::Acceptor> acceptor_;
  WakeTimer<Runtime> wake_;
  typename Runtime::Timer accept_retry_;
  bool stopped_ = false;
  std::map<SessionHandle, std::shared_ptr<Conn>> conns_;
};

}  // namespace syncsim::reference
