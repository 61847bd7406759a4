// One live connection carrying whole frames, over TCP or WebSocket, for the
// harness's own live roles (the scripted server of `check --client`, the
// proxy). Frames are split from the byte stream by their header alone, so a
// frame of an unknown code or an undecodable body is still handed over
// whole; what to do with it is the caller's business. Everything is bounded:
// a declared length over the limit closes the connection (FRAME-9, with the
// stream offset), and so does an outgoing queue over its byte budget (a
// peer that does not read).
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include "protocol/codec.hpp"
#include "protocol/frame_splitter.hpp"
#include "reference/ws_runtime.hpp"

namespace syncsim::conformance {

template <class Socket>
class FrameConn : public std::enable_shared_from_this<FrameConn<Socket>> {
 public:
  static constexpr std::size_t kMaxQueuedBytes = 64u << 20;  // a peer that stops reading

  explicit FrameConn(Socket s) : socket_(std::move(s)) {}

  // Bytes written but not yet taken by the peer, at most.
  std::size_t max_queued_bytes = kMaxQueuedBytes;

  // Each whole frame read, header included.
  std::function<void(const protocol::Bytes&)> on_frame;
  // Once, when the connection ends: "" for an orderly close by the peer,
  // otherwise why (I/O error, FRAME-9, an unread backlog).
  std::function<void(const std::string&)> on_close;

  void start() { read(); }
  void send(protocol::Bytes frame) {
    if (closed_) return;
    queued_bytes_ += frame.size();
    if (queued_bytes_ > max_queued_bytes) {
      return end("the peer does not read: over " + std::to_string(max_queued_bytes) +
                 " bytes queued for it");
    }
    out_.push_back(std::move(frame));
    if (out_.size() == 1) write_next();
  }
  // Ends the connection without reporting it through on_close.
  void close() {
    on_close = nullptr;
    on_frame = nullptr;
    end("closed here");
  }
  bool closed() const { return closed_; }
  std::size_t queued() const { return out_.size(); }
  Socket& socket() { return socket_; }

 private:
  void end(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
    out_.clear();
    if (auto f = std::move(on_close)) f(why);
  }
  void read() {
    socket_.async_read_some(
        boost::asio::buffer(buf_),
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (self->closed_) return;
          if (ec) {
            const bool orderly =
                ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
            return self->end(orderly ? "" : ec.message());
          }
          if (!self->splitter_.feed(std::span(self->buf_.data(), n))) {
            const protocol::Finding& e = *self->splitter_.error();
            return self->end(std::string(e.rule) + " at stream offset " + std::to_string(e.offset) +
                             ": " + e.message);
          }
          for (protocol::Bytes frame; !self->closed_ && self->splitter_.pop(frame);) {
            if (self->on_frame) self->on_frame(frame);
          }
          if (!self->closed_) self->read();
        });
  }
  void write_next() {
    if (out_.empty() || closed_) return;
    auto done = [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (self->closed_) return;
      if (ec) return self->end(ec.message());
      self->queued_bytes_ -= self->out_.front().size();
      self->out_.pop_front();
      self->write_next();
    };
    if constexpr (std::is_same_v<Socket, reference::WsSocket>) {
      socket_.async_write_frame(boost::asio::buffer(out_.front()), done);
    } else {
      boost::asio::async_write(socket_, boost::asio::buffer(out_.front()), done);
    }
  }

  Socket socket_;
  protocol::FrameSplitter splitter_;  // FRAME-9's limit
  std::array<std::uint8_t, 16384> buf_{};
  std::deque<protocol::Bytes> out_;
  std::size_t queued_bytes_ = 0;
  bool closed_ = false;
};

}  // namespace syncsim::conformance
