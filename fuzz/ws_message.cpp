// WebSocket messages to sync frames (§2.1, FRAME-4/5/7/9): the input is a
// sequence of messages, each [flags u8][size u16 LE][bytes] (flags bit 0:
// binary). The frame each binary message carries (protocol::frame_of_message,
// which the WebSocket runtime uses) is decoded as the checker does, and the
// kept frames, concatenated as the reference hands them to its shells, must
// split into the same frames with the relays' FrameSplitter and with
// FrameStream.
#include <algorithm>

#include "fuzz/fuzz_util.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/frame_splitter.hpp"
#include "protocol/frame_stream.hpp"

using namespace syncsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  protocol::Bytes stream;
  std::vector<std::size_t> sizes;
  std::size_t pos = 0;
  while (size - pos >= 3) {
    const bool binary = data[pos] & 1;
    const std::size_t n =
        std::min<std::size_t>(data[pos + 1] | std::size_t{data[pos + 2]} << 8, size - pos - 3);
    const std::uint8_t* msg = data + pos + 3;
    pos += 3 + n;
    (void)protocol::decode_frame(fuzz::bytes(msg, n));  // FRAME-4/6 when bytes trail
    if (!binary) continue;                              // FRAME-7: text is ignored
    const auto m = protocol::frame_of_message({msg, n});
    if (m.kind != protocol::MessageFrame::Kind::Frame) {
      FUZZ_CHECK(n < 5 || n < 5 + std::size_t{protocol::load_le32(msg + 1)} ||
                 m.kind == protocol::MessageFrame::Kind::TooLarge);
      continue;
    }
    const std::size_t frame = m.frame.size();
    FUZZ_CHECK(frame <= n && frame == 5 + std::size_t{protocol::load_le32(msg + 1)});
    FUZZ_CHECK(m.trailing == n - frame);
    const auto f = protocol::decode_frame(fuzz::bytes(msg, frame));
    FUZZ_CHECK(f.body_size == frame - 5 || f.message == std::nullopt);
    stream.insert(stream.end(), msg, msg + frame);
    sizes.push_back(frame);
  }
  protocol::FrameSplitter splitter;
  FUZZ_CHECK(splitter.feed(stream));
  FUZZ_CHECK(splitter.frames() == sizes.size() && splitter.partial() == 0);
  const auto frames = protocol::decode_stream(stream);
  FUZZ_CHECK(frames.size() == sizes.size());
  std::uint64_t offset = 0;  // both split at the same places
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    protocol::Bytes popped;
    FUZZ_CHECK(splitter.pop(popped) && popped.size() == sizes[i]);
    FUZZ_CHECK(frames[i].offset == offset);
    offset += sizes[i];
  }
  return 0;
}
