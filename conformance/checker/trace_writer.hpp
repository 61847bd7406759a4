// Writes traces as JSON lines in the format `syncsim check-trace` reads:
//   {"t": <ns>, "conn": <id>, "from": "client"|"server", "seen": ..., "frame_hex": "<hex>"}
//   {"t": <ns>, "conn": <id>, "ev": "close"}
//   {"t": <ns>, "ev": "purge", "tenant": <u32>, "collection": "<name>"}
//   {"t": <ns>, "conn": <id>, "ev": "note", "side": "client"|"server", "kind": "<kind>",
//    "fields": {"<key>": "<text>", ...}}   (D84: a side's note on its own state)
//   {"t": <ns>, "conn": <id>, "from": ..., "seen": ..., "ws":
//   "binary"|"text"|"ping"|"pong"|"close",
//    "payload_hex": "<hex>"}   (a WebSocket message, FRAME-4..7/12: a binary one whole,
//    whatever it holds; the checker takes its first frame as the receiver does)
//   {"t": <ns>, "conn": <id>, "ev": "hangup", "side": "client"|"server"}   (that side ended
//    its end: FIN, RST or WebSocket Close, where the recorder tells who; "close" follows)
// "seen" is left out for Seen::Both (a tap on the wire). Readers of older
// traces lose nothing: a trace without "ws" lines has frames only.
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
void write_trace_ws(std::ostream& out, const WsRecord& r);
void write_trace_hangup(std::ostream& out, std::int64_t t, std::uint64_t conn,
                        protocol::Sender side);

}  // namespace syncsim::conformance
