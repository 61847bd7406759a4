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
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include "protocol/codec.hpp"
#include "protocol/frame_splitter.hpp"
#include "reference/ws_runtime.hpp"
#include "sim/fail_plan.hpp"

namespace syncsim::conformance {

template <class Socket>
class FrameConn : public std::enable_shared_from_this<FrameConn<Socket>> {
 public:
  static constexpr std::size_t kMaxQueuedBytes = 64u << 20;  // a peer that stops reading

  explicit FrameConn(Socket s) : socket_(std::move(s)) {}

  // Bytes written but not yet taken by the peer, at most.
  std::size_t max_queued_bytes = kMaxQueuedBytes;
  // Failure injection (tests, TCP only): this connection's reads and writes are
  // counted and the plan's Nth fails (sim/fail_plan.hpp). A proxy shares one.
  std::shared_ptr<sim::FailPlan> fail;

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
    std::size_t want = buf_.size();
    if (injects(sim::IoOp::Read)) {
      if (fail->how == sim::FailHow::ShortRead) {
        want = 1;
      } else {
        return injected([self = this->shared_from_this()](boost::system::error_code ec) {
          self->on_read(ec, 0);
        });
      }
    }
    socket_.async_read_some(
        boost::asio::buffer(buf_.data(), want),
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
          self->on_read(ec, n);
        });
  }
  void on_read(boost::system::error_code ec, std::size_t n) {
    if (closed_) return;
    if (ec) {
      const bool orderly =
          ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
      return end(orderly ? "" : ec.message());
    }
    if (!splitter_.feed(std::span(buf_.data(), n))) {
      const protocol::Finding& e = *splitter_.error();
      return end(std::string(e.rule) + " at stream offset " + std::to_string(e.offset) + ": " +
                 e.message);
    }
    for (protocol::Bytes frame; !closed_ && splitter_.pop(frame);) {
      if (on_frame) on_frame(frame);
    }
    if (!closed_) read();
  }
  static constexpr bool kTcp = std::is_same_v<Socket, boost::asio::ip::tcp::socket>;
  bool injects(sim::IoOp op) { return kTcp && fail && fail->hit(op); }
  // An injected error or reset: the operation completes (posted) with it.
  template <class Handler>
  void injected(Handler h) {
    if constexpr (kTcp) {
      boost::system::error_code ec = fail->error;
      if (fail->how == sim::FailHow::Reset) {
        ec = boost::asio::error::connection_reset;
        boost::system::error_code ignored;
        socket_.set_option(boost::asio::socket_base::linger(true, 0), ignored);  // RST
        socket_.close(ignored);
      }
      boost::asio::post(socket_.get_executor(), [h = std::move(h), ec]() mutable { h(ec); });
    }
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
    if (injects(sim::IoOp::Write)) {
      if (fail->how != sim::FailHow::ShortWrite) {
        return injected([done](boost::system::error_code ec) mutable { done(ec, 0); });
      }
      if constexpr (kTcp) {
        // One byte, then the rest: the peer sees the frame split in two.
        return socket_.async_write_some(
            boost::asio::buffer(out_.front().data(), 1),
            [self = this->shared_from_this(), done](boost::system::error_code ec,
                                                    std::size_t n) mutable {
              if (ec || self->closed_) return done(ec, n);
              boost::asio::async_write(self->socket_, boost::asio::buffer(self->out_.front()) + n,
                                       std::move(done));
            });
      }
    }
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
