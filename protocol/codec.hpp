// Body and frame codec for the zerompk MessagePack profile (PROTOCOL.md §2-§3).
//
// Encoding always produces the canonical form (§3.7), byte-identical to the
// golden vectors. Decoding follows the harness decoder policy (§3.8): it
// describes as much of a broken body as it can, reports every departure from
// NodeDB's acceptance envelope as a MUST finding under its ENC rule and every
// non-canonical detail as a SHOULD finding, and never throws, never reads out
// of bounds and never allocates more than the input can justify.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "protocol/finding.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/messages.hpp"

namespace syncsim::protocol {

struct DecodeLimits {
  std::uint32_t max_body = kMaxBodySize;  // larger declared lengths are FRAME-9 errors
  std::uint32_t max_depth = 500;          // MessagePack nesting NodeDB accepts (§3.6)
  std::uint32_t max_findings = 32;        // per body; the rest are summarised in one finding
};

// ---- encoding -------------------------------------------------------------

void append_body(const Message& m, Bytes& out);
Bytes encode_body(const Message& m);
void append_frame(const Message& m, Bytes& out);
Bytes encode_frame(const Message& m);

// ---- decoding -------------------------------------------------------------

struct DecodedBody {
  std::optional<Message> message;  // present when the body could be described
  Findings findings;
  // Inside NodeDB's acceptance envelope: described, with no MUST finding.
  bool valid() const { return message.has_value() && !has_must(findings); }
};

// Decodes the body of a frame with this code. Finding offsets are
// base_offset + the offset inside body.
DecodedBody decode_body(std::uint8_t code, std::span<const std::uint8_t> body,
                        const DecodeLimits& limits = {}, std::uint64_t base_offset = 0);

struct DecodedFrame {
  std::uint8_t msg_type = 0;
  std::uint64_t offset = 0;     // of the frame header in its input
  std::uint32_t body_size = 0;  // declared N
  std::optional<Message> message;
  Findings findings;
  bool valid() const { return message.has_value() && !has_must(findings); }
};

// Decodes exactly one frame held whole in `bytes` (a WebSocket message, a
// hex string on the command line). A short buffer is FRAME-1, bytes after the
// frame are FRAME-6, an over-long length is FRAME-9, an unknown code FRAME-2.
DecodedFrame decode_frame(std::span<const std::uint8_t> bytes, const DecodeLimits& limits = {});

}  // namespace syncsim::protocol
