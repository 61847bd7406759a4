// The run trace: one event per simulator action (sends, deliveries, faults,
// timers, clock jumps, partitions, crashes), each with virtual time "t" (ns),
// "ev", and where relevant "node" and "conn", written as one JSON object per
// line.
//
// An event is recorded as a compact binary record and rendered to JSON only
// when lines are written or the last ones are asked for (D187): a run that
// writes no trace pays for no rendering.
//
// Record (all integers little-endian): t as i64; ev as u32 length + bytes;
// then per field, in the order given: the key as u8 length + bytes, a tag
// byte and the value: 'i' i64, 'u' u64, 'b' one byte 0/1, 's' u32 length +
// bytes.
//
// Trace hash (D82, D187): a 64-bit state starting at 0xcbf29ce484222325 takes
// each record in order: FNV-1a steps (h ^= x; h *= 0x100000001b3) over the
// record's whole 8-byte words read little-endian, then over its 0-7
// remaining bytes one by one, then h ^= h >> 32. Every step is a bijection of
// the state, so runs that differ in one event always differ in hash. It is
// computed whether or not the lines are written anywhere, so two runs
// compare by hash.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/assert.hpp"
#include "sim/time.hpp"

namespace syncsim::sim {

// One record's step of the trace hash (above); exposed for tests and tools.
std::uint64_t trace_hash_step(std::uint64_t h, std::string_view record);

class Trace {
 public:
  // Lines go to `out` when set; the last `keep_last` events are kept (as
  // records) for failure reports.
  explicit Trace(std::ostream* out = nullptr, std::size_t keep_last = 64);

  // Starts an event: {"t":<t>,"ev":"<ev>". Add fields, then end().
  // Inline: a busy network traces a few events per frame.
  Trace& begin(Time t, std::string_view ev) {
    if (cur_count_ == keep_last_) {  // also: nothing kept (keep_last_ 0)
      std::swap(cur_, prev_);
      prev_len_ = cur_len_;
      cur_len_ = 0;
      cur_count_ = 0;
    }
    start_ = cur_len_ + 4;  // after the record's size, which end() sets
    char* p = room(4 + 8 + 4 + ev.size());
    p = store_le(store_le(p + 4, static_cast<std::uint64_t>(t)),
                 static_cast<std::uint32_t>(ev.size()));
    std::memcpy(p, ev.data(), ev.size());
    return *this;
  }
  Trace& node(std::string_view name) { return str("node", name); }
  Trace& conn(std::uint64_t id) { return num("conn", id); }
  Trace& num(std::string_view key, std::int64_t v) {
    store_le(field(key, 'i', 8), static_cast<std::uint64_t>(v));
    return *this;
  }
  Trace& num(std::string_view key, std::uint64_t v) {
    store_le(field(key, 'u', 8), v);
    return *this;
  }
  Trace& num(std::string_view key, int v) { return num(key, static_cast<std::int64_t>(v)); }
  Trace& str(std::string_view key, std::string_view v) {  // v is JSON-escaped when rendered
    char* p = store_le(field(key, 's', 4 + v.size()), static_cast<std::uint32_t>(v.size()));
    std::memcpy(p, v.data(), v.size());
    return *this;
  }
  Trace& boolean(std::string_view key, bool v) {
    *field(key, 'b', 1) = v ? 1 : 0;
    return *this;
  }
  void end();

  std::uint64_t hash() const { return hash_; }
  std::uint64_t lines() const { return lines_; }
  // The last events kept, oldest first, rendered as JSON lines without '\n'.
  std::vector<std::string> recent() const;
  void set_output(std::ostream* out) { out_ = out; }

  // The JSON line of one record (without '\n'); exposed for tests.
  static std::string render(std::string_view record);

 private:
  template <class T>
  static char* store_le(char* p, T v) {
    if constexpr (std::endian::native == std::endian::big) {
      for (std::size_t b = 0; b < sizeof v; ++b) p[b] = static_cast<char>(v >> (8 * b) & 0xff);
    } else {
      std::memcpy(p, &v, sizeof v);
    }
    return p + sizeof v;
  }
  // `n` more bytes at the end of the record being built.
  char* room(std::size_t n) {
    if (cur_len_ + n > cur_.size()) grow(n);
    char* p = cur_.data() + cur_len_;
    cur_len_ += n;
    return p;
  }
  void grow(std::size_t n);
  // A field's key and tag; returns where its `n` value bytes go.
  char* field(std::string_view key, char tag, std::size_t n) {
    SYNCSIM_ASSERT_MSG(key.size() < 256, "trace keys are short names");
    char* p = room(2 + key.size() + n);
    *p++ = static_cast<char>(key.size());
    std::memcpy(p, key.data(), key.size());
    p[key.size()] = tag;
    return p + key.size() + 1;
  }

  std::ostream* out_;
  std::size_t keep_last_;
  // Records are stored in `cur_` as [u32 size][record], cur_len_ bytes used;
  // when it holds keep_last_ of them it becomes `prev_` (so the last
  // keep_last_ records are always in prev_ + cur_). The buffers only grow:
  // no record costs an allocation once both have.
  std::string cur_, prev_;
  std::size_t cur_len_ = 0, prev_len_ = 0;
  std::size_t cur_count_ = 0;
  std::size_t start_ = 0;  // offset in cur_ of the record being built
  std::string line_;       // rendering buffer, reused
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
  std::uint64_t lines_ = 0;
};

}  // namespace syncsim::sim
