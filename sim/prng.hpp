// The one PRNG of syncsim: xoshiro256** (Blackman & Vigna, 2018), seeded
// through splitmix64. Every draw that shapes a simulated run comes from here,
// with integer-only helpers, so the same seed gives the same run on any
// machine and compiler. No std:: distributions (their output is
// implementation-defined), no std::random_device, no wall clock.
//
// Sub-streams: Prng::stream(label) derives an independent generator from the
// run seed and a label ("link/client-1->server", "node/client-2/backoff"),
// so adding a node or a fault never shifts the draws of the others.
#pragma once

#include <cstdint>
#include <string_view>

#include "sim/time.hpp"

namespace syncsim::sim {

// A probability as an exact integer ratio num/den (0 <= num <= den, den > 0).
struct Ratio {
  std::uint32_t num = 0;
  std::uint32_t den = 1;
  static constexpr Ratio never() { return {0, 1}; }
  static constexpr Ratio always() { return {1, 1}; }
  // Parts per million, e.g. ppm(100'000) = 10 %.
  static constexpr Ratio ppm(std::uint32_t p) { return {p, 1'000'000}; }
  constexpr bool is_never() const { return num == 0; }
  bool operator==(const Ratio&) const = default;
};

// splitmix64 (Steele, Lea, Flood 2014): one step of the seeding sequence.
std::uint64_t splitmix64(std::uint64_t& state);

// FNV-1a 64 of a label, to name sub-streams.
std::uint64_t fnv1a64(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ULL);

class Prng {
 public:
  explicit Prng(std::uint64_t seed = 0);

  // The generator for a named sub-stream of a run seeded with `seed`.
  static Prng stream(std::uint64_t seed, std::string_view label);

  std::uint64_t next();  // 64 uniform bits

  // Uniform in [0, n), unbiased (Lemire's multiply-and-reject). n > 0.
  std::uint64_t below(std::uint64_t n);
  // Uniform in [lo, hi], inclusive. lo <= hi.
  std::int64_t between(std::int64_t lo, std::int64_t hi);
  // True with probability r.num / r.den, exactly.
  bool chance(Ratio r);

  // Exponentially distributed duration with the given mean, computed in
  // fixed point: mean * -ln(U) with U uniform in (0, 1], ln via an integer
  // log2 with 32 fractional bits (see prng.cpp). Capped at 32 * mean.
  Duration exponential(Duration mean);

 private:
  std::uint64_t s_[4];
};

// -log2(u / 2^64) for u in [1, 2^64), as a Q32.32 fixed-point number. Exposed
// for tests.
std::uint64_t neg_log2_q32(std::uint64_t u);

}  // namespace syncsim::sim
