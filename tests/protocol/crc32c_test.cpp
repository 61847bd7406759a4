// CRC-32C of PROTOCOL.md Appendix A (DELTA-2), known answers and agreement
// of the three implementations.
#include "protocol/crc32c.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

namespace syncsim::test {
namespace {

using protocol::crc32c;

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(DELTA_2, Crc32cKnownAnswersOfAppendixA) {
  const std::vector<std::pair<std::vector<std::uint8_t>, std::uint32_t>> cases = {
      {{}, 0x00000000},
      {{'1', '2', '3', '4', '5', '6', '7', '8', '9'}, 0xE3069283},
      {std::vector<std::uint8_t>(32, 0), 0x8A9136AA},
      {{0x01, 0x02, 0x03}, 0xF130F21E},
      {{0xde, 0xad, 0xbe, 0xef}, 0xF1DC778E},
      {{'h', 'e', 'l', 'l', 'o'}, 0x9A71BB4C},
  };
  for (const auto& [input, want] : cases) {
    EXPECT_EQ(crc32c(input), want);
    EXPECT_EQ(protocol::crc32c_portable(input), want);
    EXPECT_EQ(protocol::crc32c_bitwise(input), want);
  }
}

RC_GTEST_PROP(DELTA_2, AllImplementationsAgree, (const std::string& s)) {
  const auto b = bytes_of(s);
  const auto want = protocol::crc32c_bitwise(b);
  RC_ASSERT(crc32c(b) == want);
  RC_ASSERT(protocol::crc32c_portable(b) == want);
  // Unaligned starts exercise the 8-byte loads.
  if (b.size() > 3) RC_ASSERT(crc32c(b.subspan(3)) == protocol::crc32c_bitwise(b.subspan(3)));
}

}  // namespace
}  // namespace syncsim::test
