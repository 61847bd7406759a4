// The one frame header reader and its one limit (frame_header.hpp), and the
// relays' splitter built on it (frame_splitter.hpp).
#include "protocol/frame_header.hpp"

#include <gtest/gtest.h>

#include "protocol/frame_splitter.hpp"
#include "protocol/frame_stream.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;

constexpr std::uint32_t kLargest = kLargestBody;

Bytes frame_of(std::uint32_t n) { return unknown_frame(n); }

TEST(FRAME_9, TheLimitIsSixteenMebibytesHeaderIncluded) {
  EXPECT_EQ(kMaxFrameSize, 16'777'216u);
  EXPECT_EQ(kMaxBodySize, kLargest);
  EXPECT_FALSE(read_frame_header(frame_of(kLargest).data()).too_large());
  EXPECT_TRUE(read_frame_header(frame_of(kLargest + 1).data()).too_large());
}

TEST(FRAME_9, FrameStreamAcceptsTheLargestFrameAndRefusesOneByteMore) {
  const Bytes largest = frame_of(kLargest);
  FrameStream ok(DecodeLimits{});
  ok.feed(largest);
  const auto ev = ok.next();  // unknown code: skipped, but not refused
  ASSERT_EQ(ev.kind, StreamEvent::Kind::Error);
  EXPECT_FALSE(ev.fatal);
  EXPECT_EQ(ok.next().kind, StreamEvent::Kind::NeedMore);
  EXPECT_EQ(ok.consumed(), kMaxFrameSize);

  const Bytes over = frame_of(kLargest + 1);
  FrameStream s;
  s.feed(std::span(over).first(kFrameHeaderSize));  // the header alone decides
  const auto bad = s.next();
  ASSERT_EQ(bad.kind, StreamEvent::Kind::Error);
  EXPECT_EQ(bad.error.rule, "FRAME-9");
  EXPECT_TRUE(bad.fatal);
  EXPECT_EQ(s.max_buffered(), 0u);
}

TEST(FrameSplitter, SplitsFramesAcrossChunksWhateverTheirCode) {
  FrameSplitter s(1024);
  const Bytes two{0x99, 2, 0, 0, 0, 7, 8, 0xFF, 1, 0, 0, 0, 0xC0};
  ASSERT_TRUE(s.feed(std::span(two).first(3)));
  EXPECT_EQ(s.frames(), 0u);
  EXPECT_EQ(s.partial(), 3u);
  ASSERT_TRUE(s.feed(std::span(two).subspan(3)));
  ASSERT_EQ(s.frames(), 2u);
  Bytes f;
  ASSERT_TRUE(s.pop(f));
  EXPECT_EQ(f, (Bytes{0x99, 2, 0, 0, 0, 7, 8}));  // unknown code, kept whole
  ASSERT_TRUE(s.pop(f));
  EXPECT_EQ(f, (Bytes{0xFF, 1, 0, 0, 0, 0xC0}));
  EXPECT_FALSE(s.pop(f));
  EXPECT_EQ(s.partial(), 0u);
}

TEST(FRAME_9, FrameSplitterRefusesAnOversizedLengthWithItsOffset) {
  FrameSplitter s(1024);
  const Bytes bytes{0xFF, 1, 0, 0, 0, 0xC0, 0x10, 0x01, 0x04, 0, 0, 0xEE};
  EXPECT_FALSE(s.feed(bytes));
  ASSERT_TRUE(s.error());
  EXPECT_EQ(s.error()->rule, "FRAME-9");
  EXPECT_EQ(s.error()->offset, 7u);  // the length field of the frame at offset 6
  EXPECT_EQ(s.error()->message,
            "frame too large: declared body length 1025 exceeds the limit of 1024");
  EXPECT_EQ(s.frames(), 1u);                        // what came before is kept
  EXPECT_FALSE(s.feed(std::span(bytes).first(1)));  // and nothing after
  EXPECT_EQ(s.take_rest(), (Bytes{0x10, 0x01, 0x04, 0, 0, 0xEE}));
  EXPECT_TRUE(s.take_rest().empty());
}

TEST(FRAME_9, FrameSplitterAtTheDefaultLimit) {
  FrameSplitter ok;
  const Bytes largest = frame_of(kLargest);
  for (std::size_t at = 0; at < largest.size(); at += 1u << 20) {
    ASSERT_TRUE(ok.feed(
        std::span(largest).subspan(at, std::min<std::size_t>(1u << 20, largest.size() - at))));
  }
  Bytes f;
  ASSERT_TRUE(ok.pop(f));
  EXPECT_EQ(f.size(), kMaxFrameSize);

  FrameSplitter s;
  EXPECT_FALSE(s.feed(unknown_frame(kLargest + 1, false)));  // the header alone decides
  EXPECT_TRUE(s.error());
}

TEST(FRAME_4, OneMessageIsOneFrame) {
  const Bytes ping = hex("ff0500000092cd3039c2");
  const auto m = frame_of_message(ping);
  ASSERT_EQ(m.kind, MessageFrame::Kind::Frame);
  EXPECT_EQ(m.frame.size(), ping.size());
  EXPECT_EQ(m.trailing, 0u);
  Bytes longer = ping;
  longer.push_back(0);
  EXPECT_EQ(frame_of_message(longer).trailing, 1u);  // FRAME-6
  EXPECT_EQ(frame_of_message(longer).frame.size(), ping.size());
}

TEST(FRAME_5, AShortMessageIsNoFrame) {
  EXPECT_EQ(frame_of_message(hex("ff050000")).kind, MessageFrame::Kind::Short);
  EXPECT_EQ(frame_of_message(hex("ff0500000092cd30")).kind, MessageFrame::Kind::Short);
  EXPECT_EQ(frame_of_message({}).kind, MessageFrame::Kind::Short);
}

TEST(FRAME_9, AMessageDeclaringTooMuchIsRefusedByItsHeader) {
  EXPECT_EQ(frame_of_message(hex("99fcffff00")).kind, MessageFrame::Kind::TooLarge);
  EXPECT_EQ(frame_of_message(hex("99fbffff00")).kind, MessageFrame::Kind::Short);
  EXPECT_EQ(frame_of_message(frame_of(kLargest)).kind, MessageFrame::Kind::Frame);
}

}  // namespace
}  // namespace syncsim::test
