// The JSON value model of Appendix D: errors name the JSON path.
#include "protocol/json.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using protocol::Json;
using protocol::message_from_json;

std::string error_of(const std::string& text) {
  const auto r = message_from_json(Json::parse(text));
  return r.message ? "" : r.error;
}

TEST(AppendixD, ErrorsNameTheJsonPath) {
  EXPECT_EQ(error_of(R"({"msg_type":3,"value":{}})"),
            "msg_type: 3 is not one of the 22 message codes");
  EXPECT_EQ(error_of(R"({"msg_type":255,"value":{"timestamp_ms":-1,"is_pong":false}})"),
            "value.timestamp_ms: expected an unsigned integer <= 18446744073709551615");
  EXPECT_EQ(error_of(R"({"msg_type":255,"value":{"timestamp_ms":1}})"),
            "value.is_pong: missing field");
  EXPECT_EQ(error_of(R"({"msg_type":255,"value":{"timestamp_ms":1,"is_pong":true,"x":1}})"),
            "value.x: not a field of this type");
  EXPECT_EQ(error_of(R"({"msg_type":255,"name":"Ping","value":{"timestamp_ms":1,"is_pong":true}})"),
            "name: expected \"Pong\" for this msg_type and value");
  EXPECT_EQ(
      error_of(
          R"({"msg_type":2,"value":{"success":true,"session_id":"s","server_clock":{},"error":null,"fork_detected":false,"server_wire_version":65536}})"),
      "value.server_wire_version: expected an unsigned integer <= 65535");
  EXPECT_EQ(error_of(R"({"msg_type":128,"value":{"channel":"c","state":{"hex":"abc"}}})"),
            "value.state.hex: not an even-length hex string");
  EXPECT_EQ(
      error_of(
          R"({"msg_type":80,"value":{"reason":{"Nope":null},"from_mutation_id":0,"collection":""}})"),
      "value.reason: unknown variant \"Nope\"");
  EXPECT_EQ(
      error_of(
          R"({"msg_type":64,"value":{"lite_id":"","collection":"","ts_block":{"hex":""},"val_block":{"hex":""},"series_block":{"hex":""},"sample_count":0,"min_ts":0,"max_ts":0,"watermarks":{"x":1}}})"),
      "value.watermarks: map key \"x\" is not a decimal integer");
}

TEST(AppendixD, LargeIntegersDoNotPassThroughDouble) {
  const auto r = message_from_json(Json::parse(
      R"({"msg_type":48,"value":{"clocks":{"a":18446744073709551615},"sender_id":18446744073709551614}})"));
  ASSERT_TRUE(r.message) << r.error;
  const auto& v = std::get<protocol::VectorClockSync>(*r.message);
  EXPECT_EQ(v.clocks.at("a"), 18446744073709551615ull);
  EXPECT_EQ(v.sender_id, 18446744073709551614ull);
  EXPECT_EQ(
      protocol::dump_json(protocol::message_to_json(*r.message)),
      R"({"msg_type":48,"name":"VectorClockSync","value":{"clocks":{"a":18446744073709551615},"sender_id":18446744073709551614}})");
}

TEST(AppendixD, InvalidUtf8IsPrintedAsReplacementCharacter) {
  protocol::TokenRefresh t{.new_token = std::string("a\xff", 2)};
  EXPECT_EQ(
      protocol::dump_json(protocol::message_to_json(t)),
      "{\"msg_type\":96,\"name\":\"TokenRefresh\",\"value\":{\"new_token\":\"a\xef\xbf\xbd\"}}");
}

}  // namespace
}  // namespace syncsim::test
