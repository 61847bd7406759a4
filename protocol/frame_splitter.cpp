#include "protocol/frame_splitter.hpp"

#include <utility>

#include "protocol/assert.hpp"

namespace syncsim::protocol {

bool FrameSplitter::feed(std::span<const std::uint8_t> bytes) {
  if (error_) return false;
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  while (buffer_.size() - start_ >= kFrameHeaderSize) {
    const FrameHeader h = read_frame_header(buffer_.data() + start_);
    if (h.too_large(max_body_)) {
      error_ = frame_too_large(h, offset_ + 1, max_body_);
      return false;  // buffer_[start_..] stays for take_rest()
    }
    const std::size_t size = std::size_t{kFrameHeaderSize} + h.body_size;
    if (buffer_.size() - start_ < size) break;
    const auto first = buffer_.begin() + static_cast<std::ptrdiff_t>(start_);
    ready_.emplace_back(first, first + static_cast<std::ptrdiff_t>(size));
    start_ += size;
    offset_ += size;
  }
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
  start_ = 0;
  SYNCSIM_ASSERT_MSG(buffer_.size() < std::size_t{kFrameHeaderSize} + max_body_,
                     "FrameSplitter held more than one unfinished frame");
  return true;
}

bool FrameSplitter::pop(Bytes& frame) {
  if (taken_ == ready_.size()) {
    ready_.clear();
    taken_ = 0;
    return false;
  }
  frame = std::move(ready_[taken_++]);
  return true;
}

Bytes FrameSplitter::take_rest() {
  if (!error_) return {};
  Bytes rest(buffer_.begin() + static_cast<std::ptrdiff_t>(start_), buffer_.end());
  buffer_.clear();
  start_ = 0;
  return rest;
}

}  // namespace syncsim::protocol
