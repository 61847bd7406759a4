// Appendix B decoding for the timeseries judge; mirrors the decoder Origin
// uses (and the reference's), including where it stops.
#include "conformance/checker/gorilla_reader.hpp"

namespace syncsim::conformance {

namespace {

class Bits {
 public:
  explicit Bits(std::span<const std::uint8_t> in) : in_(in) {}
  bool get(int n, std::uint64_t& v) {
    if (static_cast<std::uint64_t>(n) > in_.size() * 8 - pos_) return false;
    v = 0;
    for (int k = 0; k < n; ++k, ++pos_) v = v << 1 | ((in_[pos_ / 8] >> (7 - pos_ % 8)) & 1);
    return true;
  }

 private:
  std::span<const std::uint8_t> in_;
  std::uint64_t pos_ = 0;
};

std::int64_t wrap_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

std::int64_t sign_extend(std::uint64_t v, int bits) {
  const int shift = 64 - bits;
  return static_cast<std::int64_t>(v << shift) >> shift;
}

// The delta of delta of the next timestamp; false when the bits run out.
bool read_dod(Bits& r, std::int64_t& dod) {
  int width = 0;
  for (int ones = 0; ones < 4; ++ones) {
    std::uint64_t bit = 0;
    if (!r.get(1, bit)) return false;
    if (bit == 0) {
      width = ones == 0 ? 0 : ones == 1 ? 7 : ones == 2 ? 9 : 12;
      break;
    }
    if (ones == 3) width = 64;
  }
  dod = 0;
  if (width == 0) return true;
  std::uint64_t v = 0;
  if (!r.get(width, v)) return false;
  dod = width == 64 ? static_cast<std::int64_t>(v) : sign_extend(v, width);
  return true;
}

// The XOR of the next value with the previous; false when the bits run out
// or the window is corrupt (lz + meaningful > 64, or reused before set).
bool read_xor(Bits& r, int& win_lz, int& win_tz, std::uint64_t& x) {
  std::uint64_t changed = 0, fresh = 0, m = 0;
  x = 0;
  if (!r.get(1, changed)) return false;
  if (!changed) return true;
  if (!r.get(1, fresh)) return false;
  if (fresh) {
    std::uint64_t lz = 0, m1 = 0;
    if (!r.get(6, lz) || !r.get(6, m1)) return false;
    const std::uint64_t meaningful = m1 + 1;
    if (lz + meaningful > 64 || !r.get(static_cast<int>(meaningful), m)) return false;
    win_lz = static_cast<int>(lz);
    win_tz = static_cast<int>(64 - lz - meaningful);
  } else if (win_lz < 0 || !r.get(64 - win_lz - win_tz, m)) {
    return false;
  }
  x = m << win_tz;
  return true;
}

}  // namespace

GorillaBlock read_gorilla(std::span<const std::uint8_t> block) {
  GorillaBlock out;
  if (block.size() < 4) return out;
  out.declared = static_cast<std::uint32_t>(block[0]) | static_cast<std::uint32_t>(block[1]) << 8 |
                 static_cast<std::uint32_t>(block[2]) << 16 |
                 static_cast<std::uint32_t>(block[3]) << 24;
  Bits r(block.subspan(4));
  std::int64_t prev_delta = 0;
  int win_lz = -1, win_tz = -1;
  for (std::uint32_t i = 0; i < out.declared; ++i) {
    GorillaPoint p;
    if (i == 0) {
      std::uint64_t ts = 0;
      if (!r.get(64, ts) || !r.get(64, p.value_bits)) break;
      p.timestamp = static_cast<std::int64_t>(ts);
    } else {
      std::int64_t dod = 0;
      std::uint64_t x = 0;
      if (!read_dod(r, dod)) break;
      prev_delta = wrap_add(prev_delta, dod);
      p.timestamp = wrap_add(out.points.back().timestamp, prev_delta);
      if (!read_xor(r, win_lz, win_tz, x)) break;
      p.value_bits = out.points.back().value_bits ^ x;
    }
    out.points.push_back(p);
  }
  return out;
}

}  // namespace syncsim::conformance
