// Per-frame value constraints (PROTOCOL.md §4, §5): what can be judged from
// one decoded message alone, without session state. Session rules (ordering,
// answers, timers) belong to the conformance checkers.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "protocol/finding.hpp"
#include "protocol/messages.hpp"

namespace syncsim::protocol {

// Who sent the frame, when known.
enum class Sender : unsigned char { Client, Server, Unknown };

// Appends the findings for one message. Offsets are set to frame_offset.
void validate(const Message& m, Sender sender, Findings& out, std::uint64_t frame_offset = 0);

inline Findings validate(const Message& m, Sender sender = Sender::Unknown,
                         std::uint64_t frame_offset = 0) {
  Findings out;
  validate(m, sender, out, frame_offset);
  return out;
}

// The DeltaReject reason of §5.3.3 for a CRC mismatch, e.g.
// "CRC32C mismatch: expected 0x0000dead, computed 0xf130f21e".
std::string crc_mismatch_reason(std::uint32_t expected, std::uint32_t computed);

// Whether payload is a UTF-8 JSON object (DEF-1).
bool is_json_object(const Bytes& payload);

// The rule IDs decode_frame, FrameStream and validate() can cite: judged on
// every frame the checker sees (`syncsim rules --coverage`).
std::span<const std::string_view> frame_rules();

}  // namespace syncsim::protocol
