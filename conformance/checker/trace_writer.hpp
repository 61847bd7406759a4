// Writes traces as JSON lines in the format `syncsim check-trace` reads:
//   {"t": <ns>, "conn": <id>, "from": "client"|"server", "seen": ..., "frame_hex": "<hex>"}
//   {"t": <ns>, "conn": <id>, "ev": "close"}
//   {"t": <ns>, "ev": "purge", "tenant": <u32>, "collection": "<name>"}
//   {"t": <ns>, "conn": <id>, "ev": "note", "side": "client"|"server", "kind": "<kind>",
//    "fields": {"<key>": "<text>", ...}}   (D84: a side's note on its own state)
// "seen" is left out for Seen::Both (a tap on the wire).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "conformance/checker/session_checker.hpp"

namespace syncsim::conformance {

void write_trace_frame(std::ostream& out, const FrameRecord& r);
void write_trace_close(std::ostream& out, std::int64_t t, std::uint64_t conn);
void write_trace_purge(std::ostream& out, std::int64_t t, std::uint32_t tenant,
                       const std::string& collection);
void write_trace_note(std::ostream& out, const StateNote& note);

}  // namespace syncsim::conformance
