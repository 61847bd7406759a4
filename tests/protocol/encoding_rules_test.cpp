// The body encoding rules of PROTOCOL.md §3, each on bodies that break it.
// Under the decoder policy (§3.8) a broken body is described when it can be,
// always with a MUST finding; non-canonical bodies get SHOULD findings only.
#include <gtest/gtest.h>

#include "protocol/codec.hpp"
#include "protocol/json.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;

// A frame of this code around a body given in hex.
DecodedFrame frame(std::uint8_t code, std::string_view body_hex) {
  const Bytes body = hex(body_hex);
  Bytes f{code};
  for (int k = 0; k < 4; ++k) f.push_back(static_cast<std::uint8_t>(body.size() >> (8 * k)));
  f.insert(f.end(), body.begin(), body.end());
  return decode_frame(f);
}

template <class M>
const M& as(const DecodedFrame& f) {
  static const M empty{};
  if (!f.message || !std::holds_alternative<M>(*f.message)) {
    ADD_FAILURE() << "not described as " << M::kName << describe(f.findings);
    return empty;
  }
  return std::get<M>(*f.message);
}

bool only_should(const DecodedFrame& f, std::string_view rule) {
  return f.valid() && has_rule(f.findings, rule, Level::Should);
}

TEST(ENC_1, EmptyBodyIsUndecodable) {
  const auto f = frame(0xff, "");
  EXPECT_FALSE(f.message);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-1")) << describe(f.findings);
  EXPECT_EQ(f.findings.at(0).problem, Problem::EmptyBody);
}

TEST(ENC_1, StructAsMapIsDescribedWithMust) {
  const auto f = frame(0xff, "82ac74696d657374616d705f6d73cd3039a769735f706f6e67c2");
  EXPECT_EQ(as<PingPong>(f).timestamp_ms, 12345u);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-1"));
  EXPECT_EQ(f.findings.at(0).offset, 5u);
}

TEST(ENC_1, StructAsMapMissingAFieldIsUndescribable) {
  const auto f = frame(0xff, "81ac74696d657374616d705f6d73cd3039");
  EXPECT_FALSE(f.message);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-1"));
}

TEST(ENC_1, ExtraElementsAreSkippedWithMust) {
  const auto f = frame(0xff, "94cd3039c392c0c0a3616263");
  EXPECT_TRUE(as<PingPong>(f).is_pong);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-1"));
  EXPECT_EQ(f.findings.at(0).problem, Problem::ArityMismatch);
}

TEST(ENC_1, MissingTrailingOptionalIsReadAsNoneWithMust) {
  // A 6-field DeltaPush, as peers from before device_valid_time_ms sent it.
  const auto f = frame(0x10, "96a163a164c401aa010100");
  EXPECT_EQ(as<DeltaPush>(f).device_valid_time_ms, std::nullopt);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-1"));
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-7"));  // absent is c0, not left out
}

TEST(ENC_7, AbsentOptionalWrittenAsNilIsClean) {
  // The same DeltaPush with its seventh field present as c0.
  const auto f = frame(0x10, "97a163a164c401aa010100c0");
  EXPECT_EQ(as<DeltaPush>(f).device_valid_time_ms, std::nullopt);
  EXPECT_FALSE(has_must_rule(f.findings, "ENC-7"));
}

TEST(ENC_1, MissingRequiredFieldIsUndescribable) {
  const auto f = frame(0xff, "91cd3039");
  EXPECT_FALSE(f.message);
  EXPECT_EQ(f.findings.at(0).problem, Problem::ArityMismatch);
}

TEST(ENC_1, TruncatedValueInsideBody) {
  const auto f = frame(0xff, "92cd30");
  EXPECT_FALSE(f.message);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-1"));
  EXPECT_EQ(f.findings.at(0).problem, Problem::Truncated);
}

