#include "conformance/checker/trace_reader.hpp"

#include "protocol/json.hpp"

namespace syncsim::conformance {

namespace {

// {"ev":"note"} (D84): a side's note on its own state.
std::string parse_note(const protocol::Json& j, TraceItem& item) {
  if (!j.contains("side") || (j["side"] != "client" && j["side"] != "server"))
    return "a note's \"side\" must be \"client\" or \"server\"";
  if (!j.contains("kind") || !j["kind"].is_string()) return "a note needs a string \"kind\"";
  item.kind = TraceItem::Kind::Note;
  item.note.t = item.frame.t;
  item.note.conn = item.frame.conn;
  item.note.side = j["side"] == "client" ? protocol::Sender::Client : protocol::Sender::Server;
  item.note.kind = j["kind"].get<std::string>();
  if (!j.contains("fields")) return "";
  if (!j["fields"].is_object()) return "a note's \"fields\" must be an object";
  for (const auto& [k, v] : j["fields"].items()) {
    if (!v.is_string()) return "note field \"" + k + "\" must be a string";
    item.note.fields[k] = v.get<std::string>();
  }
  return "";
}

// A WebSocket message (FRAME-4..7, FRAME-12): its kind and its bytes.
std::string parse_ws(const protocol::Json& j, protocol::Bytes bytes, TraceItem& item) {
  static constexpr WsKind kKinds[] = {WsKind::Binary, WsKind::Text, WsKind::Ping, WsKind::Pong,
                                      WsKind::Close};
  for (const WsKind k : kKinds) {
    if (!j["ws"].is_string() || j["ws"].get<std::string>() != ws_kind_name(k)) continue;
    item.kind = TraceItem::Kind::Ws;
    item.ws = WsRecord{item.frame.t,     item.frame.conn, item.frame.from, k,
                       std::move(bytes), item.frame.seen};
    return "";
  }
  return "\"ws\" must be \"binary\", \"text\", \"ping\", \"pong\" or \"close\"";
}

// One line as an item, or the reason it is not one.
std::string parse_line(const std::string& text, std::int64_t& last_t, TraceItem& item) {
  const auto j = protocol::Json::parse(text, nullptr, false);
  if (!j.is_object()) return "not a JSON object";
  if (!j.contains("t") || !j["t"].is_number_integer())
    return "\"t\" (virtual ns) missing or not an integer";
  const std::int64_t t = j["t"].get<std::int64_t>();
  item.frame.t = t;
  if (j.contains("ev") && j["ev"] == "purge") {
    if (!j.contains("collection") || !j["collection"].is_string())
      return "a purge needs \"collection\"";
    const auto tenant = j.value("tenant", protocol::Json(0));
    if (!tenant.is_number_unsigned() || tenant.get<std::uint64_t>() > 0xffffffffULL)
      return "\"tenant\" must be a u32";
    item.kind = TraceItem::Kind::Purge;
    item.tenant = static_cast<std::uint32_t>(tenant.get<std::uint64_t>());
    item.collection = j["collection"].get<std::string>();
    return "";
  }
  if (!j.contains("conn") || !j["conn"].is_number_unsigned())
    return "\"conn\" missing or not an unsigned integer";
  item.frame.conn = j["conn"].get<std::uint64_t>();
  if (t < last_t)
    return "time goes backwards (" + std::to_string(t) + " < " + std::to_string(last_t) + ")";
  last_t = t;
  if (j.contains("ev")) {
    if (j["ev"] == "note") return parse_note(j, item);
    if (j["ev"] == "hangup") {
      if (!j.contains("side") || (j["side"] != "client" && j["side"] != "server"))
        return "a hangup's \"side\" must be \"client\" or \"server\"";
      item.kind = TraceItem::Kind::Hangup;
      item.side = j["side"] == "client" ? protocol::Sender::Client : protocol::Sender::Server;
      return "";
    }
    if (j["ev"] != "close") return "\"ev\" must be \"close\", \"hangup\", \"purge\" or \"note\"";
    item.kind = TraceItem::Kind::Close;
    return "";
  }
  if (!j.contains("from") || (j["from"] != "client" && j["from"] != "server"))
    return "\"from\" must be \"client\" or \"server\"";
  const bool ws = j.contains("ws");
  const char* hex = ws ? "payload_hex" : "frame_hex";
  if (!j.contains(hex) || !j[hex].is_string()) return std::string("\"") + hex + "\" missing";
  auto bytes = protocol::from_hex(j[hex].get<std::string>());
  if (!bytes) return std::string("\"") + hex + "\" is not even-length hex";
  item.frame.seen = Seen::Both;
  if (j.contains("seen")) {
    if (j["seen"] == "written") {
      item.frame.seen = Seen::Written;
    } else if (j["seen"] == "received") {
      item.frame.seen = Seen::Received;
    } else {
      return "\"seen\" must be \"written\" or \"received\"";
    }
  }
  item.frame.from = j["from"] == "client" ? protocol::Sender::Client : protocol::Sender::Server;
  if (ws) return parse_ws(j, std::move(*bytes), item);
  item.frame.frame = std::move(*bytes);
  return "";
}

}  // namespace

TraceRead read_trace(std::string_view text, const std::string& label) {
  TraceRead out;
  std::int64_t last_t = 0;
  std::size_t number = 0, start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(start, end - start));
    start = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    TraceItem item;
    const auto why = parse_line(line, last_t, item);
    if (!why.empty()) {
      out.error = label + ":" + std::to_string(number) + ": " + why;
      return out;
    }
    out.items.push_back(std::move(item));
  }
  return out;
}

void replay(SessionChecker& checker, const std::vector<TraceItem>& items) {
  for (const auto& it : items) {
    switch (it.kind) {
      case TraceItem::Kind::Frame: checker.on_frame(it.frame); break;
      case TraceItem::Kind::Close: checker.on_close(it.frame.conn, it.frame.t); break;
      case TraceItem::Kind::Purge: checker.on_purge(it.tenant, it.collection, it.frame.t); break;
      case TraceItem::Kind::Note: checker.on_note(it.note); break;
      case TraceItem::Kind::Ws: checker.on_ws_message(it.ws); break;
      case TraceItem::Kind::Hangup: checker.on_hangup(it.frame.conn, it.side, it.frame.t); break;
    }
  }
}

}  // namespace syncsim::conformance
