#include "sim/node_clock.hpp"

#include <algorithm>

#include "sim/wide_int.hpp"

namespace syncsim::sim {
namespace {

// floor(a * b / 10^6) without overflow.
std::int64_t scale_ppm(std::int64_t elapsed, std::int32_t ppm) {
  // Most clocks do not drift, and most products fit 64 bits: the 128-bit
  // division was 1 % of a sweep. Same values on every path.
  if (ppm == 0) return 0;
  if (std::int64_t p64; !__builtin_mul_overflow(elapsed, std::int64_t{ppm}, &p64)) {
    std::int64_t q = p64 / 1'000'000;
    if (p64 % 1'000'000 != 0 && p64 < 0) --q;
    return q;
  }
  const i128 p = static_cast<i128>(elapsed) * ppm;
  i128 q = p / 1'000'000;
  if (p % 1'000'000 != 0 && p < 0) --q;  // floor toward minus infinity
  return static_cast<std::int64_t>(q);
}

}  // namespace

NodeClock::NodeClock(ClockParams p, Time start)
    : anchor_true_(start),
      anchor_steady_(start),
      ppm_(std::clamp(p.drift_ppm, -kMaxDriftPpm, kMaxDriftPpm)),
      offset_(p.offset) {}

Time NodeClock::steady(Time t) const {
  const std::int64_t e = t - anchor_true_;
  return anchor_steady_ + e + scale_ppm(e, ppm_);
}

Time NodeClock::true_at_steady(Time s) const {
  if (s <= anchor_steady_) return anchor_true_;
  // Solve e + floor(e * ppm / 1e6) >= d for the smallest e.
  const i128 d = s - anchor_steady_;
  i128 e = (d * 1'000'000 + (1'000'000 + ppm_) - 1) / (1'000'000 + ppm_);
  auto reading = [&](i128 x) { return x + scale_ppm(static_cast<std::int64_t>(x), ppm_); };
  while (e > 0 && reading(e - 1) >= d) --e;  // at most a step or two
  while (reading(e) < d) ++e;
  return anchor_true_ + static_cast<Time>(e);
}

void NodeClock::set_drift(std::int32_t ppm, Time true_now) {
  anchor_steady_ = steady(true_now);
  anchor_true_ = true_now;
  ppm_ = std::clamp(ppm, -kMaxDriftPpm, kMaxDriftPpm);
}

}  // namespace syncsim::sim
