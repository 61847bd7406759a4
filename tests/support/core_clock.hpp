// The clock reading the sans-I/O cores of the reference are driven with in
// unit tests: steady ms since the start, and the Unix ms that go with it.
#pragma once

#include <cstdint>

#include "reference/server_core.hpp"

namespace syncsim::test {

inline constexpr std::int64_t kT0 = 1'750'000'000'000;  // Unix ms at steady 0

inline reference::Now at(std::int64_t steady_ms) {
  return reference::Now{steady_ms, kT0 + steady_ms};
}

}  // namespace syncsim::test
