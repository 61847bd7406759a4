// FrameStream fed in chunks the input chooses must give exactly the events
// one whole feed gives, and never buffer more than one frame. Input: byte 0
// picks a small body limit (so FRAME-9 is reachable), bytes 1-4 the chunk
// sizes (cycled; 0 means 64 KiB), the rest is the stream.
#include "protocol/frame_stream.hpp"

#include <vector>

#include "fuzz/fuzz_util.hpp"

using namespace syncsim;
using protocol::StreamEvent;

namespace {

struct Event {
  StreamEvent::Kind kind;
  std::uint8_t msg_type;
  std::uint64_t offset;
  protocol::Bytes body;
  std::string error;
  bool fatal;
  bool operator==(const Event&) const = default;
};

// Drains the stream after one feed, copying each event (bodies die at next()).
void drain(protocol::FrameStream& s, std::vector<Event>& out) {
  for (int guard = 0; guard < 1'000'000; ++guard) {
    const auto ev = s.next();
    if (ev.kind == StreamEvent::Kind::NeedMore || ev.kind == StreamEvent::Kind::Closed) return;
    out.push_back(
        Event{ev.kind,
              ev.msg_type,
              ev.offset,
              {ev.body.begin(), ev.body.end()},
              ev.kind == StreamEvent::Kind::Error ? protocol::format_finding(ev.error) : "",
              ev.fatal});
  }
  FUZZ_CHECK(!"FrameStream::next() never said NeedMore");
}

std::vector<Event> run(std::span<const std::uint8_t> in, const protocol::DecodeLimits& limits,
                       const std::uint8_t* sizes, std::string& end) {
  protocol::FrameStream s(limits);
  std::vector<Event> events;
  std::size_t pos = 0, i = 0;
  while (pos < in.size() && !s.closed()) {
    const std::uint8_t c = sizes ? sizes[i++ % 4] : 0;
    const std::size_t want = !sizes ? in.size() : c != 0 ? c : 65536;
    const std::size_t n = std::min(want, in.size() - pos);
    FUZZ_CHECK(s.feed(in.subspan(pos, n)));
    drain(s, events);
    pos += n;
    FUZZ_CHECK(s.buffered() <= protocol::kFrameHeaderSize + limits.max_body);
  }
  for (const auto& f : s.finish()) end += protocol::format_finding(f) + "\n";
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 5) return 0;
  protocol::DecodeLimits limits;
  if (data[0] != 0) limits.max_body = data[0] * 64u;
  const auto stream = fuzz::bytes(data + 5, size - 5);
  std::string whole_end, chunked_end;
  const auto whole = run(stream, limits, nullptr, whole_end);
  const auto chunked = run(stream, limits, data + 1, chunked_end);
  FUZZ_CHECK(whole == chunked);
  FUZZ_CHECK(whole_end == chunked_end);
  (void)protocol::decode_stream(stream, limits);
  return 0;
}
