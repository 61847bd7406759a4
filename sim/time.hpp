// Virtual time: signed 64-bit nanoseconds since the start of a run (about
// 292 years of range). Integer arithmetic only, so every machine agrees.
#pragma once

#include <chrono>
#include <cstdint>

namespace syncsim::sim {

using Time = std::int64_t;      // an instant, ns since the run began
using Duration = std::int64_t;  // a span, ns

inline constexpr Duration kNanosecond = 1;
inline constexpr Duration kMicrosecond = 1'000;
inline constexpr Duration kMillisecond = 1'000'000;
inline constexpr Duration kSecond = 1'000'000'000;
inline constexpr Time kTimeMax = INT64_MAX;

template <class Rep, class Period>
constexpr Duration to_ns(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// A chrono clock whose time points are a node's steady (monotonic) reading,
// so simulated timers accept the std::chrono types real timers do. It has no
// static now(): a reading always comes from a node (node_clock.hpp).
struct SimClock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<SimClock, duration>;
  static constexpr bool is_steady = true;
};

}  // namespace syncsim::sim
