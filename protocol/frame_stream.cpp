#include "protocol/frame_stream.hpp"

#include <algorithm>
#include <cstdio>

#include "protocol/assert.hpp"

namespace syncsim::protocol {
namespace {
StreamEvent event(StreamEvent::Kind kind) {
  StreamEvent ev;
  ev.kind = kind;
  return ev;
}
}  // namespace

bool FrameStream::feed(std::span<const std::uint8_t> bytes) {
  if (closed_ || !input_.empty()) return false;
  input_ = bytes;
  return true;
}

void FrameStream::take(std::size_t n) {
  SYNCSIM_ASSERT_MSG(n <= input_.size(), "FrameStream took more than it was fed");
  buffer_.insert(buffer_.end(), input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(n));
  input_ = input_.subspan(n);
  max_buffered_ = std::max(max_buffered_, buffer_.size());
  SYNCSIM_ASSERT_MSG(buffer_.size() <= std::size_t{kFrameHeaderSize} + limits_.max_body,
                     "FrameStream buffered more than one frame");
}

// Judges a complete 5-byte header. Returns Kind::Frame with body empty when
// the header is acceptable and the body must now be gathered.
StreamEvent FrameStream::header_event(const std::uint8_t* header) {
  StreamEvent ev;
  ev.msg_type = header[0];
  ev.offset = consumed_;
  const FrameHeader h = read_frame_header(header);
  const std::uint32_t n = h.body_size;
  if (h.too_large(limits_.max_body)) {
    ev.kind = StreamEvent::Kind::Error;
    ev.fatal = true;
    ev.error = frame_too_large(h, consumed_ + 1, limits_.max_body);
    ev.error.message += "; connection closed unread";
    return ev;
  }
  if (!is_known_code(header[0])) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "unknown message type 0x%02x; %u body bytes skipped", header[0],
                  n);
    ev.kind = StreamEvent::Kind::Error;
    ev.msg_type = header[0];  // the code skipped
    ev.error = Finding{"FRAME-2", Level::Must, Problem::UnknownMessageType, consumed_, buf};
    return ev;
  }
  ev.kind = StreamEvent::Kind::Frame;
  return ev;
}

// The header (already consumed from buffer or input) was refused: a fatal
// error closes the stream, an unknown code skips its n body bytes as they
// arrive (counted as consumed now).
StreamEvent FrameStream::after_bad_header(StreamEvent ev, std::uint32_t n) {
  consumed_ += kFrameHeaderSize;
  if (ev.fatal) {
    closed_ = true;
    input_ = {};
  } else {
    skip_ = n;
    consumed_ += n;
  }
  return ev;
}

StreamEvent FrameStream::next() {
  if (closed_) return event(StreamEvent::Kind::Closed);

  // Skipping the body of an unknown-code frame (FRAME-3): nothing is kept.
  if (skip_ > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, input_.size()));
    input_ = input_.subspan(n);
    skip_ -= n;
    if (skip_ > 0) return event(StreamEvent::Kind::NeedMore);
  }

  // Complete a split frame from the buffer first.
  if (!buffer_.empty()) {
    if (buffer_.size() < kFrameHeaderSize) {
      take(std::min(kFrameHeaderSize - buffer_.size(), input_.size()));
      if (buffer_.size() < kFrameHeaderSize) return event(StreamEvent::Kind::NeedMore);
    }
    StreamEvent ev = header_event(buffer_.data());
    if (ev.kind == StreamEvent::Kind::Error) {
      const std::uint32_t n = load_le32(buffer_.data() + 1);
      buffer_.clear();
      return after_bad_header(std::move(ev), n);
    }
    const std::size_t want = kFrameHeaderSize + load_le32(buffer_.data() + 1);
    take(std::min(want - buffer_.size(), input_.size()));
    if (buffer_.size() < want) return event(StreamEvent::Kind::NeedMore);
    // The frame is whole. Move it out so the view stays valid until next().
    held_.swap(buffer_);
    buffer_.clear();
    ev.frame = std::span<const std::uint8_t>(held_);
    ev.body = ev.frame.subspan(kFrameHeaderSize);
    consumed_ += want;
    return ev;
  }

  if (input_.empty()) return event(StreamEvent::Kind::NeedMore);
  if (input_.size() < kFrameHeaderSize) {
    take(input_.size());
    return event(StreamEvent::Kind::NeedMore);
  }
  StreamEvent ev = header_event(input_.data());
  const std::uint32_t n = load_le32(input_.data() + 1);
  if (ev.kind == StreamEvent::Kind::Error) {
    input_ = input_.subspan(kFrameHeaderSize);
    return after_bad_header(std::move(ev), n);
  }
  if (input_.size() - kFrameHeaderSize < n) {  // split frame: start buffering
    take(input_.size());
    return event(StreamEvent::Kind::NeedMore);
  }
  ev.frame = input_.subspan(0, kFrameHeaderSize + n);  // zero-copy
  ev.body = ev.frame.subspan(kFrameHeaderSize);
  input_ = input_.subspan(kFrameHeaderSize + n);
  consumed_ += kFrameHeaderSize + n;
  return ev;
}

