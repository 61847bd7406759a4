// Failure injection by count, after Boost.Beast's test::fail_count: every
// I/O operation a FailPlan applies to is counted, and the Nth one fails the
// chosen way. A test first runs with nth = 0 (count only) to learn how many
// operations a session makes, then runs once per N. Counting is the only
// cost when nothing is to fail. Deterministic: no clock, no randomness.
// Used by the simulated sockets, acceptors and timers (World::fail_plan())
// and by the live proxy's connections (Proxy::Options::fail).
#pragma once

#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

namespace syncsim::sim {

enum class IoOp : std::uint8_t { Read = 1, Write = 2, Connect = 4, Accept = 8, Wait = 16 };

enum class FailHow : std::uint8_t {
  Error,       // the operation completes with `error`, nothing done (any operation)
  ShortRead,   // a read returns at most one byte (reads only; not a failure to the caller)
  ShortWrite,  // a write takes at most one byte (writes only)
  Reset,       // the connection is reset: both ends see connection_reset (reads and writes)
};

inline std::string_view fail_how_name(FailHow h) {
  switch (h) {
    case FailHow::Error: return "error";
    case FailHow::ShortRead: return "short-read";
    case FailHow::ShortWrite: return "short-write";
    case FailHow::Reset: return "reset";
  }
  return "?";
}

inline std::string_view io_op_name(IoOp op) {
  switch (op) {
    case IoOp::Read: return "read";
    case IoOp::Write: return "write";
    case IoOp::Connect: return "connect";
    case IoOp::Accept: return "accept";
    case IoOp::Wait: return "wait";
  }
  return "?";
}

struct FailPlan {
  std::uint64_t nth = 0;  // the operation that fails, 1-based; 0: none, only count
  FailHow how = FailHow::Error;
  boost::system::error_code error = boost::asio::error::network_down;  // for FailHow::Error
  std::optional<std::uint32_t> node;  // the simulator: count only this node's operations

  std::uint64_t count = 0;     // operations counted so far
  std::optional<IoOp> failed;  // which kind of operation failed, once one has

  // The operations `how` applies to (a bit set of IoOp).
  static constexpr std::uint8_t ops_of(FailHow h) {
    switch (h) {
      case FailHow::Error: return 0x1F;
      case FailHow::ShortRead: return static_cast<std::uint8_t>(IoOp::Read);
      case FailHow::ShortWrite: return static_cast<std::uint8_t>(IoOp::Write);
      case FailHow::Reset:
        return static_cast<std::uint8_t>(IoOp::Read) | static_cast<std::uint8_t>(IoOp::Write);
    }
    return 0;
  }

  // Counts one operation; true when it is the one that fails.
  bool hit(IoOp op) {
    if ((ops_of(how) & static_cast<std::uint8_t>(op)) == 0) return false;
    if (++count != nth) return false;
    failed = op;
    return true;
  }
  bool hit(IoOp op, std::uint32_t on_node) {
    if (node && *node != on_node) return false;
    return hit(op);
  }
};

}  // namespace syncsim::sim
