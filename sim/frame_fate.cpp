#include "sim/frame_fate.hpp"

namespace syncsim::sim {

FrameFate frame_fate(const LinkParams& lp, Prng& rng, std::uint8_t msg_type,
                     std::uint32_t body_len) {
  FrameFate f;
  if (rng.chance(lp.frame_inject_unknown)) {
    const std::uint64_t noise = rng.next();
    std::array<std::uint8_t, 9> junk{0x99, 4, 0, 0, 0, 0, 0, 0, 0};
    for (int b = 0; b < 4; ++b) junk[5 + b] = static_cast<std::uint8_t>(noise >> (8 * b));
    f.unknown_before = junk;
  }
  if (rng.chance(lp.frame_inject_undecodable))
    f.undecodable_before = std::array<std::uint8_t, 6>{0xFF, 1, 0, 0, 0, 0xc1};
  if (!lp.frame_types.test(msg_type)) {
    f.latency = sample_latency(lp, rng);
    return f;
  }
  f.faulty_type = true;
  if (lp.drop_next > 0 || rng.chance(lp.frame_drop)) {
    f.dropped = true;
    f.used_drop_next = lp.drop_next > 0;
    return f;
  }
  if (body_len > 0 && rng.chance(lp.frame_corrupt))
    f.corrupt_bit = rng.below(std::uint64_t{body_len} * 8);
  f.latency = sample_latency(lp, rng);
  if (rng.chance(lp.frame_reorder)) f.reorder_extra = rng.between(0, lp.reorder_window);
  if (rng.chance(lp.frame_duplicate)) f.duplicate_extra = rng.between(0, lp.reorder_window);
  return f;
}

}  // namespace syncsim::sim
