// Asio-style simulated I/O objects: SimSocket (AsyncReadStream and
// AsyncWriteStream), SimAcceptor and SimTimer (the waitable-timer interface).
// Code written against Asio's async model (asio::async_read/async_write,
// timer.async_wait, any completion token) runs on them unchanged. Their
// handlers complete through the owning node's io_context, always posted,
// never inline, in virtual time.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/error.hpp>
#include <chrono>
#include <string>

#include "sim/detail/io_state.hpp"
#include "sim/world.hpp"

namespace syncsim::sim {

namespace detail {
template <class Sequence, class Buffer>
std::vector<Buffer> copy_buffers(const Sequence& seq) {
  std::vector<Buffer> out;
  for (auto it = boost::asio::buffer_sequence_begin(seq);
       it != boost::asio::buffer_sequence_end(seq); ++it) {
    out.push_back(Buffer(*it));
  }
  return out;
}
}  // namespace detail

class SimSocket {
 public:
  using executor_type = boost::asio::io_context::executor_type;

  explicit SimSocket(Host& host) : SimSocket(host.life()) {}
  SimSocket(detail::LifeRef life, detail::ConnEnd end = {})
      : s_(std::make_shared<detail::SocketState>()) {
    s_->life = std::move(life);
    s_->open = static_cast<bool>(end);
    s_->end = std::move(end);
    detail::register_io(s_->life, s_);
  }
  SimSocket(SimSocket&&) noexcept = default;
  SimSocket& operator=(SimSocket&& o) noexcept {
    if (this != &o) {
      close();
      s_ = std::move(o.s_);
    }
    return *this;
  }
  ~SimSocket() { close(); }

  executor_type get_executor() const { return s_->life->ioc->get_executor(); }
  bool is_open() const { return s_ && s_->open; }
  std::uint64_t connection_id() const { return s_ ? detail::socket_conn_id(*s_) : 0; }
  // Simulated addresses: the connecting end has an ephemeral port (40000,
  // 40001, ... per node), the accepting end its listening port.
  Address remote_address() const { return to_address(true); }
  Address local_address() const { return to_address(false); }

  // Closes this end: pending operations finish with operation_aborted and
  // the peer reads end of stream once the data already sent has arrived.
  void close() {
    if (s_) detail::socket_close(*s_);
  }
  void close(boost::system::error_code& ec) {  // the asio overload; never fails here
    ec = {};
    close();
  }

  template <class Token>
  auto async_connect(const Address& to, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [s = s_, to](auto handler) {
          s->connect_op =
              detail::Completion<boost::system::error_code>(s->life, std::move(handler));
          detail::socket_connect(s, to.node, to.port);
        },
        token);
  }

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [s = s_](auto handler, std::vector<boost::asio::mutable_buffer> bufs) {
          detail::socket_read(*s, std::move(bufs),
                              detail::Completion<boost::system::error_code, std::size_t>(
                                  s->life, std::move(handler)));
        },
        token, detail::copy_buffers<MutableBufferSequence, boost::asio::mutable_buffer>(buffers));
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [s = s_](auto handler, std::vector<boost::asio::const_buffer> bufs) {
          detail::socket_write(*s, std::move(bufs),
                               detail::Completion<boost::system::error_code, std::size_t>(
                                   s->life, std::move(handler)));
        },
        token, detail::copy_buffers<ConstBufferSequence, boost::asio::const_buffer>(buffers));
  }

 private:
  Address to_address(bool remote) const {
    if (!s_ || !s_->end) return {};
    auto [node, port] = detail::socket_endpoint(*s_, remote);
    return Address{std::move(node), port};
  }
  std::shared_ptr<detail::SocketState> s_;
};

class SimAcceptor {
 public:
  using executor_type = boost::asio::io_context::executor_type;

  // Listens on the host's port; check is_open() (false if the port is taken).
  SimAcceptor(Host& host, std::uint16_t port) : a_(std::make_shared<detail::AcceptorState>()) {
    a_->life = host.life();
    a_->port = port;
    detail::register_io(a_->life, a_);
    detail::acceptor_listen(a_, listen_error_);
  }
  SimAcceptor(SimAcceptor&&) noexcept = default;
  ~SimAcceptor() { close(); }

  executor_type get_executor() const { return a_->life->ioc->get_executor(); }
  bool is_open() const { return a_ && a_->open; }
  boost::system::error_code listen_error() const { return listen_error_; }
  void close() {
    if (a_) detail::acceptor_close(*a_);
  }

  // Completes with (error_code, SimSocket).
  template <class Token>
  auto async_accept(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, SimSocket)>(
        [a = a_](auto handler) {
          auto ex = boost::asio::get_associated_executor(handler, a->life->ioc->get_executor());
          auto wrap = [h = std::move(handler), life = a->life](boost::system::error_code ec,
                                                               detail::ConnEnd end) mutable {
            std::move(h)(ec, SimSocket(life, std::move(end)));
          };
          detail::acceptor_accept(*a,
                                  detail::Completion<boost::system::error_code, detail::ConnEnd>(
                                      a->life, boost::asio::bind_executor(ex, std::move(wrap))));
        },
        token);
  }

 private:
  std::shared_ptr<detail::AcceptorState> a_;
  boost::system::error_code listen_error_;
};

// The waitable-timer interface on the node's steady clock (SimClock).
class SimTimer {
 public:
  using executor_type = boost::asio::io_context::executor_type;
  using clock_type = SimClock;
  using duration = SimClock::duration;
  using time_point = SimClock::time_point;

  explicit SimTimer(Host& host) : t_(std::make_shared<detail::TimerState>()) {
    t_->life = host.life();
    t_->deadline_steady = detail::node_steady_now(*t_->life);
    detail::register_io(t_->life, t_);
  }
  SimTimer(SimTimer&&) noexcept = default;
  ~SimTimer() {
    if (t_) detail::timer_cancel(*t_);
  }

  executor_type get_executor() const { return t_->life->ioc->get_executor(); }

  // Like asio's: setting the expiry cancels pending waits (operation_aborted)
  // and returns how many were cancelled.
  template <class Rep, class Period>
  std::size_t expires_after(std::chrono::duration<Rep, Period> d) {
    return expires_at(now() + std::chrono::duration_cast<duration>(d));
  }
  std::size_t expires_at(time_point tp) {
    const std::size_t n = detail::timer_cancel(*t_);
    t_->deadline_steady = tp.time_since_epoch().count();
    return n;
  }
  time_point expiry() const { return time_point(duration(t_->deadline_steady)); }
  time_point now() const { return time_point(duration(detail::node_steady_now(*t_->life))); }
  std::size_t cancel() { return detail::timer_cancel(*t_); }

  template <class Token>
  auto async_wait(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [t = t_](auto handler) {
          t->waiters.emplace_back(t->life, std::move(handler));
          detail::timer_arm(t);
        },
        token);
  }

 private:
  std::shared_ptr<detail::TimerState> t_;
};

}  // namespace syncsim::sim
