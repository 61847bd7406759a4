// A node's own clocks. True virtual time belongs to the simulator; a node
// reads two derived clocks:
//   steady(t) = anchor_steady + (t - anchor) + floor((t - anchor) * drift_ppm / 10^6)
//   system(t) = steady(t) + offset
// `steady` is monotonic and only drifts: timers run on it. `system` also
// carries the skew (initial offset) and scheduled forward/backward jumps:
// timestamps (Ping timestamp_ms, device_valid_time_ms, JWT exp checks) use
// it. Changing the drift re-anchors, so past readings never change.
#pragma once

#include <cstdint>

#include "sim/time.hpp"

namespace syncsim::sim {

struct ClockParams {
  Duration offset = 0;         // system clock minus true time at the start
  std::int32_t drift_ppm = 0;  // |drift| <= 100000 (10 %)
};

class NodeClock {
 public:
  static constexpr std::int32_t kMaxDriftPpm = 100'000;

  explicit NodeClock(ClockParams p = {}, Time start = 0);

  Time steady(Time true_now) const;
  Time system(Time true_now) const { return steady(true_now) + offset_; }

  // The earliest true time at which steady() reaches s (>= the anchor).
  Time true_at_steady(Time s) const;

  void jump(Duration delta) { offset_ += delta; }   // system clock step
  void set_drift(std::int32_t ppm, Time true_now);  // clamped to +-kMaxDriftPpm

  Duration offset() const { return offset_; }
  std::int32_t drift_ppm() const { return ppm_; }

 private:
  Time anchor_true_ = 0;
  Time anchor_steady_ = 0;
  std::int32_t ppm_ = 0;
  Duration offset_ = 0;
};

}  // namespace syncsim::sim
