// The one reading of a frame header and the one size limit, shared by every
// reader of frames (FRAME-1, FRAME-9, D67): FrameStream (receivers that
// decode), FrameSplitter (relays: the simulator's links, the harness's live
// connections and proxy) and frame_of_message (WebSocket, FRAME-4/5/6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/finding.hpp"

namespace syncsim::protocol {

inline constexpr std::uint32_t kFrameHeaderSize = 5;
inline constexpr std::uint32_t kMaxFrameSize = 16u * 1024 * 1024;  // FRAME-9, header included
inline constexpr std::uint32_t kMaxBodySize = kMaxFrameSize - kFrameHeaderSize;

// Reads the little-endian u32 at p.
inline std::uint32_t load_le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

struct FrameHeader {
  std::uint8_t msg_type = 0;
  std::uint32_t body_size = 0;  // N as declared
  // FRAME-9: the receiver closes the connection without reading the body.
  // A receiver may choose a lower max_body (§2.5), never a higher one.
  bool too_large(std::uint32_t max_body = kMaxBodySize) const { return body_size > max_body; }
};

// The kFrameHeaderSize bytes at p.
inline FrameHeader read_frame_header(const std::uint8_t* p) { return {p[0], load_le32(p + 1)}; }

// The FRAME-9 finding for a refused header; at is the offset of its length field.
Finding frame_too_large(const FrameHeader& h, std::uint64_t at, std::uint32_t max_body);

// FRAME-4: a WebSocket binary message carries one frame.
struct MessageFrame {
  enum class Kind : unsigned char {
    Frame,     // frame holds the 5 + N bytes
    Short,     // under 5 bytes, or under 5 + N (FRAME-5: ignored)
    TooLarge,  // N over the limit (FRAME-9: the connection closes)
  };
  Kind kind = Kind::Short;
  FrameHeader header;                   // set when the message has 5 bytes
  std::span<const std::uint8_t> frame;  // Kind::Frame only
  std::size_t trailing = 0;             // bytes after the frame (FRAME-6)
};
MessageFrame frame_of_message(std::span<const std::uint8_t> message,
                              std::uint32_t max_body = kMaxBodySize);

}  // namespace syncsim::protocol
