// The reference client's Asio shell: one connection at a time (CONN-3),
// frames in through protocol::FrameStream, ClientCore's frames out, the
// core's timers on one Runtime timer, reconnects after the core's backoff.
// Generic over the runtime (runtime.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <boost/asio/write.hpp>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <span>

#include "protocol/codec.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/frame_stream.hpp"
#include "reference/client_core.hpp"
#include "reference/wake_timer.hpp"

namespace syncsim::reference {

template <class Runtime>
class Client : public std::enable_shared_from_this<Client<Runtime>> {
 public:
  Client(Runtime rt, typename Runtime::Address server, ClientConfig config,
         ClientPersistent persistent)
      : rt_(rt),
        server_(std::move(server)),
        core_(std::move(config), std::move(persistent), rt.rng("client")),
        socket_(rt.socket()),
        wake_(rt_) {
    core_.set_note_sink([this](std::uint64_t, StateNote n) {
      if (on_note) on_note(connected_ ? conn_id_ : 0, std::move(n));
    });
  }

  void start() { connect(); }
  ClientCore& core() { return core_; }
  // Called after every step with the state to keep on disk (DELTA-1, HS-12).
  std::function<void(const ClientPersistent&)> on_persist;
  // See every frame the client writes, and every connection that ends, with
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
  // they concern (0: not connected).
  std::function<void(std::uint64_t conn, StateNote)> on_note;
  // A frame read and skipped: an undecodable body (FRAME-10), header
  // included, or an unknown code (FRAME-3), whose body is skipped unread:
  // then the 5-byte header with N = 0 (traces, the checker).
  std::function<void(const protocol::Bytes& frame, std::uint64_t conn)> on_ignored;
  // The client ends the connection itself (not the peer, not a read error).
  std::function<void(std::uint64_t conn)> on_hangup;

