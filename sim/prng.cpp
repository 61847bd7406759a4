#include "sim/prng.hpp"

#include "protocol/assert.hpp"
#include "sim/wide_int.hpp"

namespace syncsim::sim {
namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t fnv1a64(std::string_view s, std::uint64_t h) {
  for (const char c : s) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

Prng::Prng(std::uint64_t seed) {
  std::uint64_t st = seed;
  for (auto& w : s_) w = splitmix64(st);
}

Prng Prng::stream(std::uint64_t seed, std::string_view label) {
  std::uint64_t st = seed;
  const std::uint64_t mixed = splitmix64(st) ^ fnv1a64(label);
  return Prng(mixed);
}

std::uint64_t Prng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t Prng::below(std::uint64_t n) {
  SYNCSIM_ASSERT_MSG(n > 0, "below(0) has no value to draw");
  // Lemire 2019: the high word of x * n is uniform once the low word clears
  // the threshold 2^64 mod n.
  u128 m = static_cast<u128>(next()) * n;
  auto low = static_cast<std::uint64_t>(m);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<u128>(next()) * n;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::int64_t Prng::between(std::int64_t lo, std::int64_t hi) {
  SYNCSIM_ASSERT(lo <= hi);
  const auto span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
  if (span == UINT64_MAX) return static_cast<std::int64_t>(next());
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + below(span + 1));
}

bool Prng::chance(Ratio r) {
  if (r.num == 0) return false;
  if (r.num >= r.den) return true;
  return below(r.den) < r.num;
}

std::uint64_t neg_log2_q32(std::uint64_t u) {
  SYNCSIM_ASSERT(u > 0);
  const int msb = 63 - __builtin_clzll(u);
  // m = u / 2^msb in [1, 2), held as Q2.62.
  std::uint64_t m = msb >= 62 ? u >> (msb - 62) : u << (62 - msb);
  std::uint64_t frac = 0;  // fractional bits of log2(m), Q0.32
  for (int bit = 31; bit >= 0; --bit) {
    m = static_cast<std::uint64_t>((static_cast<u128>(m) * m) >> 62);
    if (m >= (std::uint64_t{2} << 62)) {
      m >>= 1;
      frac |= std::uint64_t{1} << bit;
    }
  }
  // log2(u) = msb + frac; -log2(u / 2^64) = 64 - msb - frac.
  return (static_cast<std::uint64_t>(64 - msb) << 32) - frac;
}

Duration Prng::exponential(Duration mean) {
  if (mean <= 0) return 0;
  if (mean > (Duration{1} << 50))
    mean = Duration{1} << 50;  // 13 days; keeps the product in 128 bits
  std::uint64_t u = next();
  if (u == 0) u = 1;
  // -ln(U) = -log2(U) * ln 2; ln 2 in Q0.32 = 2977044472 (0.693147180...).
  constexpr std::uint64_t kLn2Q32 = 2977044472ULL;
  const u128 neg_ln_q64 = static_cast<u128>(neg_log2_q32(u)) * kLn2Q32;
  const u128 d = (neg_ln_q64 * static_cast<std::uint64_t>(mean)) >> 64;
  const auto cap = static_cast<u128>(mean) * 32;
  return static_cast<Duration>(d < cap ? d : cap);
}

}  // namespace syncsim::sim
