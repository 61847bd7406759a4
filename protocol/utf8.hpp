// UTF-8 validity as NodeDB's decoder checks it (ENC-4): no overlong forms, no
// surrogates, nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace syncsim::protocol {

// Returns the offset of the first invalid byte, or size when all is valid.
std::size_t utf8_invalid_at(const std::uint8_t* data, std::size_t size);

inline bool is_valid_utf8(std::string_view s) {
  return utf8_invalid_at(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()) == s.size();
}

}  // namespace syncsim::protocol
