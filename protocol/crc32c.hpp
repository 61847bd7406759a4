// CRC-32C (Castagnoli) exactly as PROTOCOL.md Appendix A defines it for
// DeltaPush.checksum: reflected polynomial 0x82F63B78, init and final XOR
// 0xFFFFFFFF. check("123456789") = 0xE3069283.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace syncsim::protocol {

// Fastest available implementation: SSE4.2 crc32 instructions when the CPU
// has them (checked once at run time), else Boost.CRC's table.
std::uint32_t crc32c(std::span<const std::uint8_t> data);

// The portable table implementation (Boost.CRC), always available.
std::uint32_t crc32c_portable(std::span<const std::uint8_t> data);

// The bitwise algorithm of Appendix A, byte for byte: slow, for tests only.
std::uint32_t crc32c_bitwise(std::span<const std::uint8_t> data);

// True when crc32c() uses the hardware instructions.
bool crc32c_is_hardware();

}  // namespace syncsim::protocol
