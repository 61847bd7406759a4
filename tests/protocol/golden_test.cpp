// The golden frames: tests/vectors (copied from ../shared/spec/vectors, made
// by NodeDB's own encoder) and PROTOCOL.md Appendix E. Every golden frame
// encodes byte-exact and decodes equal; every invalid vector is rejected with
// its expected kind of error; every noncanonical one decodes to its value with
// the finding it names.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "protocol/codec.hpp"
#include "protocol/json.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using protocol::Json;

void expect_golden(const Json& line) {
  SCOPED_TRACE(line.value("id", std::string("?")));
  const auto listed = protocol::message_from_json(line);
  ASSERT_TRUE(listed.message) << listed.error;
  const auto frame = hex(line.at("frame_hex").get<std::string>());
  EXPECT_EQ(protocol::to_hex(protocol::encode_frame(*listed.message)),
            line.at("frame_hex").get<std::string>());
  const auto decoded = protocol::decode_frame(frame);
  ASSERT_TRUE(decoded.message) << describe(decoded.findings);
  EXPECT_TRUE(decoded.findings.empty()) << describe(decoded.findings);
  EXPECT_EQ(*decoded.message, *listed.message);
  // The printed model is the listed one (key order aside).
  const auto listed_model = nlohmann::json::parse(line.dump());
  const nlohmann::json expected{{"msg_type", listed_model.at("msg_type")},
                                {"name", listed_model.at("name")},
                                {"value", listed_model.at("value")}};
  EXPECT_EQ(nlohmann::json::parse(protocol::dump_json(protocol::message_to_json(*decoded.message))),
            expected);
}

TEST(ENC_1, GoldenVectorsEncodeByteExactAndDecodeEqual) {
  const auto text = read_file(source_path("tests/vectors/golden.jsonl"));
  ASSERT_TRUE(text);
  const auto lines = read_jsonl(*text);
  ASSERT_EQ(lines.size(), 179u);
  std::map<int, int> per_code;
  for (const auto& line : lines) {
    expect_golden(line);
    ++per_code[line.at("msg_type").get<int>()];
  }
  EXPECT_EQ(per_code.size(), protocol::kMessageTypeCount) << "golden set covers every code";
  for (const auto& [code, n] : per_code) EXPECT_GE(n, 4) << "code " << code;
}

TEST(ENC_1, AppendixEFramesEncodeByteExactAndDecodeEqual) {
  const auto md = read_file(spec_path("PROTOCOL.md"));
  if (!md) GTEST_SKIP() << "spec not found at " << spec_path("PROTOCOL.md");
  const auto lines = appendix_e_lines(*md);
  ASSERT_GE(lines.size(), 40u);
  for (const auto& line : lines) expect_golden(line);
}

TEST(Vectors, CopiesInTestsMatchTheSharedSpec) {
  for (const char* name : {"golden.jsonl", "invalid.jsonl", "noncanonical.jsonl"}) {
    const auto shared = read_file(spec_path(std::string("vectors/") + name));
    if (!shared) GTEST_SKIP() << "spec vectors not found";
    EXPECT_EQ(read_file(source_path(std::string("tests/vectors/") + name)), shared) << name;
  }
}

// The kinds of rejection invalid.jsonl names (what NodeDB reported) and the
// harness problems that count as each (D63).
bool is_kind(protocol::Problem p, std::string_view kind) {
  using P = protocol::Problem;
  static const std::map<std::string_view, std::set<P>> kinds = {
      {"unknown_msg_type", {P::UnknownMessageType}},
      {"frame_too_short", {P::Truncated}},
      {"length_exceeds_data", {P::Truncated}},
      {"frame_too_large", {P::FrameTooLarge}},
      {"truncated_body", {P::Truncated, P::EmptyBody}},
      {"array_length_mismatch", {P::ArityMismatch}},
      {"wrong_type",
       {P::WrongType, P::StructAsMap, P::SignedMarkerForUnsigned, P::UnsignedMarkerForSigned,
        P::MarkerTooWide, P::BytesAsStr, P::StrAsBytes, P::BadEnumPayload}},
      {"invalid_utf8", {P::InvalidUtf8}},
      {"unknown_variant", {P::UnknownEnumVariant}},
  };
  const auto it = kinds.find(kind);
  return it != kinds.end() && it->second.contains(p);
}

// invalid.jsonl: FRAME cases leave nothing described; ENC cases may be
// described (§3.8) but only with a MUST finding of the expected kind, and
// the first MUST finding is of that kind (it is the one NodeDB stops at).
TEST(ENC_11, InvalidVectorsAreRejectedWithTheirExpectedError) {
  const auto text = read_file(source_path("tests/vectors/invalid.jsonl"));
  ASSERT_TRUE(text);
  const auto lines = read_jsonl(*text);
  ASSERT_EQ(lines.size(), 39u);
  for (const auto& line : lines) {
    const std::string id = line.at("id");
    const std::string expect = line.at("expect");
    const std::string area = line.at("area");
    SCOPED_TRACE(id + " (" + expect + ")");
    const auto f = protocol::decode_frame(hex(line.at("frame_hex").get<std::string>()));
    EXPECT_FALSE(f.valid());
    if (area == "FRAME") {
      EXPECT_FALSE(f.message);
    }
    const auto first = std::find_if(f.findings.begin(), f.findings.end(),
                                    [](const auto& x) { return x.level == protocol::Level::Must; });
    ASSERT_NE(first, f.findings.end()) << "no MUST finding";
    EXPECT_TRUE(is_kind(first->problem, expect) && first->rule.starts_with(area))
        << "expected a MUST " << area << " finding of kind " << expect << "; got"
        << describe(f.findings);
  }
}

// noncanonical.jsonl: NodeDB accepts these frames though it never writes
// them. Each is decoded to its listed value and draws exactly its named
// finding; FRAME-6 (bytes after the frame) is judged on the frame as one
// WebSocket message, which is what decode_frame takes.
TEST(ENC_12, NoncanonicalVectorsDecodeToTheirValueWithTheirFinding) {
  const auto text = read_file(source_path("tests/vectors/noncanonical.jsonl"));
  ASSERT_TRUE(text);
  const auto lines = read_jsonl(*text);
  ASSERT_EQ(lines.size(), 12u);
  for (const auto& line : lines) {
    const std::string id = line.at("id");
    const std::string rule = line.at("finding");
    SCOPED_TRACE(id + " (" + rule + ")");
    const auto f = protocol::decode_frame(hex(line.at("frame_hex").get<std::string>()));
    ASSERT_TRUE(f.message) << describe(f.findings);
    const auto listed = protocol::message_from_json(line);
    ASSERT_TRUE(listed.message) << listed.error;
    EXPECT_EQ(*f.message, *listed.message);
    std::set<std::string_view> rules;
    for (const auto& x : f.findings) rules.insert(x.rule);
    EXPECT_EQ(rules, std::set<std::string_view>{rule}) << describe(f.findings);
    // Re-encoding gives the canonical frame, which draws no finding.
    const auto canonical = protocol::decode_frame(protocol::encode_frame(*f.message));
    EXPECT_TRUE(canonical.findings.empty()) << describe(canonical.findings);
  }
}

}  // namespace
}  // namespace syncsim::test
