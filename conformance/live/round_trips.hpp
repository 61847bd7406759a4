// Round trips measured at a live tap (issue 15, D118): a request passing the
// tap one way and its answer passing back. Client-side ones (a server frame,
// then the client's reaction) bound how late a client reads what passed the
// tap; server-side ones the same for the server. The tap tolerance (D81) is
// the largest round trip seen plus a margin, never below the configured floor.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <variant>

#include "protocol/messages.hpp"
#include "protocol/validate.hpp"  // Sender

namespace syncsim::conformance {

class RoundTrips {
 public:
  // A decodable frame passing the tap at t (ns).
  void frame(std::uint64_t conn, protocol::Sender from, const protocol::Message& m,
             std::int64_t t) {
    using namespace protocol;
    Open& o = open_[conn];
    const bool client = from == Sender::Client;
    if (client && o.ack_at) sample(t - *std::exchange(o.ack_at, std::nullopt));
    const auto* p = std::get_if<PingPong>(&m);
    auto& pings = client ? o.server_pings : o.client_pings;  // what this frame may answer
    if (p && p->is_pong) {
      if (const auto it = pings.find(p->timestamp_ms); it != pings.end()) {
        sample(t - it->second);
        pings.erase(it);
      }
      return;
    }
    auto& mine = client ? o.client_pings : o.server_pings;
    if (p && mine.size() < kMaxOpen) mine.emplace(p->timestamp_ms, t);
    if (client && std::holds_alternative<Handshake>(m) && o.handshakes.size() < kMaxOpen)
      o.handshakes.push_back(t);
    if (const auto* ack = std::get_if<HandshakeAck>(&m); ack && !client) {
      if (!o.handshakes.empty()) {
        sample(t - o.handshakes.front());
        o.handshakes.pop_front();
      }
      if (ack->success) o.ack_at = t;  // the client reacts at once (PING-1, SHAPE-14)
    }
  }
  void closed(std::uint64_t conn) { open_.erase(conn); }

  std::optional<std::int64_t> max_ns() const { return max_; }
  std::uint64_t samples() const { return samples_; }
  // The largest round trip plus half again (at least 10 ms), or the floor.
  std::int64_t tolerance_ns(std::int64_t floor_ns) const {
    if (!max_) return floor_ns;
    return std::max(floor_ns, *max_ + std::max<std::int64_t>(10'000'000, *max_ / 2));
  }

 private:
  static constexpr std::size_t kMaxOpen = 64;
  struct Open {
    std::deque<std::int64_t> handshakes;                 // client Handshakes unanswered
    std::map<std::uint64_t, std::int64_t> client_pings;  // timestamp_ms -> passed at
    std::map<std::uint64_t, std::int64_t> server_pings;  // (PING-7: servers may ping)
    std::optional<std::int64_t> ack_at;                  // a successful HandshakeAck passed
  };
  // Longer is a side that was idle, not a round trip.
  static constexpr std::int64_t kMaxSampleNs = 2'000'000'000;
  void sample(std::int64_t ns) {
    if (ns < 0 || ns > kMaxSampleNs) return;
    ++samples_;
    max_ = std::max(max_.value_or(0), ns);
  }
  std::map<std::uint64_t, Open> open_;
  std::optional<std::int64_t> max_;
  std::uint64_t samples_ = 0;
};

}  // namespace syncsim::conformance