int FrameStream::partial_type() const {
  if (skip_ > 0) return -1;
  if (!buffer_.empty()) return buffer_[0];
  if (!input_.empty()) return input_[0];
  return -1;
}

Findings FrameStream::finish() {
  Findings out;
  if (closed_) return out;
  if (!buffer_.empty() || skip_ > 0 || !input_.empty()) {
    std::string msg;
    std::uint64_t at = consumed_;  // the start of the unfinished frame
    if (skip_ > 0) {
      at = consumed_ - skip_;
      msg = "truncated: stream ended with " + std::to_string(skip_) +
            " body bytes of an unknown-code frame missing";
    } else {
      const std::size_t have = buffer_.size() + input_.size();
      msg = "truncated: stream ended " + std::to_string(have) + " bytes into a frame";
      if (buffer_.size() >= kFrameHeaderSize) {
        msg += " that declares " + std::to_string(load_le32(buffer_.data() + 1)) + " body bytes";
      } else {
        msg += " header";
      }
    }
    out.push_back(Finding{"FRAME-8", Level::Must, Problem::Truncated, at, std::move(msg)});
  }
  closed_ = true;
  buffer_.clear();
  input_ = {};
  return out;
}

void decode_chunk(FrameStream& stream, std::span<const std::uint8_t> chunk,
                  const DecodeLimits& limits, const std::function<void(DecodedFrame&&)>& on_frame) {
  if (!stream.feed(chunk)) return;
  for (;;) {
    StreamEvent ev = stream.next();
    if (ev.kind == StreamEvent::Kind::NeedMore || ev.kind == StreamEvent::Kind::Closed) return;
    DecodedFrame f;
    f.msg_type = ev.msg_type;
    f.offset = ev.offset;
    if (ev.kind == StreamEvent::Kind::Error) {
      f.findings.push_back(std::move(ev.error));
      on_frame(std::move(f));
      if (ev.fatal) return;
      continue;
    }
    f.body_size = static_cast<std::uint32_t>(ev.body.size());
    DecodedBody body = decode_body(ev.msg_type, ev.body, limits, ev.offset + kFrameHeaderSize);
    f.message = std::move(body.message);
    f.findings = std::move(body.findings);
    on_frame(std::move(f));
  }
}

void decode_end(FrameStream& stream, const std::function<void(DecodedFrame&&)>& on_frame) {
  const int partial = stream.partial_type();
  for (Finding& tail : stream.finish()) {
    DecodedFrame f;
    if (partial >= 0) f.msg_type = static_cast<std::uint8_t>(partial);
    f.offset = tail.offset;
    f.findings.push_back(std::move(tail));
    on_frame(std::move(f));
  }
}

std::vector<DecodedFrame> decode_stream(std::span<const std::uint8_t> bytes,
                                        const DecodeLimits& limits) {
  std::vector<DecodedFrame> frames;
  FrameStream stream(limits);
  const auto keep = [&frames](DecodedFrame&& f) { frames.push_back(std::move(f)); };
  decode_chunk(stream, bytes, limits, keep);
  decode_end(stream, keep);
  return frames;
}

}  // namespace syncsim::protocol
