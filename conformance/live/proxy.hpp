// `syncsim proxy`: a frame-aware man-in-the-middle between a real client and
// a real server (TCP or WebSocket on either side). Each frame is passed on
// whole, or delayed, dropped, duplicated, reordered or corrupted as a fault
// file says, with the simulator's own fault model (sim/frame_fate.hpp) drawn
// from a seeded PRNG per connection and direction. Every frame is judged by
// the checker as written by its sender and as read by its receiver, both
// directions, and can be recorded as a trace for check-trace.
//
// A fault file:
//   client_to_server:
//     latency_ms: 20
//     jitter_ms: 10
//     frames: {drop_ppm: 50000, types: [DeltaPush]}
//   server_to_client:
//     frames: {drop_next: 1, reorder_ppm: 100000, types: [ShapeDelta]}
// (`frames` takes the keys of a scenario link's `frames`, docs/scenarios.md.)
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "conformance/checker/session_checker.hpp"
#include "conformance/live/endpoint.hpp"
#include "sim/fail_plan.hpp"
#include "sim/link.hpp"

namespace syncsim::conformance {

struct ProxyFaults {
  sim::LinkParams to_server, to_client;
};

struct ProxyFaultsLoad {
  std::optional<ProxyFaults> faults;
  std::string error;  // "file:line:col: what was expected"
};

// No faults at all: frames pass at once, unchanged.
ProxyFaults no_proxy_faults();
ProxyFaultsLoad load_proxy_faults(const std::string& path);
ProxyFaultsLoad parse_proxy_faults(const std::string& text, const std::string& file);
// One line per direction, for the banner: "latency 20 ms, jitter 10 ms, drop 5% of DeltaPush".
std::string describe_faults(const sim::LinkParams& p);

class Proxy {
 public:
  struct Options {
    Endpoint listen, upstream;
    ProxyFaults faults = no_proxy_faults();
    std::uint64_t seed = 1;
    std::ostream* trace = nullptr;  // JSON lines for check-trace, "seen" written/received
    std::function<void(const CheckFinding&)> on_finding;
    std::function<void(const std::string&)> on_event;  // connections, faults applied
    // Each TCP frame as the checker judges it (run --client-exec's frame expectations).
    std::function<void(const protocol::Bytes&, protocol::Sender, Seen)> on_frame;
    std::size_t max_connections = 64;                  // more at once are refused
    std::int64_t tap_tolerance_floor_ns = 50'000'000;  // D81/D118: raised by measured round trips
    std::size_t max_held_frames = 10'000;              // per direction; beyond it the pair is cut
    std::size_t max_queued_bytes = 64u << 20;          // per socket, for a peer that stops reading
    // False where other sessions of the server bypass this proxy (a live
    // scenario's other clients, D170): see CheckerOptions::sees_every_session.
    bool sees_every_session = true;
    // Failure injection (tests): the proxy's reads, writes, upstream connects,
    // accepts and timer waits are counted and the plan's Nth fails (TCP only).
    std::shared_ptr<sim::FailPlan> fail;
  };
  struct Stats {
    std::uint64_t connections = 0, refused = 0, upstream_failures = 0;
    std::uint64_t forwarded = 0, dropped = 0, duplicated = 0, reordered = 0, corrupted = 0,
                  injected = 0;
  };

  Proxy(boost::asio::io_context& ioc, Options options);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  bool start(boost::system::error_code& ec);  // binds and accepts
  std::uint16_t port() const;
  void stop();  // closes the listener and every pair
  // Judges what is still owed, as of now: after stop(), or before it to
  // judge with the connections still open, as the simulator does (run --server).
  void finish();

  // Live control, for a scenario's steps run against a real server (issue
  // 16): each applies to every pair open now and to those that come later.
  // A direction's link parameters (latency, jitter, frame faults); `from`
  // Client is client -> server.
  void set_link(protocol::Sender from, const sim::LinkParams& params);
  sim::LinkParams link(protocol::Sender from) const;  // as now, drop_next counted down
  // A partition of one direction: its frames wait, as a TCP stream's bytes
  // do, and flow again in order once unblocked.
  void set_blocked(protocol::Sender from, bool blocked);
  // Cuts every open pair: both ends see their connection closed.
  void reset_connections();
  // An operator purged a collection behind the proxy (PURGE-1 is owed).
  void purged(std::uint32_t tenant, const std::string& collection);

  const SessionChecker& checker() const;
  std::string tap_tolerance_text() const;  // D118
  const Stats& stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace syncsim::conformance
