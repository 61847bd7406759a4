#include "reference/gorilla.hpp"

#include <bit>
#include <cstring>

namespace syncsim::reference {
namespace {

class BitWriter {
 public:
  void put(std::uint64_t value, int bits) {
    for (int k = bits - 1; k >= 0; --k) {
      if (used_ % 8 == 0) out_.push_back(0);
      if ((value >> k) & 1) out_.back() |= static_cast<std::uint8_t>(0x80 >> (used_ % 8));
      ++used_;
    }
  }
  // Whole zero bytes reserved up front (the block's count header).
  void skip_bytes(std::size_t n) {
    out_.resize(out_.size() + n, 0);
    used_ += 8 * n;
  }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  std::vector<std::uint8_t> out_;
  std::uint64_t used_ = 0;
};

class BitReader {
 public:
  explicit BitReader(std::span<const std::uint8_t> in) : in_(in) {}
  bool get(int bits, std::uint64_t& value) {
    if (static_cast<std::uint64_t>(bits) > in_.size() * 8 - pos_) return false;
    value = 0;
    for (int k = 0; k < bits; ++k, ++pos_)
      value = value << 1 | ((in_[pos_ / 8] >> (7 - pos_ % 8)) & 1);
    return true;
  }

 private:
  std::span<const std::uint8_t> in_;
  std::uint64_t pos_ = 0;
};

// Two's-complement wrapping, as Origin's release build computes (no UB).
std::int64_t wrapping_sub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}
std::int64_t wrapping_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

std::int64_t sign_extend(std::uint64_t v, int bits) {
  const int shift = 64 - bits;
  return static_cast<std::int64_t>(v << shift) >> shift;
}

}  // namespace

std::vector<std::uint8_t> gorilla_encode(std::span<const GorillaSample> samples) {
  BitWriter bits;
  bits.skip_bytes(4);  // count, filled in below; the bit stream starts on a fresh byte
  std::int64_t prev_ts = 0, prev_delta = 0;
  std::uint64_t prev_value = 0;
  int win_lz = -1, win_tz = -1;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    if (i == 0) {
      bits.put(static_cast<std::uint64_t>(s.timestamp), 64);
      bits.put(s.value_bits, 64);
    } else {
      const std::int64_t delta = wrapping_sub(s.timestamp, prev_ts);
      const std::int64_t dod = wrapping_sub(delta, prev_delta);
      prev_delta = delta;
      const auto u = static_cast<std::uint64_t>(dod);
      if (dod == 0) {
        bits.put(0, 1);
      } else if (dod >= -64 && dod <= 63) {
        bits.put(0b10, 2);
        bits.put(u & 0x7f, 7);
      } else if (dod >= -256 && dod <= 255) {
        bits.put(0b110, 3);
        bits.put(u & 0x1ff, 9);
      } else if (dod >= -2048 && dod <= 2047) {
        bits.put(0b1110, 4);
        bits.put(u & 0xfff, 12);
      } else {
        bits.put(0b1111, 4);
        bits.put(u, 64);
      }
      const std::uint64_t x = s.value_bits ^ prev_value;
      if (x == 0) {
        bits.put(0, 1);
      } else {
        bits.put(1, 1);
        const int lz = std::countl_zero(x), tz = std::countr_zero(x);
        if (win_lz >= 0 && lz >= win_lz && tz >= win_tz) {
          bits.put(0, 1);
          bits.put(x >> win_tz, 64 - win_lz - win_tz);
        } else {
          const int meaningful = 64 - lz - tz;
          bits.put(1, 1);
          bits.put(static_cast<std::uint64_t>(lz), 6);
          bits.put(static_cast<std::uint64_t>(meaningful - 1), 6);
          bits.put(x >> tz, meaningful);
          win_lz = lz;
          win_tz = tz;
        }
      }
    }
    prev_ts = s.timestamp;
    prev_value = s.value_bits;
  }
  auto out = bits.take();
  const auto n = static_cast<std::uint32_t>(samples.size());
  for (int k = 0; k < 4; ++k) out[k] = static_cast<std::uint8_t>(n >> (8 * k));
  return out;
}

std::vector<GorillaSample> gorilla_decode(std::span<const std::uint8_t> block) {
  std::vector<GorillaSample> out;
  if (block.size() < 4) return out;
  const std::uint32_t count =
      static_cast<std::uint32_t>(block[0]) | static_cast<std::uint32_t>(block[1]) << 8 |
      static_cast<std::uint32_t>(block[2]) << 16 | static_cast<std::uint32_t>(block[3]) << 24;
  BitReader r(block.subspan(4));
  std::int64_t prev_ts = 0, prev_delta = 0;
  std::uint64_t prev_value = 0;
  int win_lz = -1, win_tz = -1;
  for (std::uint32_t i = 0; i < count; ++i) {
    GorillaSample s;
    std::uint64_t v = 0;
    if (i == 0) {
      std::uint64_t ts = 0;
      if (!r.get(64, ts) || !r.get(64, v)) break;
      s.timestamp = static_cast<std::int64_t>(ts);
      s.value_bits = v;
    } else {
      // Timestamp: the control prefix picks the width of the delta of delta.
      int width = 0;
      for (int ones = 0; ones < 4; ++ones) {
        std::uint64_t bit = 0;
        if (!r.get(1, bit)) return out;
        if (bit == 0) {
          width = ones == 0 ? 0 : ones == 1 ? 7 : ones == 2 ? 9 : 12;
          break;
        }
        if (ones == 3) width = 64;
      }
      std::int64_t dod = 0;
      if (width > 0) {
        if (!r.get(width, v)) return out;
        dod = width == 64 ? static_cast<std::int64_t>(v) : sign_extend(v, width);
      }
      prev_delta = wrapping_add(prev_delta, dod);
      s.timestamp = wrapping_add(prev_ts, prev_delta);
      // Value.
      std::uint64_t changed = 0;
      if (!r.get(1, changed)) return out;
      std::uint64_t x = 0;
      if (changed) {
        std::uint64_t fresh = 0;
        if (!r.get(1, fresh)) return out;
        if (fresh) {
          std::uint64_t lz = 0, m1 = 0, m = 0;
          if (!r.get(6, lz) || !r.get(6, m1)) return out;
          const std::uint64_t meaningful = m1 + 1;
          if (lz + meaningful > 64) return out;  // corrupt window (HARNESS CHOICE, App. B)
          if (!r.get(static_cast<int>(meaningful), m)) return out;
          win_lz = static_cast<int>(lz);
          win_tz = static_cast<int>(64 - lz - meaningful);
          x = m << win_tz;
        } else {
          if (win_lz < 0) return out;  // no window yet: corrupt (spec silent; docs/decisions.md)
          std::uint64_t m = 0;
          if (!r.get(64 - win_lz - win_tz, m)) return out;
          x = m << win_tz;
        }
      }
      s.value_bits = prev_value ^ x;
    }
    prev_ts = s.timestamp;
    prev_value = s.value_bits;
    out.push_back(s);
  }
  return out;
}

std::vector<std::uint8_t> ts_block_of(std::span<const std::int64_t> times) {
  std::vector<GorillaSample> s;
  for (const auto t : times) s.push_back({t, 0});
  return gorilla_encode(s);
}

std::vector<std::uint8_t> val_block_of(std::span<const double> values) {
  std::vector<GorillaSample> s;
  for (std::size_t i = 0; i < values.size(); ++i) {
    s.push_back({static_cast<std::int64_t>(i), std::bit_cast<std::uint64_t>(values[i])});
  }
  return gorilla_encode(s);
}

}  // namespace syncsim::reference
