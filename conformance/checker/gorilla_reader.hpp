// The checker's own reader of Gorilla blocks (PROTOCOL.md Appendix B), for
// TS-1 and TS-3. The checker depends on protocol/ only, so it does not use
// the reference's codec; this reader decodes the same way (and is tested
// against it): up to the declared count, stopping at the first sample that
// runs out of bits or has a corrupt window header.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace syncsim::conformance {

struct GorillaPoint {
  std::int64_t timestamp = 0;
  std::uint64_t value_bits = 0;  // IEEE-754 bit pattern of the f64 value
};

struct GorillaBlock {
  std::uint32_t declared = 0;  // the count header (0 when the block is shorter than 4 bytes)
  std::vector<GorillaPoint> points;
};

GorillaBlock read_gorilla(std::span<const std::uint8_t> block);

}  // namespace syncsim::conformance
