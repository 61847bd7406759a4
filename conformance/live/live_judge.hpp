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

namespace syncsim::conformance {

class LiveJudge {
 public:
  LiveJudge(std::ostream* trace, std::function<void(const CheckFinding&)> on_finding);

  void frame(const protocol::Bytes& frame, std::uint64_t conn, protocol::Sender from, Seen seen);
  void frame(const protocol::Message& m, std::uint64_t conn, protocol::Sender from, Seen seen);
  // A WebSocket message, whole (FRAME-4..7, FRAME-12); the checker judges its frame.
  void ws(WsKind kind, std::span<const std::uint8_t> bytes, std::uint64_t conn,
          protocol::Sender from, Seen seen);
  void hangup(std::uint64_t conn, protocol::Sender side);  // that side ended the connection
  void closed(std::uint64_t conn);
  void finish();  // judges what is still owed, as of now

  std::int64_t now_ns() const;
  const SessionChecker& checker() const { return checker_; }

 private:
  void report_new(std::size_t before);

  std::ostream* trace_;
  std::function<void(const CheckFinding&)> on_finding_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  SessionChecker checker_;
};

}  // namespace syncsim::conformance
