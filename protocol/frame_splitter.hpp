// Splits a byte stream into whole raw frames by their headers alone, for
// relays that pass frames on rather than decode them: the simulator's
// frame-fault links and the harness's live connections and proxy. A frame of
// an unknown code or an undecodable body comes out whole. The limit is
// FRAME-9's (frame_header.hpp); memory holds at most one unfinished frame,
// grown by the bytes that arrive, never from a declared length.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "protocol/frame_header.hpp"
#include "protocol/messages.hpp"

namespace syncsim::protocol {

class FrameSplitter {
 public:
  explicit FrameSplitter(std::uint32_t max_body = kMaxBodySize) : max_body_(max_body) {}

  // Appends bytes and splits off every whole frame. Returns false once a
  // header declares more than the limit: error() holds the FRAME-9 finding
  // (offset: the length field in the stream) and nothing more is split.
  bool feed(std::span<const std::uint8_t> bytes);

  // The next whole frame split off, header included; false when none is left.
  bool pop(Bytes& frame);
  std::size_t frames() const { return ready_.size() - taken_; }  // split off, not yet popped
  const std::optional<Finding>& error() const { return error_; }
  std::size_t partial() const { return buffer_.size() - start_; }  // bytes of an unfinished frame
  // After an error: the bytes from the refused header on, handed over once.
  Bytes take_rest();

 private:
  std::uint32_t max_body_;
  Bytes buffer_;
  std::size_t start_ = 0;     // buffer_[start_..] is not yet split
  std::uint64_t offset_ = 0;  // stream offset of buffer_[start_]
  std::vector<Bytes> ready_;  // a vector, not a deque: an idle splitter allocates nothing
  std::size_t taken_ = 0;     // ready_[..taken_] were popped
  std::optional<Finding> error_;
};

}  // namespace syncsim::protocol
