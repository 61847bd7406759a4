// Properties of the codec and the stream decoder over arbitrary values and
// hostile bytes (RapidCheck, fixed seed via RC_PARAMS in ctest).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <msgpack.hpp>

#include "protocol/frame_stream.hpp"
#include "protocol/json.hpp"
#include "tests/support/generators.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;

RC_GTEST_PROP(ENC_1, DecodeOfEncodeIsIdentityForEveryMessageType, ()) {
  const Message m = *gen_message();
  RC_TAG(message_name(m));
  const Bytes frame = encode_frame(m);
  const DecodedFrame d = decode_frame(frame);
  RC_ASSERT(d.message.has_value());
  RC_ASSERT(d.findings.empty());  // canonical: not even a SHOULD
  RC_ASSERT(*d.message == m);
  RC_ASSERT(d.msg_type == message_code(m));
}

RC_GTEST_PROP(AppendixD, JsonModelRoundTrips, ()) {
  const Message m = *gen_message();
  const auto text = dump_json(message_to_json(m));
  const auto back = message_from_json(Json::parse(text));
  RC_ASSERT(back.message.has_value());
  RC_ASSERT(*back.message == m);
}

// msgpack-cxx (an independent decoder) reads everything we write as one
// array of the message's field count, with nothing left over.
RC_GTEST_PROP(ENC_1, MsgpackCxxReadsEveryEncodedBody, ()) {
  const Message m = *gen_message();
  const Bytes body = encode_body(m);
  std::size_t off = 0;
  msgpack::object_handle oh =
      msgpack::unpack(reinterpret_cast<const char*>(body.data()), body.size(), off);
  RC_ASSERT(off == body.size());
  RC_ASSERT(oh.get().type == msgpack::type::ARRAY);
  const std::size_t fields =
      std::visit([](const auto& x) { return field_count<std::decay_t<decltype(x)>>(); }, m);
  RC_ASSERT(oh.get().via.array.size == fields);
}

struct Event {
  StreamEvent::Kind kind;
  std::uint8_t msg_type;
  std::uint64_t offset;
  Bytes body;
  std::string rule;
  bool operator==(const Event&) const = default;
};

std::vector<Event> drain(FrameStream& s) {
  std::vector<Event> out;
  for (;;) {
    StreamEvent ev = s.next();
    if (ev.kind == StreamEvent::Kind::NeedMore || ev.kind == StreamEvent::Kind::Closed) return out;
    out.push_back(Event{ev.kind, ev.msg_type, ev.offset, Bytes(ev.body.begin(), ev.body.end()),
                        std::string(ev.error.rule)});
  }
}

std::vector<Event> events_chunked(const Bytes& bytes, const std::vector<std::size_t>& cuts,
                                  const DecodeLimits& limits = {}) {
  FrameStream s(limits);
  std::vector<Event> out;
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    cut = std::min(cut, bytes.size());
    if (cut < at) continue;
    s.feed(std::span(bytes).subspan(at, cut - at));
    auto evs = drain(s);
    out.insert(out.end(), evs.begin(), evs.end());
    at = cut;
  }
  s.feed(std::span(bytes).subspan(at));
  auto evs = drain(s);
  out.insert(out.end(), evs.begin(), evs.end());
  for (const auto& f : s.finish())
    out.push_back(Event{StreamEvent::Kind::Error, 0, f.offset, {}, std::string(f.rule)});
  return out;
}

RC_GTEST_PROP(FRAME_8, AnyChunkingYieldsTheSameFrames, ()) {
  const auto messages =
      *rc::gen::resize(8, rc::gen::container<std::vector<Message>>(gen_message()));
  Bytes bytes;
  for (const auto& m : messages) {
    append_frame(m, bytes);
    if (*rc::gen::inRange(0, 4) == 0) {  // an unknown-code frame now and then (FRAME-3)
      const Bytes junk = *rc::gen::resize(20, rc::gen::arbitrary<Bytes>());
      bytes.push_back(0x90);
      for (int k = 0; k < 4; ++k)
        bytes.push_back(static_cast<std::uint8_t>(junk.size() >> (8 * k)));
      bytes.insert(bytes.end(), junk.begin(), junk.end());
    }
  }
  if (*rc::gen::arbitrary<bool>())
    bytes.resize(bytes.size() - std::min<std::size_t>(bytes.size(), 3));
  auto cuts = *rc::gen::container<std::vector<std::size_t>>(
      rc::gen::inRange<std::size_t>(0, bytes.size() + 1));
  std::sort(cuts.begin(), cuts.end());
  const auto whole = events_chunked(bytes, {});
  RC_ASSERT(events_chunked(bytes, cuts) == whole);
  // And the frames are the messages we wrote.
  std::size_t k = 0;
  for (const auto& ev : whole) {
    if (ev.kind != StreamEvent::Kind::Frame) continue;
    RC_ASSERT(k < messages.size());
    const auto body = decode_body(ev.msg_type, ev.body);
    RC_ASSERT(body.message.has_value());
    RC_ASSERT(*body.message == messages[k++]);
  }
}