TEST(ENC_1, LyingContainerCountIsTruncationNotAllocation) {
  // Handshake whose vector_clock map claims 2^32-1 pairs in a 12-byte body.
  const auto f = frame(0x01, "97a0dfffffffffa0a0a0");
  EXPECT_FALSE(f.message);
  EXPECT_EQ(f.findings.at(0).problem, Problem::Truncated) << describe(f.findings);
}

TEST(ENC_1, NestingBeyondTheLimitIsRejected) {
  std::string body = "93cd3039c2";
  for (int k = 0; k < 600; ++k) body += "91";
  body += "c0";
  const auto f = frame(0xff, body);
  EXPECT_FALSE(f.message);
  ASSERT_EQ(f.findings.size(), 2u) << describe(f.findings);
  EXPECT_EQ(f.findings.at(1).problem, Problem::TooDeep);
  EXPECT_EQ(f.findings.at(1).offset, 5u + 5 + 499);  // the array that opens level 501
}

TEST(ENC_1, ReservedMarkerC1IsInvalid) {
  const auto f = frame(0xff, "92c1c2");
  EXPECT_FALSE(f.message);
  EXPECT_EQ(f.findings.at(0).problem, Problem::InvalidMarker);
}

TEST(ENC_1, FindingsPerBodyAreCappedAndSummarised) {
  std::string body = "92de0064";  // VectorClockSync with 100 entries, all key "a"
  for (int k = 0; k < 100; ++k) body += "a16101";
  body += "05";
  const auto f = frame(0x30, body);
  ASSERT_TRUE(f.message);
  EXPECT_EQ(f.findings.size(), DecodeLimits{}.max_findings + 1);
  EXPECT_EQ(f.findings.back().problem, Problem::FindingsSuppressed);
  EXPECT_EQ(f.findings.back().level, Level::Must);
}

// The cap counts the body's own findings: a FRAME-6 finding the frame got
// first does not use up one of them, and comes first.
TEST(ENC_1, TheCapIsPerBodyWhenTheFrameHasFindingsToo) {
  std::string body = "92de0064";
  for (int k = 0; k < 100; ++k) body += "a16101";
  body += "05";
  const Bytes b = hex(body);
  Bytes bytes{0x30};
  for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<std::uint8_t>(b.size() >> (8 * k)));
  bytes.insert(bytes.end(), b.begin(), b.end());
  bytes.push_back(0xff);  // one byte after the frame (FRAME-6)
  const auto f = decode_frame(bytes);
  ASSERT_TRUE(f.message);
  ASSERT_EQ(f.findings.size(), DecodeLimits{}.max_findings + 2) << describe(f.findings);
  EXPECT_EQ(f.findings.front().rule, "FRAME-6");
  EXPECT_EQ(f.findings.back().problem, Problem::FindingsSuppressed);
}

TEST(ENC_2, SignedMarkerOnUnsignedIsDescribedWithMust) {
  const auto f = frame(0xff, "92d005c2");
  EXPECT_EQ(as<PingPong>(f).timestamp_ms, 5u);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-2"));
  EXPECT_EQ(f.findings.at(0).offset, 6u);
  EXPECT_EQ(f.findings.at(0).problem, Problem::SignedMarkerForUnsigned);
}

TEST(ENC_2, NegativeValueInUnsignedIsUndescribable) {
  const auto f = frame(0xff, "92ffc2");
  EXPECT_FALSE(f.message);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-2"));
}

TEST(ENC_2, MarkerWiderThanTheFieldIsMustEvenWhenValueFits) {
  // HandshakeAck.server_wire_version (u16) written with ce.
  const auto f = frame(0x02, "96c3a17380c0c2ce00000004");
  EXPECT_EQ(as<HandshakeAck>(f).server_wire_version, 4);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-2"));
  EXPECT_EQ(f.findings.at(0).problem, Problem::MarkerTooWide);
  // cd is the widest a u16 accepts: non-minimal, but inside the envelope.
  EXPECT_TRUE(only_should(frame(0x02, "96c3a17380c0c2cd0004"), "ENC-12"));
}

