// The run trace: one JSON object per line for every simulator event (sends,
// deliveries, faults, timers, clock jumps, partitions, crashes), each with
// virtual time "t" (ns), "ev", and where relevant "node" and "conn".
//
// Trace hash (D82): each line, including its '\n', in order, goes into a
// 64-bit state that starts at 0xcbf29ce484222325: FNV-1a steps (h ^= x;
// h *= 0x100000001b3) over the line's whole 8-byte words read little-endian,
// then over its 0-7 remaining bytes one by one, then h ^= h >> 32. Every step
// is a bijection of the state, so runs that differ in one line always differ
// in hash. It is computed whether or not the lines are written anywhere, so
// two runs compare by hash.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "sim/time.hpp"

namespace syncsim::sim {

// One line's step of the trace hash (above); exposed for tests and tools.
std::uint64_t trace_hash_line(std::uint64_t h, std::string_view line);

class Trace {
 public:
  // Lines go to `out` when set; the last `keep_last` lines are kept in memory
  // for failure reports.
  explicit Trace(std::ostream* out = nullptr, std::size_t keep_last = 64)
      : out_(out), keep_last_(keep_last) {}

  // Starts a line: {"t":<t>,"ev":"<ev>". Add fields, then end().
  Trace& begin(Time t, std::string_view ev);
  Trace& node(std::string_view name) { return str("node", name); }
  Trace& conn(std::uint64_t id) { return num("conn", id); }
  Trace& num(std::string_view key, std::int64_t v);
  Trace& num(std::string_view key, std::uint64_t v);
  Trace& num(std::string_view key, int v) { return num(key, static_cast<std::int64_t>(v)); }
  Trace& str(std::string_view key, std::string_view v);  // v is JSON-escaped
  Trace& boolean(std::string_view key, bool v);
  void end();

  std::uint64_t hash() const { return hash_; }
  std::uint64_t lines() const { return lines_; }
  // The last lines kept, oldest first, without their '\n'.
  std::vector<std::string> recent() const;
  void set_output(std::ostream* out) { out_ = out; }

 private:
  void keep(std::string_view line);

  std::ostream* out_;
  std::size_t keep_last_;
  std::string line_;
  // A ring of reused strings: keeping a line costs no allocation once the
  // ring is full (next_ is the oldest slot).
  std::vector<std::string> ring_;
  std::size_t next_ = 0;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
  std::uint64_t lines_ = 0;
};

}  // namespace syncsim::sim
