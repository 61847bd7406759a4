#include "sim/trace.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <ostream>
#include <type_traits>

#include "protocol/assert.hpp"

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

// The reverse of Trace::store_le: a little-endian integer at p.
template <class T>
T load_le(const char* p) {
  if constexpr (std::endian::native == std::endian::big) {
    std::make_unsigned_t<T> v = 0;
    for (std::size_t b = sizeof v; b-- > 0;) v = v << 8 | static_cast<std::uint8_t>(p[b]);
    return static_cast<T>(v);
  } else {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
}

// Reads a record front to back; a short record ends the reading (records
// are the Trace's own, so that happens only to a caller's hand-made one).
struct RecordReader {
  std::string_view r;
  std::size_t pos = 0;
  bool ok = true;
  bool has(std::size_t n) { return ok = ok && pos + n <= r.size(); }
  template <class T>
  T num() {
    if (!has(sizeof(T))) return T{};
    const T v = load_le<T>(r.data() + pos);
    pos += sizeof(T);
    return v;
  }
  std::string_view bytes(std::size_t n) {
    if (!has(n)) return {};
    const std::string_view v = r.substr(pos, n);
    pos += n;
    return v;
  }
};

void render_into(std::string& s, std::string_view record) {
  RecordReader in{record};
  s += "{\"t\":"sv;
  append_int(s, in.num<std::int64_t>());
  s += ",\"ev\":\""sv;
  append_escaped(s, in.bytes(in.num<std::uint32_t>()));
  s += '"';
  while (in.ok && in.pos < record.size()) {
    const std::string_view key = in.bytes(in.num<std::uint8_t>());
    const char tag = static_cast<char>(in.num<std::uint8_t>());
    if (!in.ok) break;
    s += ",\""sv;
    s += key;  // keys are the simulator's own names: never escaped
    s += "\":"sv;
    switch (tag) {
      case 'i': append_int(s, in.num<std::int64_t>()); break;
      case 'u': append_int(s, in.num<std::uint64_t>()); break;
      case 'b': s += in.num<std::uint8_t>() ? "true"sv : "false"sv; break;
      default:
        s += '"';
        append_escaped(s, in.bytes(in.num<std::uint32_t>()));
        s += '"';
    }
  }
  s += '}';
}

}  // namespace

// Word steps: the byte-wise FNV-1a chain (one multiply per byte) was the
// busiest loop of a busy simulated network.
std::uint64_t trace_hash_step(std::uint64_t h, std::string_view record) {
  constexpr std::uint64_t kPrime = 0x100000001b3ULL;
  const auto* p = reinterpret_cast<const unsigned char*>(record.data());
  std::size_t k = 0;
  for (; k + 8 <= record.size(); k += 8) {
    h ^= load_le<std::uint64_t>(record.data() + k);  // one load, the same value on every host
    h *= kPrime;
  }
  for (; k < record.size(); ++k) {
    h ^= p[k];
    h *= kPrime;
  }
  return h ^ (h >> 32);
}

Trace::Trace(std::ostream* out, std::size_t keep_last) : out_(out), keep_last_(keep_last) {
  cur_.resize(4096);
}

void Trace::grow(std::size_t n) { cur_.resize(std::max(2 * cur_.size(), cur_len_ + n)); }

void Trace::end() {
  const std::string_view record(cur_.data() + start_, cur_len_ - start_);
  store_le(cur_.data() + start_ - 4, static_cast<std::uint32_t>(record.size()));
  hash_ = trace_hash_step(hash_, record);
  ++lines_;
  ++cur_count_;
  if (!out_) return;
  line_.clear();
  render_into(line_, record);
  line_ += '\n';
  out_->write(line_.data(), static_cast<std::streamsize>(line_.size()));
}

std::string Trace::render(std::string_view record) {
  std::string s;
  render_into(s, record);
  return s;
}

std::vector<std::string> Trace::recent() const {
  std::vector<std::string_view> records;
  const auto take = [&records](std::string_view arena, std::size_t count) {
    RecordReader in{arena};
    for (std::size_t k = 0; k < count && in.pos < arena.size(); ++k)
      records.push_back(in.bytes(in.num<std::uint32_t>()));
  };
  if (keep_last_ == 0) return {};
  take(std::string_view(prev_.data(), prev_len_), keep_last_);
  take(std::string_view(cur_.data(), cur_len_), cur_count_);
  const std::size_t skip = records.size() > keep_last_ ? records.size() - keep_last_ : 0;
  std::vector<std::string> out;
  for (std::size_t k = skip; k < records.size(); ++k) out.push_back(render(records[k]));
  return out;
}

}  // namespace syncsim::sim