TEST(ENC_2, ValueAboveTheFieldMaximumIsUndescribable) {
  const auto f = frame(0x02, "96c3a17380c0c2ce00010000");
  EXPECT_FALSE(f.message);
  EXPECT_EQ(f.findings.at(0).problem, Problem::ValueOutOfRange);
}

TEST(ENC_3, UnsignedMarkerOnI64IsDescribedWithMust) {
  const auto f = frame(0x11, "930102cd0100");
  EXPECT_EQ(as<DeltaAck>(f).clock_skew_warning_ms, 256);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-3"));
  EXPECT_EQ(f.findings.at(0).problem, Problem::UnsignedMarkerForSigned);
}

TEST(ENC_3, PositiveFixintIsTheMinimalI64Form) {
  const auto f = frame(0x11, "93010205");
  EXPECT_EQ(as<DeltaAck>(f).clock_skew_warning_ms, 5);
  EXPECT_TRUE(f.findings.empty()) << describe(f.findings);
}

TEST(ENC_3, I64AboveInt64MaxIsUndescribable) {
  const auto f = frame(0x11, "930102cf8000000000000000");
  EXPECT_FALSE(f.message);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-3"));
}

TEST(ENC_3, WiderSignedMarkerIsOnlyNonCanonical) {
  EXPECT_TRUE(only_should(frame(0x11, "930102d1ff80"), "ENC-12"));  // -128 belongs in d0
  EXPECT_TRUE(only_should(frame(0x11, "930102d005"), "ENC-12"));    // 5 belongs in a fixint
}

TEST(ENC_4, BinInAStringFieldIsDescribedWithMust) {
  const auto f = frame(0x60, "91c403616263");
  EXPECT_EQ(as<TokenRefresh>(f).new_token, "abc");
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-4"));
}

TEST(ENC_4, InvalidUtf8IsMustAtTheBadByte) {
  const auto f = frame(0x60, "91a3ff6162");
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-4"));
  EXPECT_EQ(f.findings.at(0).offset, 7u);
  // Overlong encodings and surrogates are invalid too.
  EXPECT_TRUE(has_must_rule(frame(0x60, "91a2c080").findings, "ENC-4"));
  EXPECT_TRUE(has_must_rule(frame(0x60, "91a3eda080").findings, "ENC-4"));
  EXPECT_TRUE(frame(0x60, "91a4f09f9880").findings.empty());  // U+1F600 is fine
}

TEST(ENC_4, IntegerInAStringFieldIsUndescribable) {
  const auto f = frame(0x60, "9105");
  EXPECT_FALSE(f.message);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-4"));
}

TEST(ENC_4, NonMinimalStrHeaderIsOnlyNonCanonical) {
  EXPECT_TRUE(only_should(frame(0x60, "91d903616263"), "ENC-12"));
}

TEST(ENC_5, StrInABytesFieldIsDescribedWithMust) {
  const auto f = frame(0x80, "92a163a3616263");
  EXPECT_EQ(as<PresenceUpdate>(f).state, (Bytes{'a', 'b', 'c'}));
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-5"));
}

TEST(ENC_5, ArrayOfIntegersInABytesFieldIsDescribedWithMust) {
  const auto f = frame(0x80, "92a16393010203");
  EXPECT_EQ(as<PresenceUpdate>(f).state, (Bytes{1, 2, 3}));
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-5"));
  EXPECT_TRUE(has_must_rule(frame(0x80, "92a16390").findings, "ENC-5"));  // empty as 90
  EXPECT_TRUE(frame(0x80, "92a163c400").findings.empty());                // empty as c4 00
}

TEST(ENC_6, MapInAListFieldIsUndescribable) {
  const auto f = frame(0x01, "97a08080a0a00000");
  EXPECT_FALSE(f.message);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-6")) << describe(f.findings);
}

TEST(ENC_6, NonMinimalArrayHeaderIsOnlyNonCanonical) {
  EXPECT_TRUE(only_should(frame(0x01, "97a080dc0000a0a00000"), "ENC-12"));
}