// Anything decoded without a single finding is canonical, so it re-encodes to
// the very same bytes. Checked on everything the hostile properties produce.
void check_decoded(const DecodedFrame& f, std::span<const std::uint8_t> frame_bytes) {
  RC_ASSERT(f.message.has_value() || has_must(f.findings));
  if (f.message && f.findings.empty()) {
    const Bytes again = encode_frame(*f.message);
    RC_ASSERT(std::equal(again.begin(), again.end(), frame_bytes.begin(), frame_bytes.end()));
  }
}

RC_GTEST_PROP(FRAME_10, ArbitraryBytesNeverCrashAndStayBounded, (const Bytes& bytes)) {
  DecodeLimits limits;
  limits.max_body = *rc::gen::inRange<std::uint32_t>(0, 64);
  auto cuts = *rc::gen::container<std::vector<std::size_t>>(
      rc::gen::inRange<std::size_t>(0, bytes.size() + 1));
  std::sort(cuts.begin(), cuts.end());
  FrameStream s(limits);
  std::size_t at = 0;
  cuts.push_back(bytes.size());
  for (const std::size_t cut : cuts) {
    if (!s.feed(std::span(bytes).subspan(at, cut - at))) break;
    at = cut;
    for (;;) {
      auto ev = s.next();
      if (ev.kind == StreamEvent::Kind::NeedMore || ev.kind == StreamEvent::Kind::Closed) break;
      if (ev.kind == StreamEvent::Kind::Frame) {
        RC_ASSERT(ev.body.size() <= limits.max_body);
        const auto d = decode_body(ev.msg_type, ev.body, limits);
        RC_ASSERT(d.message.has_value() || has_must(d.findings));
      }
    }
    RC_ASSERT(s.max_buffered() <= kFrameHeaderSize + limits.max_body);
  }
  s.finish();
  for (const auto& f : decode_stream(bytes))
    RC_ASSERT(f.message.has_value() || !f.findings.empty());
}

RC_GTEST_PROP(FRAME_10, ArbitraryBodiesOfEveryCodeNeverCrash, ()) {
  const auto code = *rc::gen::elementOf(
      std::vector<std::uint8_t>{0x01, 0x02, 0x10, 0x11, 0x12, 0x14, 0x20, 0x21, 0x22, 0x23, 0x30,
                                0x40, 0x41, 0x50, 0x52, 0x60, 0x61, 0x70, 0x80, 0x81, 0x82, 0xff});
  // Structured noise: valid-looking prefixes of real bodies plus random tails.
  Bytes body = encode_body(*gen_message());
  body.resize(*rc::gen::inRange<std::size_t>(0, body.size() + 1));
  const Bytes tail = *rc::gen::arbitrary<Bytes>();
  body.insert(body.end(), tail.begin(), tail.end());
  Bytes frame{code, 0, 0, 0, 0};
  const auto n = static_cast<std::uint32_t>(body.size());
  for (int k = 0; k < 4; ++k) frame[1 + k] = static_cast<std::uint8_t>(n >> (8 * k));
  frame.insert(frame.end(), body.begin(), body.end());
  check_decoded(decode_frame(frame), frame);
}

RC_GTEST_PROP(FRAME_10, BitFlippedFramesNeverCrash, ()) {
  Bytes frame = encode_frame(*gen_message());
  const auto flips = *rc::gen::inRange(1, 4);
  for (int k = 0; k < flips; ++k) {
    const auto bit = *rc::gen::inRange<std::size_t>(0, frame.size() * 8);
    frame[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  }
  check_decoded(decode_frame(frame), frame);
}

RC_GTEST_PROP(FRAME_1, EveryTruncatedFrameIsRejected, ()) {
  const Bytes frame = encode_frame(*gen_message());
  const auto keep = *rc::gen::inRange<std::size_t>(0, frame.size());
  const auto d = decode_frame(std::span(frame).first(keep));
  RC_ASSERT(!d.message.has_value());
  RC_ASSERT(has_must_rule(d.findings, "FRAME-1"));
  const auto s = decode_stream(std::span(frame).first(keep));
  RC_ASSERT(s.size() == (keep == 0 ? 0u : 1u));  // an empty stream is not truncated
  if (keep > 0) RC_ASSERT(has_must_rule(s[0].findings, "FRAME-8"));
}

RC_GTEST_PROP(FRAME_9, TamperedLengthsNeverCrash, ()) {
  Bytes frame = encode_frame(*gen_message());
  const auto n = *rc::gen::weightedOneOf<std::uint32_t>(
      {{2, rc::gen::arbitrary<std::uint32_t>()},
       {2, rc::gen::inRange<std::uint32_t>(0, static_cast<std::uint32_t>(frame.size()))},
       {1, rc::gen::just(kMaxBodySize + 1)}});
  for (int k = 0; k < 4; ++k) frame[1 + k] = static_cast<std::uint8_t>(n >> (8 * k));
  const auto d = decode_frame(frame);
  if (n > kMaxBodySize) RC_ASSERT(has_must_rule(d.findings, "FRAME-9"));
  if (n < frame.size() - kFrameHeaderSize) {
    check_decoded(d, std::span(frame).first(kFrameHeaderSize + n));
  }
  for (const auto& f : decode_stream(frame))
    RC_ASSERT(f.message.has_value() || !f.findings.empty());
}

}  // namespace
}  // namespace syncsim::test
