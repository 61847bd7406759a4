// Incremental frame decoder for byte streams (raw TCP carriage, §2.4): feed
// bytes in any chunking, pull frames or errors. Whole frames inside the fed
// chunk are returned without copying; only a frame split across chunks is
// buffered, and the buffer grows with the bytes that actually arrive, never
// from the declared length, and never beyond 5 + limits.max_body.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "protocol/codec.hpp"

namespace syncsim::protocol {

struct StreamEvent {
  enum class Kind : unsigned char {
    Frame,     // msg_type, offset and body are set
    Error,     // error is set; fatal says whether the stream is now closed (msg_type: the
               // unknown code of a frame skipped, FRAME-3)
    NeedMore,  // everything fed so far is consumed: feed more, or finish()
    Closed,    // a fatal error happened earlier; nothing more comes out
  };
  Kind kind = Kind::NeedMore;
  std::uint8_t msg_type = 0;
  std::uint64_t offset = 0;             // stream offset of the frame header
  std::span<const std::uint8_t> body;   // valid until the next feed() or next()
  std::span<const std::uint8_t> frame;  // Frame: header and body as read, valid as long as body
  Finding error;
  bool fatal = false;
};

class FrameStream {
 public:
  explicit FrameStream(DecodeLimits limits = {}) : limits_(limits) {}

  // Hands the decoder the next chunk. The bytes must stay valid until next()
  // returns NeedMore. Returns false (and ignores the chunk) if the previous
  // chunk was not fully consumed or the stream is closed.
  bool feed(std::span<const std::uint8_t> bytes);

  // The next frame, error, or NeedMore.
  StreamEvent next();

  // End of stream. Returns a FRAME-8 truncation finding when the stream ends
  // inside a frame; an empty vector when it ends on a frame boundary.
  Findings finish();

  // The code of a frame begun but not finished, or -1.
  int partial_type() const;

  std::uint64_t consumed() const { return consumed_; }        // stream bytes consumed
  std::size_t buffered() const { return buffer_.size(); }     // bytes held for a split frame
  std::size_t max_buffered() const { return max_buffered_; }  // high-water mark of buffered()
  bool closed() const { return closed_; }

 private:
  StreamEvent header_event(const std::uint8_t* header);
  StreamEvent after_bad_header(StreamEvent ev, std::uint32_t n);
  void take(std::size_t n);  // consumes n bytes of input into the buffer

  DecodeLimits limits_;
  std::span<const std::uint8_t> input_;  // current chunk, unconsumed part
  std::vector<std::uint8_t> buffer_;     // a frame split across chunks
  std::vector<std::uint8_t> held_;       // the last reassembled frame, viewed by its event
  std::uint64_t consumed_ = 0;
  std::uint64_t skip_ = 0;  // body bytes of an unknown-code frame still to skip
  std::size_t max_buffered_ = 0;
  bool closed_ = false;
};

// Decodes every frame (or framing error) that one more chunk completes and
// hands each to on_frame: the building block for inputs read in pieces
// (`syncsim decode` on a file of any size). decode_end reports a stream
// that ends inside a frame (FRAME-8).
void decode_chunk(FrameStream& stream, std::span<const std::uint8_t> chunk,
                  const DecodeLimits& limits, const std::function<void(DecodedFrame&&)>& on_frame);
void decode_end(FrameStream& stream, const std::function<void(DecodedFrame&&)>& on_frame);

// Convenience for whole inputs (files, tests): every frame of a complete
// stream, decoded and in order, with a trailing truncation as a final
// DecodedFrame holding only the FRAME-8 finding.
std::vector<DecodedFrame> decode_stream(std::span<const std::uint8_t> bytes,
                                        const DecodeLimits& limits = {});

}  // namespace syncsim::protocol