TEST(ENC_7, NilIsNoneAndABareValueIsSome) {
  EXPECT_EQ(as<DeltaAck>(frame(0x11, "930102c0")).clock_skew_warning_ms, std::nullopt);
  EXPECT_EQ(as<DeltaAck>(frame(0x11, "930102ff")).clock_skew_warning_ms, -1);
}

TEST(ENC_8, IntegerForBoolIsDescribedWithMust) {
  const auto f = frame(0xff, "92cd303901");
  EXPECT_TRUE(as<PingPong>(f).is_pong);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-8"));
  EXPECT_FALSE(frame(0xff, "92cd303902").message);  // 2 is no boolean at all
}

TEST(ENC_9, UnknownVariantIsUndescribable) {
  const auto f = frame(0x50, "9392a54e6f706573c000a0");
  EXPECT_FALSE(f.message);
  EXPECT_EQ(f.findings.at(0).problem, Problem::UnknownEnumVariant);
  EXPECT_TRUE(has_must_rule(frame(0x50, "939201c000a0").findings, "ENC-9"));  // integer tag
}

TEST(ENC_9, TagIsCaseSensitive) {
  EXPECT_FALSE(frame(0x50, "9392ae636f727275707465645374617465c000a0").message);
}

TEST(ENC_9, UnitVariantPayloadMustBeNil) {
  EXPECT_FALSE(frame(0x50,
                     "9392ae436f727275707465645374617465"
                     "05"
                     "00a0")
                   .message);
  const auto f = frame(0x50,
                       "9392ae436f727275707465645374617465"
                       "90"
                       "00a0");
  EXPECT_TRUE(f.message);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-9"));
}

TEST(ENC_9, StructVariantNeedsAllItsFields) {
  // SequenceGap with one field instead of two.
  const auto f = frame(0x50, "9392ab53657175656e6365476170910202a0");
  EXPECT_FALSE(f.message);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-9"));
}

TEST(ENC_9, OuterArrayMustHaveTwoElements) {
  const auto f = frame(0x50, "9393ab53657175656e6365476170920205c002a0");
  EXPECT_FALSE(f.message);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-9"));
}

TEST(ENC_10, DuplicateMapKeyIsMustAndTheLastValueWins) {
  const auto f = frame(0x30, "9282a16101a1610205");
  EXPECT_EQ(as<VectorClockSync>(f).clocks.at("a"), 2u);
  EXPECT_TRUE(has_must_rule(f.findings, "ENC-10"));
  EXPECT_EQ(f.findings.at(0).offset, 5u + 1 + 1 + 3);
}

TEST(ENC_12, UnsortedMapIsOnlyNonCanonical) {
  const auto f = frame(0x30, "9282a16201a1610205");
  EXPECT_TRUE(only_should(f, "ENC-12")) << describe(f.findings);
  EXPECT_EQ(as<VectorClockSync>(f).clocks.size(), 2u);
  // Integer keys sort numerically: 2 before 10.
  EXPECT_TRUE(frame(0x40, "99a0a0c400c400c40000000082020a0a14").findings.empty());
  EXPECT_TRUE(only_should(frame(0x40, "99a0a0c400c400c4000000008214020a0a"), "ENC-12"));
}

TEST(ENC_12, NonMinimalUnsignedIsOnlyNonCanonical) {
  const auto f = frame(0xff, "92cf0000000000003039c2");
  EXPECT_TRUE(only_should(f, "ENC-12")) << describe(f.findings);
  EXPECT_EQ(as<PingPong>(f).timestamp_ms, 12345u);
}

