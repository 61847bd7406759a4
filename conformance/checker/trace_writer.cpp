#include "conformance/checker/trace_writer.hpp"

#include <ostream>

#include "protocol/json.hpp"

namespace syncsim::conformance {

void write_trace_frame(std::ostream& out, const FrameRecord& r) {
  out << "{\"t\":" << r.t << ",\"conn\":" << r.conn << ",\"from\":\""
      << (r.from == protocol::Sender::Client ? "client" : "server") << "\"";
  if (r.seen != Seen::Both)
    out << ",\"seen\":\"" << (r.seen == Seen::Written ? "written" : "received") << "\"";
  out << ",\"frame_hex\":\"" << protocol::to_hex(r.frame) << "\"}\n";
}

void write_trace_ws(std::ostream& out, const WsRecord& r) {
  out << "{\"t\":" << r.t << ",\"conn\":" << r.conn << ",\"from\":\""
      << (r.from == protocol::Sender::Client ? "client" : "server") << "\"";
  if (r.seen != Seen::Both)
    out << ",\"seen\":\"" << (r.seen == Seen::Written ? "written" : "received") << "\"";
  out << ",\"ws\":\"" << ws_kind_name(r.kind) << "\",\"payload_hex\":\""
      << protocol::to_hex(r.payload) << "\"}\n";
}

void write_trace_hangup(std::ostream& out, std::int64_t t, std::uint64_t conn,
                        protocol::Sender side) {
  out << "{\"t\":" << t << ",\"conn\":" << conn << ",\"ev\":\"hangup\",\"side\":\""
      << (side == protocol::Sender::Client ? "client" : "server") << "\"}\n";
}

void write_trace_close(std::ostream& out, std::int64_t t, std::uint64_t conn) {
  out << "{\"t\":" << t << ",\"conn\":" << conn << ",\"ev\":\"close\"}\n";
}

void write_trace_purge(std::ostream& out, std::int64_t t, std::uint32_t tenant,
                       const std::string& collection) {
  out << "{\"t\":" << t << ",\"ev\":\"purge\",\"tenant\":" << tenant
      << ",\"collection\":" << protocol::Json(collection).dump() << "}\n";
}

void write_trace_note(std::ostream& out, const StateNote& note) {
  protocol::Json fields = protocol::Json::object();
  for (const auto& [k, v] : note.fields) fields[k] = v;
  out << "{\"t\":" << note.t << ",\"conn\":" << note.conn << ",\"ev\":\"note\",\"side\":\""
      << (note.side == protocol::Sender::Client ? "client" : "server")
      << "\",\"kind\":" << protocol::Json(note.kind).dump() << ",\"fields\":" << fields.dump()
      << "}\n";
}

}  // namespace syncsim::conformance
