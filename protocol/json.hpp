// The JSON value model of PROTOCOL.md Appendix D, used by golden vectors,
// `syncsim decode/encode` and reports: {"msg_type", "name", "value"}, byte
// strings as {"hex": ...}, None as null, enums as {"Variant": fields|null},
// integer map keys as decimal strings. Integers never pass through a double.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "protocol/messages.hpp"

namespace syncsim::protocol {

// Objects keep wire field order when printed.
using Json = nlohmann::ordered_json;

// {"msg_type": code, "name": name, "value": {...}}.
Json message_to_json(const Message& m);

// The "value" object alone.
Json body_to_json(const Message& m);

// The result of reading a message from JSON: the message, or an error naming
// the JSON path that is wrong and why.
struct MessageFromJson {
  std::optional<Message> message;
  std::string error;  // e.g. "value.shape.tenant_id: expected an unsigned integer <= 4294967295"
};

// Reads {"msg_type", "name"?, "value"}; other top-level keys (such as "id" and
// "frame_hex" of golden.jsonl) are ignored. Never throws.
MessageFromJson message_from_json(const Json& j);

// Lowercase hex of bytes, and its inverse (nullopt on odd length or non-hex).
std::string to_hex(std::span<const std::uint8_t> bytes);
std::optional<Bytes> from_hex(std::string_view hex);

// Compact one-line JSON; invalid UTF-8 in strings (which the decoder can
// describe, with an ENC-4 finding) is printed as U+FFFD.
std::string dump_json(const Json& j);

// One line per leaf, "path=value": object keys joined with '.', array
// items as [i], the value as compact JSON; an empty object or array is a
// leaf ("{}", "[]"). `syncsim decode --flat` prints this, and the Wireshark
// dissector (wireshark/syncsim.lua) shows each field the same way.
std::vector<std::string> flatten_json(const Json& j);

}  // namespace syncsim::protocol
