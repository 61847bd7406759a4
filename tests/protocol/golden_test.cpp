// The golden frames: tests/vectors (copied from ../shared/spec/vectors) and
// PROTOCOL.md Appendix E. Every one encodes byte-exact and decodes equal;
// every invalid vector is rejected with its expected kind of error.
#include <gtest/gtest.h>

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
  ASSERT_EQ(lines.size(), 40u);
  std::set<int> codes;
  for (const auto& line : lines) {
    expect_golden(line);
    codes.insert(line.at("msg_type").get<int>());
  }
  EXPECT_EQ(codes.size(), protocol::kMessageTypeCount) << "golden set covers every code";
}

TEST(ENC_1, AppendixEFramesEncodeByteExactAndDecodeEqual) {
  const auto md = read_file(spec_path("PROTOCOL.md"));
  if (!md) GTEST_SKIP() << "spec not found at " << spec_path("PROTOCOL.md");
  const auto lines = appendix_e_lines(*md);
  ASSERT_GE(lines.size(), 40u);
  for (const auto& line : lines) expect_golden(line);
}

TEST(Vectors, CopiesInTestsMatchTheSharedSpec) {
  for (const char* name : {"golden.jsonl", "invalid.jsonl"}) {
    const auto shared = read_file(spec_path(std::string("vectors/") + name));
    if (!shared) GTEST_SKIP() << "spec vectors not found";
    EXPECT_EQ(read_file(source_path(std::string("tests/vectors/") + name)), shared) << name;
  }
}

// invalid.jsonl: FRAME cases leave nothing described; ENC cases may be
// described (§3.8) but only with a MUST finding of the expected kind.
TEST(ENC_11, InvalidVectorsAreRejectedWithTheirExpectedError) {
  const auto text = read_file(source_path("tests/vectors/invalid.jsonl"));
  ASSERT_TRUE(text);
  const auto lines = read_jsonl(*text);
  ASSERT_EQ(lines.size(), 12u);
  for (const auto& line : lines) {
    const std::string id = line.at("id");
    const std::string expect = line.at("expect");
    SCOPED_TRACE(id);
    const auto f = protocol::decode_frame(hex(line.at("frame_hex").get<std::string>()));
    EXPECT_FALSE(f.valid());
    if (line.at("area") == "FRAME") {
      EXPECT_FALSE(f.message);
    }
    bool found = false;
    for (const auto& x : f.findings) {
      const bool kind = protocol::problem_name(x.problem) == expect ||
                        x.message.find(expect) != std::string::npos;
      found = found || (kind && x.level == protocol::Level::Must &&
                        x.rule.starts_with(line.at("area").get<std::string>()));
    }
    EXPECT_TRUE(found) << "expected a MUST " << line.at("area") << " finding \"" << expect
                       << "\"; got" << describe(f.findings);
  }
}

}  // namespace
}  // namespace syncsim::test