// Found by fuzz/roundtrip.cpp (fuzz/corpus/roundtrip/regress-enum-tag-str8): an
// enum's tag or [tag, payload] array in a wider header than needed was taken
// without a finding, so a "clean" frame did not re-encode to its own bytes.
TEST(ENC_12, NonMinimalEnumHeadersAreOnlyNonCanonical) {
  // ResyncRequest{CorruptedState}: the tag as str8 (d9 0e) instead of fixstr (ae).
  const auto tag = frame(0x50, "9392d90e436f727275707465645374617465c000a0");
  EXPECT_TRUE(only_should(tag, "ENC-12")) << describe(tag.findings);
  EXPECT_EQ(tag.findings.at(0).offset, 5u + 2);
  // The enum's array as array16 (dc 0002) instead of fixarray (92).
  const auto array = frame(0x50, "93dc0002ae436f727275707465645374617465c000a0");
  EXPECT_TRUE(only_should(array, "ENC-12")) << describe(array.findings);
  // The canonical form stays clean.
  EXPECT_TRUE(frame(0x50, "9392ae436f727275707465645374617465c000a0").findings.empty());
}

TEST(ENC_13, BytesAfterTheValueAreOnlyNonCanonical) {
  const auto f = frame(0xff, "92cd3039c2c0c0");
  EXPECT_TRUE(only_should(f, "ENC-13")) << describe(f.findings);
  EXPECT_EQ(f.findings.at(0).offset, 10u);
}

TEST(FRAME_2, UnknownCodeIsReportedWithItsOffset) {
  const auto f = decode_frame(hex("030500000092cd3039c2"));
  EXPECT_FALSE(f.message);
  EXPECT_TRUE(has_must_rule(f.findings, "FRAME-2"));
  EXPECT_EQ(f.findings.at(0).offset, 0u);
}

// is_known_code is a table built from the message types: every one of the 256
// codes agrees with with_message_type, and exactly the 22 types are known.
TEST(FRAME_2, EveryCodeIsKnownExactlyWhenAMessageTypeHasIt) {
  std::size_t known = 0;
  for (int c = 0; c < 256; ++c) {
    const auto code = static_cast<std::uint8_t>(c);
    const bool has_type = with_message_type(code, [](auto) {});
    EXPECT_EQ(is_known_code(code), has_type) << "code " << c;
    known += is_known_code(code);
  }
  EXPECT_EQ(known, kMessageTypeCount);
}

TEST(FRAME_1, ShortMessageIsTruncation) {
  EXPECT_TRUE(has_must_rule(decode_frame(hex("ff0500")).findings, "FRAME-1"));
  EXPECT_TRUE(has_must_rule(decode_frame(hex("ff0500000092cd30")).findings, "FRAME-1"));
  EXPECT_TRUE(has_must_rule(decode_frame(Bytes{}).findings, "FRAME-1"));
}

TEST(FRAME_6, BytesAfterTheFrameAreShould) {
  const auto f = decode_frame(hex("ff0500000092cd3039c2ff"));
  EXPECT_TRUE(f.valid());
  EXPECT_TRUE(has_rule(f.findings, "FRAME-6", Level::Should));
  EXPECT_EQ(f.findings.at(0).offset, 10u);
}

TEST(FRAME_9, OverLongLengthIsRejectedBeforeTheBody) {
  const auto f = decode_frame(hex("10fcffff00"));  // N = 16 777 212
  EXPECT_TRUE(has_must_rule(f.findings, "FRAME-9"));
  EXPECT_EQ(f.findings.at(0).offset, 1u);
  // N = 16 777 211 is the largest allowed: this one is merely truncated.
  EXPECT_TRUE(has_must_rule(decode_frame(hex("10fbffff00")).findings, "FRAME-1"));
}

TEST(ENC_3, EncoderWritesPositiveI64WithSignedMarkers) {
  DeltaAck ack{.mutation_id = 1, .lsn = 2, .clock_skew_warning_ms = 128};
  EXPECT_EQ(to_hex(encode_body(ack)), "930102d10080");
  ack.clock_skew_warning_ms = 1'750'000'000'000;
  EXPECT_EQ(to_hex(encode_body(ack)), "930102d3000001977420dc00");
  ack.clock_skew_warning_ms = -33;
  EXPECT_EQ(to_hex(encode_body(ack)), "930102d0df");
}

}  // namespace
}  // namespace syncsim::test
