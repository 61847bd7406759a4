// What a lossy relay does to one whole frame under a link's frame-level
// faults (link.hpp): the simulator's links and the live proxy (`syncsim
// proxy`) both ask this, so a fault file means the same in both. The draws
// come from `rng` in a fixed order, so a seed fixes every fate.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "sim/link.hpp"

namespace syncsim::sim {

struct FrameFate {
  // A frame of an unknown code (0x99, 4-byte body) to slip in first (FRAME-3).
  std::optional<std::array<std::uint8_t, 9>> unknown_before;
  // A frame of a known code (Ping/Pong, 0xFF) whose 1-byte body 0xc1 is no
  // MessagePack at all, to slip in first (FRAME-10).
  std::optional<std::array<std::uint8_t, 6>> undecodable_before;
  bool faulty_type = false;     // frame_types selects this frame: the faults below apply
  bool dropped = false;         // lost; nothing below applies
  bool used_drop_next = false;  // lost to drop_next: the caller counts it down
  std::optional<std::uint64_t> corrupt_bit;  // a bit of the body to flip
  Duration latency = 0;                      // sample_latency()
  std::optional<Duration> reorder_extra;     // held this much longer, so later frames pass it
  std::optional<Duration> duplicate_extra;   // a copy arrives this long after the frame
};

FrameFate frame_fate(const LinkParams& lp, Prng& rng, std::uint8_t msg_type,
                     std::uint32_t body_len);

}  // namespace syncsim::sim
