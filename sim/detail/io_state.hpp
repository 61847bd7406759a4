// Internal state of the simulated I/O objects, shared between the Asio-facing
// wrappers (sim/asio_io.hpp) and the network model (world.cpp).
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sim/detail/completion.hpp"
#include "sim/event_loop.hpp"

namespace syncsim::sim::detail {

using boost::system::error_code;

// Anything holding handlers of a node: dropped when the node crashes, which
// also breaks handler -> object -> handler cycles.
struct IoState {
  virtual ~IoState() = default;
  virtual void drop_handlers() = 0;
};
void register_io(const LifeRef& life, const std::shared_ptr<IoState>& state);

struct Connection;

// One end of a connection: side 0 is the connecting end, side 1 the accepting one.
struct ConnEnd {
  std::shared_ptr<Connection> conn;
  int side = 0;
  explicit operator bool() const { return conn != nullptr; }
};

struct SocketState final : IoState {
  LifeRef life;
  ConnEnd end;
  bool open = false;
  Completion<error_code> connect_op;
  void drop_handlers() override;
};

struct AcceptorState final : IoState {
  LifeRef life;
  std::uint16_t port = 0;
  bool open = false;
  std::deque<ConnEnd> backlog;
  Completion<error_code, ConnEnd> accept_op;
  void drop_handlers() override { accept_op.drop(); }
};

struct TimerState final : IoState {
  LifeRef life;
  std::uint64_t id = 0;
  Time deadline_steady = 0;  // by the node's steady clock
  EventId event;
  std::vector<Completion<error_code>> waiters;
  void drop_handlers() override { waiters.clear(); }
};

// Network operations, implemented in world.cpp.
void socket_read(SocketState& s, std::vector<boost::asio::mutable_buffer> bufs,
                 Completion<error_code, std::size_t> done);
void socket_write(SocketState& s, std::vector<boost::asio::const_buffer> bufs,
                  Completion<error_code, std::size_t> done);
void socket_connect(const std::shared_ptr<SocketState>& s, const std::string& node,
                    std::uint16_t port);
void socket_close(SocketState& s);
std::uint64_t socket_conn_id(const SocketState& s);
// The node name and port of this end (local) or of the other end (remote).
std::pair<std::string, std::uint16_t> socket_endpoint(const SocketState& s, bool remote);
bool acceptor_listen(const std::shared_ptr<AcceptorState>& a, error_code& ec);
void acceptor_accept(AcceptorState& a, Completion<error_code, ConnEnd> done);
void acceptor_close(AcceptorState& a);
void timer_arm(const std::shared_ptr<TimerState>& t);
std::size_t timer_cancel(TimerState& t);
Time node_steady_now(const NodeLife& life);

}  // namespace syncsim::sim::detail