  bool write(const std::string& collection, const std::string& doc, protocol::Bytes value) {
    const bool ok = core_.write(collection, doc, std::move(value));
    flush();
    return ok;
  }
  void update_presence(const std::string& channel, protocol::Bytes state) {
    core_.update_presence(channel, std::move(state), rt_.now());
    flush();
  }
  // Runs f(core, now) as the application would, then writes what it produced.
  template <class F>
  void act(F&& f) {
    f(core_, rt_.now());
    flush();
  }
  void stop() {
    stopped_ = true;
    ++generation_;
    wake_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void connect() {
    if (stopped_) return;
    const std::uint64_t g = ++generation_;
    socket_ = rt_.socket();
    decoder_ = protocol::FrameStream();
    out_.clear();
    writing_ = false;
    socket_.async_connect(server_,
                          [self = this->shared_from_this(), g](boost::system::error_code ec) {
                            if (g != self->generation_) return;
                            if (ec) return self->disconnected();
                            self->connected_ = true;
                            self->conn_id_ = Runtime::connection_id(self->socket_);
                            self->core_.on_connected(self->rt_.now());
                            self->read(g);
                            self->flush();
                          });
  }

  static protocol::Bytes frame_of(const protocol::StreamEvent& ev) {
    const auto n = static_cast<std::uint32_t>(ev.body.size());
    protocol::Bytes f(protocol::kFrameHeaderSize + ev.body.size());
    f[0] = ev.msg_type;
    for (std::size_t i = 0; i < 4; ++i) f[1 + i] = static_cast<std::uint8_t>(n >> (8 * i));
    std::copy(ev.body.begin(), ev.body.end(), f.begin() + protocol::kFrameHeaderSize);
    return f;
  }
  // The client ends the connection on its own.
  void hang_up() {
    if (connected_ && on_hangup) on_hangup(conn_id_);
    disconnected();
  }

  void disconnected() {
    if (connected_ && on_closed) on_closed(conn_id_);
    boost::system::error_code ignored;
    socket_.close(ignored);
    ++generation_;
    connected_ = false;
    writing_ = false;
    const std::int64_t wait = core_.on_disconnected(rt_.now());  // also after a failed connect
    persist();
    reconnect_at_ = rt_.now().steady_ms + wait;
    arm_timer();
  }

  void read(std::uint64_t g) {
    socket_.async_read_some(
        boost::asio::buffer(buf_),
        [self = this->shared_from_this(), g](boost::system::error_code ec, std::size_t n) {
          if (g != self->generation_) return;
          if (ec) return self->disconnected();
          self->decoder_.feed(std::span<const std::uint8_t>(self->buf_.data(), n));
          for (;;) {
            protocol::StreamEvent ev = self->decoder_.next();
            if (ev.kind == protocol::StreamEvent::Kind::NeedMore) break;
            if (ev.kind == protocol::StreamEvent::Kind::Closed ||
                (ev.kind == protocol::StreamEvent::Kind::Error && ev.fatal)) {
              return self->hang_up();  // FRAME-9
            }
            if (ev.kind != protocol::StreamEvent::Kind::Frame) {  // FRAME-3
              // The body is skipped unread: the record holds the header's code only.
              if (ev.error.problem == protocol::Problem::UnknownMessageType && self->on_ignored)
                self->on_ignored(protocol::Bytes{ev.msg_type, 0, 0, 0, 0}, self->conn_id_);
              continue;
            }
            protocol::DecodedBody body = protocol::decode_body(ev.msg_type, ev.body);
            if (!body.valid()) {  // FRAME-10: ignored
              if (self->on_ignored) self->on_ignored(frame_of(ev), self->conn_id_);
              if (self->core_.has_bug(ClientBug::CloseOnUndecodable)) return self->hang_up();
              continue;
            }
            if (self->on_receive) self->on_receive(*body.message, self->conn_id_);
            if (self->on_receive_frame)
              self->on_receive_frame(*body.message, ev.frame, self->conn_id_);
            self->core_.on_frame(*body.message, self->rt_.now());
            // Answers leave before the next frame is read, so a trace shows
            // each frame's effects in order.
            self->flush();
            if (g != self->generation_) return;
          }
          self->flush();
          if (g == self->generation_) self->read(g);
        });
  }

  void flush() {
    for (auto& m : core_.take_output()) {
      if (!connected_) continue;
      protocol::Bytes frame = protocol::encode_frame(m);
      if (on_send) on_send(m, conn_id_);
      if (on_send_frame) on_send_frame(m, frame, conn_id_);
      out_.push_back(std::move(frame));
    }
    write();
    persist();
    if (core_.take_close() && connected_) return hang_up();  // HS-13, HS-14, PING-6
    arm_timer();
  }

  void write() {
    if (writing_ || out_.empty() || !connected_) return;
    writing_ = true;
    const std::uint64_t g = generation_;
    Runtime::write_frame(
        socket_, boost::asio::buffer(out_.front()),
        [self = this->shared_from_this(), g](boost::system::error_code ec, std::size_t) {
          if (g != self->generation_) return;
          self->writing_ = false;
          if (ec) return self->disconnected();
          self->out_.pop_front();
          self->write();
        });
  }

  void persist() {
    if (on_persist) on_persist(core_.persistent());
  }

  void arm_timer() {
    if (stopped_) return;
    const std::int64_t deadline = connected_ ? core_.next_deadline() : reconnect_at_;
    wake_.arm(deadline, *this, [this] {
      if (!connected_) return connect();
      core_.advance(rt_.now());
      flush();
    });
  }

  Runtime rt_;
  typename Runtime::Address server_;
  ClientCore core_;
  typename Runtime::Socket socket_;
  WakeTimer<Runtime> wake_;
  protocol::FrameStream decoder_;
  std::array<std::uint8_t, 16384> buf_{};
  std::deque<protocol::Bytes> out_;
  bool writing_ = false, connected_ = false, stopped_ = false;
  std::uint64_t generation_ = 0;
  std::int64_t reconnect_at_ = 0;
  std::uint64_t conn_id_ = 0;
};

}  // namespace syncsim::reference
