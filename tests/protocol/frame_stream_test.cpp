// The incremental stream decoder (raw TCP carriage, §2.4, FRAME-8).
#include "protocol/frame_stream.hpp"

#include <gtest/gtest.h>

#include "protocol/json.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;

const char* kPing = "ff0500000092cd3039c2";
const char* kPong = "ff0500000092cd3039c3";

TEST(FRAME_8, BackToBackFramesOneByteAtATime) {
  const Bytes bytes = hex(std::string(kPing) + kPong);
  FrameStream s;
  std::vector<std::uint64_t> offsets;
  for (const std::uint8_t b : bytes) {
    ASSERT_TRUE(s.feed(std::span<const std::uint8_t>(&b, 1)));
    for (;;) {
      auto ev = s.next();
      if (ev.kind == StreamEvent::Kind::NeedMore) break;
      ASSERT_EQ(ev.kind, StreamEvent::Kind::Frame);
      offsets.push_back(ev.offset);
      EXPECT_EQ(ev.body.size(), 5u);
    }
  }
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{0, 10}));
  EXPECT_TRUE(s.finish().empty());
  EXPECT_LE(s.max_buffered(), 10u);
}

TEST(FRAME_8, EndOfStreamInsideAFrameIsTruncation) {
  const auto frames = decode_stream(hex(std::string(kPing) + "ff050000"));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(frames[0].valid());
  EXPECT_TRUE(has_must_rule(frames[1].findings, "FRAME-8"));
  EXPECT_EQ(frames[1].findings[0].offset, 10u);
  EXPECT_EQ(frames[1].msg_type, 0xff);
}

TEST(FRAME_3, UnknownCodeIsSkippedAndTheStreamContinues) {
  FrameStream s;
  const Bytes bytes = hex(std::string("0303000000aabbcc") + kPing);
  // Split inside the unknown frame's body: skipped bytes are never buffered.
  s.feed(std::span(bytes).first(7));
  auto ev = s.next();
  ASSERT_EQ(ev.kind, StreamEvent::Kind::Error);
  EXPECT_EQ(ev.error.rule, "FRAME-2");
  EXPECT_FALSE(ev.fatal);
  EXPECT_EQ(s.next().kind, StreamEvent::Kind::NeedMore);
  s.feed(std::span(bytes).subspan(7));
  ev = s.next();
  ASSERT_EQ(ev.kind, StreamEvent::Kind::Frame);
  EXPECT_EQ(ev.offset, 8u);
  EXPECT_EQ(s.max_buffered(), 0u);
}

TEST(FRAME_9, OverLongLengthClosesTheStreamWithoutBuffering) {
  FrameStream s;
  const Bytes bytes = hex("10fcffff00aabbccdd");
  s.feed(std::span(bytes).first(3));
  EXPECT_EQ(s.next().kind, StreamEvent::Kind::NeedMore);
  s.feed(std::span(bytes).subspan(3));
  auto ev = s.next();
  ASSERT_EQ(ev.kind, StreamEvent::Kind::Error);
  EXPECT_EQ(ev.error.rule, "FRAME-9");
  EXPECT_TRUE(ev.fatal);
  EXPECT_EQ(ev.error.offset, 1u);
  EXPECT_EQ(s.next().kind, StreamEvent::Kind::Closed);
  EXPECT_LE(s.max_buffered(), kFrameHeaderSize);
  EXPECT_FALSE(s.feed(bytes));
}

TEST(FRAME_9, ConfiguredLowerLimitApplies) {
  DecodeLimits limits;
  limits.max_body = 4;
  const auto frames = decode_stream(hex(kPing), limits);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(has_must_rule(frames[0].findings, "FRAME-9"));
}

TEST(FRAME_8, SplitFrameBufferGrowsOnlyWithArrivingBytes) {
  // A header declaring 16 MiB followed by 3 body bytes buffers 8 bytes, not 16 MiB.
  FrameStream s;
  const Bytes bytes = hex("10fbffff00010203");
  s.feed(bytes);
  EXPECT_EQ(s.next().kind, StreamEvent::Kind::NeedMore);
  EXPECT_EQ(s.buffered(), 8u);
  const auto tail = s.finish();
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].rule, "FRAME-8");
}

TEST(FrameStream, FeedingBeforeDrainingIsRefused) {
  FrameStream s;
  const Bytes bytes = hex(std::string(kPing) + kPong);
  EXPECT_TRUE(s.feed(bytes));
  EXPECT_FALSE(s.feed(bytes));
  EXPECT_EQ(s.next().kind, StreamEvent::Kind::Frame);
  EXPECT_EQ(s.next().kind, StreamEvent::Kind::Frame);
  EXPECT_EQ(s.next().kind, StreamEvent::Kind::NeedMore);
  EXPECT_TRUE(s.feed(bytes));
}

}  // namespace
}  // namespace syncsim::test
