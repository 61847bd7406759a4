#include "sim/trace.hpp"

#include <bit>
#include <charconv>
#include <cstring>
#include <ostream>

namespace syncsim::sim {
namespace {

using namespace std::string_view_literals;  // literals with their length: no strlen per piece

void append_int(std::string& s, auto v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, p);
}

bool plain(char c) { return static_cast<unsigned char>(c) >= 0x20 && c != '"' && c != '\\'; }

// Runs of characters that need no escape are appended whole.
void append_escaped(std::string& s, std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  while (!v.empty()) {
    std::size_t k = 0;
    while (k < v.size() && plain(v[k])) ++k;
    s.append(v.data(), k);
    if (k == v.size()) return;
    const char c = v[k];
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      s += '\\';
      s += c;
    } else {
      s += "\\u00"sv;
      s += kHex[u >> 4];
      s += kHex[u & 0xf];
    }
    v.remove_prefix(k + 1);
  }
}

// ,"key": (keys are the simulator's own names: never escaped)
void append_key(std::string& s, std::string_view key) {
  s += ",\""sv;
  s += key;
  s += "\":"sv;
}

}  // namespace

// Word steps: the byte-wise FNV-1a chain (one multiply per byte) was the
// busiest loop of a busy simulated network.
std::uint64_t trace_hash_line(std::uint64_t h, std::string_view line) {
  constexpr std::uint64_t kPrime = 0x100000001b3ULL;
  const auto* p = reinterpret_cast<const unsigned char*>(line.data());
  std::size_t k = 0;
  for (; k + 8 <= line.size(); k += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + k, 8);  // one load; little-endian on every host:
    if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
    h ^= w;
    h *= kPrime;
  }
  for (; k < line.size(); ++k) {
    h ^= p[k];
    h *= kPrime;
  }
  return h ^ (h >> 32);
}

Trace& Trace::begin(Time t, std::string_view ev) {
  line_.clear();
  line_ += "{\"t\":"sv;
  append_int(line_, t);
  line_ += ",\"ev\":\""sv;
  append_escaped(line_, ev);
  line_ += '"';
  return *this;
}

Trace& Trace::num(std::string_view key, std::int64_t v) {
  append_key(line_, key);
  append_int(line_, v);
  return *this;
}

Trace& Trace::num(std::string_view key, std::uint64_t v) {
  append_key(line_, key);
  append_int(line_, v);
  return *this;
}

Trace& Trace::str(std::string_view key, std::string_view v) {
  append_key(line_, key);
  line_ += '"';
  append_escaped(line_, v);
  line_ += '"';
  return *this;
}

Trace& Trace::boolean(std::string_view key, bool v) {
  append_key(line_, key);
  line_ += v ? "true"sv : "false"sv;
  return *this;
}

void Trace::end() {
  line_ += "}\n"sv;
  hash_ = trace_hash_line(hash_, line_);
  ++lines_;
  if (out_) out_->write(line_.data(), static_cast<std::streamsize>(line_.size()));
  if (keep_last_ > 0) keep(std::string_view(line_.data(), line_.size() - 1));
}

void Trace::keep(std::string_view line) {
  if (ring_.size() < keep_last_) {
    ring_.emplace_back(line);
    return;
  }
  ring_[next_].assign(line);
  next_ = (next_ + 1) % keep_last_;
}

std::vector<std::string> Trace::recent() const {
  std::vector<std::string> out;
  out.reserve(ring_.size());
  for (std::size_t k = 0; k < ring_.size(); ++k) out.push_back(ring_[(next_ + k) % ring_.size()]);
  return out;
}

}  // namespace syncsim::sim
