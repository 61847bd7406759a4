// The wire schema of the 22 messages, walked from the same field lists the
// codec uses (reflect.hpp), so it cannot drift from the codec: a Lua table
// for the Wireshark dissector (wireshark/syncsim.lua embeds it, and a test
// holds the two equal) and a listing for people (`syncsim schema`).
//
// Wire shapes (§3): a struct is an array of its fields in order; an enum is
// [variant name, array of its fields | nil]; Option is the value or nil; a
// map is sorted by key; byte strings are bin.
#pragma once

#include <string>

namespace syncsim::protocol {

// `local schema = {...}`: by code, {name=..., fields={{"field", TYPE}, ...}};
// TYPE is "u", "i", "bool", "str", "bin", {opt=TYPE}, {vec=TYPE},
// {map={TYPE, TYPE}}, {struct={fields}} or {enum={{"Variant", fields|false}, ...}}.
std::string lua_schema();

// One line per field, indented by nesting: "DeltaPush (0x10)" then
// "  collection: string" ...
std::string text_schema();

}  // namespace syncsim::protocol
