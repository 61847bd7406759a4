#include "protocol/frame_header.hpp"

#include <string>

namespace syncsim::protocol {

Finding frame_too_large(const FrameHeader& h, std::uint64_t at, std::uint32_t max_body) {
  return Finding{"FRAME-9", Level::Must, Problem::FrameTooLarge, at,
                 "frame too large: declared body length " + std::to_string(h.body_size) +
                     " exceeds the limit of " + std::to_string(max_body)};
}

MessageFrame frame_of_message(std::span<const std::uint8_t> message, std::uint32_t max_body) {
  MessageFrame m;
  if (message.size() < kFrameHeaderSize) return m;
  m.header = read_frame_header(message.data());
  if (m.header.too_large(max_body)) {
    m.kind = MessageFrame::Kind::TooLarge;
    return m;
  }
  const std::size_t size = std::size_t{kFrameHeaderSize} + m.header.body_size;
  if (message.size() < size) return m;
  m.kind = MessageFrame::Kind::Frame;
  m.frame = message.first(size);
  m.trailing = message.size() - size;
  return m;
}

}  // namespace syncsim::protocol
