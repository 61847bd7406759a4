// The Gorilla block codec of PROTOCOL.md Appendix B (TimeseriesPush ts_block
// and val_block): u32 LE count, then a bit stream, MSB first.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace syncsim::reference {

struct GorillaSample {
  std::int64_t timestamp = 0;
  std::uint64_t value_bits = 0;  // IEEE-754 bit pattern of the f64 value
  bool operator==(const GorillaSample&) const = default;
};

std::vector<std::uint8_t> gorilla_encode(std::span<const GorillaSample> samples);

// Decodes up to `count` samples, stopping at the first one that runs out of
// bits or has a corrupt window header (lz + meaningful > 64). Never reads past
// the input; work is bounded by its size.
std::vector<GorillaSample> gorilla_decode(std::span<const std::uint8_t> block);

// TS-1 blocks for samples (t_i, v_i): ts_block = (t_i, 0.0), val_block = (i, v_i).
std::vector<std::uint8_t> ts_block_of(std::span<const std::int64_t> times);
std::vector<std::uint8_t> val_block_of(std::span<const double> values);

}  // namespace syncsim::reference
