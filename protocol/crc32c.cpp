#include "protocol/crc32c.hpp"

#include <boost/crc.hpp>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace syncsim::protocol {

std::uint32_t crc32c_portable(std::span<const std::uint8_t> data) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

std::uint32_t crc32c_bitwise(std::span<const std::uint8_t> data) {
  std::uint32_t crc = 0xFFFFFFFF;
  for (const std::uint8_t b : data) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0u);
  }
  return crc ^ 0xFFFFFFFF;
}

#if defined(__x86_64__)
namespace {

__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::span<const std::uint8_t> data) {
  std::uint64_t crc = 0xFFFFFFFF;
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);  // unaligned-safe load
    crc = _mm_crc32_u64(crc, word);
    p += 8;
    n -= 8;
  }
  auto c = static_cast<std::uint32_t>(crc);
  while (n-- > 0) c = _mm_crc32_u8(c, *p++);
  return c ^ 0xFFFFFFFF;
}

const bool kHasSse42 = __builtin_cpu_supports("sse4.2");

}  // namespace

std::uint32_t crc32c(std::span<const std::uint8_t> data) {
  return kHasSse42 ? crc32c_sse42(data) : crc32c_portable(data);
}
bool crc32c_is_hardware() { return kHasSse42; }
#else
std::uint32_t crc32c(std::span<const std::uint8_t> data) { return crc32c_portable(data); }
bool crc32c_is_hardware() { return false; }
#endif

}  // namespace syncsim::protocol
