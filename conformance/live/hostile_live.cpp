#include "conformance/live/hostile_live.hpp"

#include <chrono>

#include "conformance/live/frame_conn.hpp"
#include "protocol/codec.hpp"

namespace syncsim::conformance {

namespace {

using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

struct Session {
  bool connected = false, connect_failed = false, closed = false, ponged = false, acked = false;
  std::uint64_t ping = 0;
};

bool wait(boost::asio::io_context& ioc, const std::function<bool()>& done,
          std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= end) return false;
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(5));
  }
  return true;
}

template <class Socket>
void run_session(boost::asio::io_context& ioc, Socket socket, const tcp::endpoint& at,
                 const std::vector<protocol::Bytes>& frames, Session& s, std::int64_t wait_ms) {
  auto conn = std::make_shared<FrameConn<Socket>>(std::move(socket));
  conn->socket().async_connect(at, [&s](error_code ec) {
    s.connected = !ec;
    s.connect_failed = static_cast<bool>(ec);
  });
  wait(
      ioc, [&] { return s.connected || s.connect_failed; }, std::chrono::milliseconds(2000));
  if (!s.connected) {
    s.connect_failed = true;
    conn->close();
    wait(
        ioc, [] { return false; }, std::chrono::milliseconds(5));
    return;
  }
  conn->on_frame = [&s](const protocol::Bytes& f) {
    const auto d = protocol::decode_frame(f);
    if (!d.message) return;
    if (const auto* p = std::get_if<protocol::PingPong>(&*d.message))
      s.ponged = s.ponged || (p->is_pong && p->timestamp_ms == s.ping);
    if (const auto* a = std::get_if<protocol::HandshakeAck>(&*d.message)) s.acked = a->success;
  };
  conn->on_close = [&s](const std::string&) { s.closed = true; };
  conn->start();
  for (const auto& f : frames) conn->send(f);
  wait(
      ioc, [&] { return s.ponged || s.closed; }, std::chrono::milliseconds(wait_ms));
  conn->close();
  wait(
      ioc, [] { return false; }, std::chrono::milliseconds(1));  // aborted handlers run
}

}  // namespace

HostileStats hostile_live_server(boost::asio::io_context& ioc, const Endpoint& target,
                                 const HostileOptions& o, std::int64_t wait_ms) {
  HostileStats st;
  error_code ec;
  const tcp::endpoint at(boost::asio::ip::make_address(target.host, ec), target.port);
  FrameMutator mutator(o.seed);
  std::uint64_t next_report = std::max<std::uint64_t>(1, o.frames / 10);
  auto session = [&](const std::vector<protocol::Bytes>& frames, Session& s) {
    if (target.transport == Endpoint::Transport::WebSocket) {
      run_session(ioc, reference::WsSocket(ioc, target.path), at, frames, s, wait_ms);
    } else {
      run_session(ioc, tcp::socket(ioc), at, frames, s, wait_ms);
    }
  };
  while (st.frames < o.frames) {
    Session s;
    s.ping = ++st.sessions;
    std::vector<protocol::Bytes> frames;
    for (int k = 0; k < o.frames_per_session && st.frames < o.frames; ++k) {
      Mutation how{};
      frames.push_back(mutator.next(how));
      ++st.by_mutation[static_cast<std::size_t>(how)];
      ++st.frames;
    }
    frames.push_back(protocol::encode_frame(protocol::PingPong{s.ping, false}));
    session(frames, s);
    if (s.connect_failed) {
      st.alive = false;
      st.problem = "cannot connect to " + target.text() +
                   (st.sessions > 1 ? " any more (after " + std::to_string(st.sessions - 1) +
                                          " sessions): it went down"
                                    : "");
      return st;
    }
    if (s.ponged) {
      ++st.answered;
    } else if (s.closed) {
      ++st.closed;
    } else {
      ++st.stalled;
    }
    if (o.progress && st.frames >= next_report) {
      o.progress(st);
      next_report += std::max<std::uint64_t>(1, o.frames / 10);
    }
  }
  Session good;
  good.ping = 424242;
  protocol::Handshake hs;
  hs.wire_version = 1;
  session(
      {protocol::encode_frame(hs), protocol::encode_frame(protocol::PingPong{good.ping, false})},
      good);
  st.alive = good.connected && good.ponged;
  if (!st.alive) st.problem = "a well-behaved client was not answered afterwards";
  return st;
}

}  // namespace syncsim::conformance
