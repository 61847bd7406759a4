#include "conformance/checker/trace_reader.hpp"

#include "protocol/json.hpp"

namespace syncsim::conformance {

namespace {

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
    if (j["ev"] != "close") return "\"ev\" must be \"close\" or \"purge\"";
    item.kind = TraceItem::Kind::Close;
    return "";
  }
  if (!j.contains("from") || (j["from"] != "client" && j["from"] != "server"))
    return "\"from\" must be \"client\" or \"server\"";
  if (!j.contains("frame_hex") || !j["frame_hex"].is_string()) return "\"frame_hex\" missing";
  auto bytes = protocol::from_hex(j["frame_hex"].get<std::string>());
  if (!bytes) return "\"frame_hex\" is not even-length hex";
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
    }
  }
}

}  // namespace syncsim::conformance
