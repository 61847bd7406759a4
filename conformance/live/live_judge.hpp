// The checker of a live run (serve, client, proxy): frames are judged as they
// happen, time is the machine's steady clock since the start, TOKEN-9 reads
// the machine's Unix clock, each new finding is handed on at once, and every
// record can go to a trace for check-trace.
#pragma once

#include <chrono>
#include <functional>
#include <iosfwd>
#include <span>

#include "conformance/checker/session_checker.hpp"
#include "conformance/live/round_trips.hpp"

namespace syncsim::conformance {

class LiveJudge {
 public:
  // `sees_every_session`: false where other sessions of the server pass
  // elsewhere (CheckerOptions::sees_every_session).
  LiveJudge(std::ostream* trace, std::function<void(const CheckFinding&)> on_finding,
            bool sees_every_session = true);

  void frame(const protocol::Bytes& frame, std::uint64_t conn, protocol::Sender from, Seen seen);
  void frame(const protocol::Message& m, std::uint64_t conn, protocol::Sender from, Seen seen);
  // A WebSocket message, whole (FRAME-4..7, FRAME-12); the checker judges its frame.
  void ws(WsKind kind, std::span<const std::uint8_t> bytes, std::uint64_t conn,
          protocol::Sender from, Seen seen);
  void hangup(std::uint64_t conn, protocol::Sender side);  // that side ended the connection
  void closed(std::uint64_t conn);
  // An admin purge an operator made (PURGE-1: every session of the tenant is told).
  void purged(std::uint32_t tenant, const std::string& collection);
  void finish();  // judges what is still owed, as of now

  std::int64_t now_ns() const;
  const SessionChecker& checker() const { return checker_; }
  // The tap tolerance (D81, D118): the largest round trip measured so far
  // plus a margin, never below the floor (50 ms, or the target file's).
  void set_tap_tolerance_floor_ns(std::int64_t ns);
  std::int64_t tap_tolerance_ns() const { return checker_.tap_tolerance_ns(); }
  // "tap tolerance 50 ms (floor 50 ms; largest round trip 3 ms of 12)".
  std::string tap_tolerance_text() const;

 private:
  void report_new(std::size_t before);

  std::ostream* trace_;
  std::function<void(const CheckFinding&)> on_finding_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  SessionChecker checker_;
  RoundTrips round_trips_;
  std::int64_t tolerance_floor_ns_ = 50'000'000;
};

// The line the live commands print about the tap tolerance.
std::string tap_tolerance_text(std::int64_t tolerance_ns, std::int64_t floor_ns,
                               const RoundTrips& trips);

}  // namespace syncsim::conformance
