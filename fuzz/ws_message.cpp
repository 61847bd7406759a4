// WebSocket messages to sync frames (§2.1, FRAME-4/5/7): the input is a
// sequence of messages, each [flags u8][size u16 LE][bytes] (flags bit 0:
// binary). The frame the reference keeps from each (ws_message_frame_size)
// is decoded as the checker does, and the kept frames, concatenated as the
// reference hands them to its shells, must split into the same frames with
// the live roles' RawFrameSplitter and with FrameStream.
#include <algorithm>

#include "conformance/live/frame_conn.hpp"
#include "fuzz/fuzz_util.hpp"
#include "protocol/frame_stream.hpp"
#include "reference/ws_runtime.hpp"

using namespace syncsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  protocol::Bytes stream;
  std::size_t kept = 0, pos = 0;
  while (size - pos >= 3) {
    const bool binary = data[pos] & 1;
    const std::size_t n =
        std::min<std::size_t>(data[pos + 1] | std::size_t{data[pos + 2]} << 8, size - pos - 3);
    const std::uint8_t* msg = data + pos + 3;
    pos += 3 + n;
    const std::size_t frame = reference::ws_message_frame_size(binary, msg, n);
    (void)protocol::decode_frame(fuzz::bytes(msg, n));  // FRAME-4/6 when bytes trail
    if (frame == 0) {
      FUZZ_CHECK(!binary || n < 5 || n < 5 + std::size_t{protocol::load_le32(msg + 1)});
      continue;
    }
    FUZZ_CHECK(frame <= n && frame == 5 + std::size_t{protocol::load_le32(msg + 1)});
    const auto f = protocol::decode_frame(fuzz::bytes(msg, frame));
    FUZZ_CHECK(f.body_size == frame - 5);
    stream.insert(stream.end(), msg, msg + frame);
    ++kept;
  }
  conformance::RawFrameSplitter splitter(protocol::kMaxBodySize);
  FUZZ_CHECK(splitter.feed(stream.data(), stream.size()));
  FUZZ_CHECK(splitter.ready().size() == kept && splitter.partial() == 0);
  const auto frames = protocol::decode_stream(stream);
  FUZZ_CHECK(frames.size() == kept);
  std::uint64_t offset = 0;  // both split at the same places
  for (std::size_t i = 0; i < kept; ++i) {
    FUZZ_CHECK(frames[i].offset == offset);
    offset += splitter.ready()[i].size();
  }
  return 0;
}
