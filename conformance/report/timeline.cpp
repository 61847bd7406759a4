// Wire logs from traces: pairs writes with reads and says what the network
// did to each frame.
#include <algorithm>
#include <deque>
#include <set>

#include "conformance/report/report.hpp"
#include "protocol/codec.hpp"
#include "protocol/json.hpp"

namespace syncsim::conformance::report {

namespace {

// Simulator events a reader of a wire log wants to see (sim/world.cpp names).
bool is_net_event(std::string_view ev) {
  static const std::set<std::string_view> kEvents = {
      "loss",      "corrupt", "relay-off", "inject",  "drop",       "reorder",
      "duplicate", "reset",   "crash",     "restart", "clock-jump", "clock-drift",
      "partition", "heal",    "heal-all",  "clog",    "refused"};
  return kEvents.count(ev) > 0;
}

// The frame as the JSON model, or a short description of why it is not one.
void describe_frame(const protocol::Bytes& frame, std::string& name, std::string& detail) {
  const auto d = protocol::decode_frame(frame);
  if (d.message) {
    name = std::string(protocol::message_name(*d.message));
    detail = protocol::dump_json(protocol::body_to_json(*d.message));
    if (detail.size() > 2000) detail = detail.substr(0, 2000) + "...";
    return;
  }
  name = frame.empty() ? "empty" : "0x" + protocol::to_hex(std::span(frame.data(), 1));
  detail = "undecodable frame of " + std::to_string(frame.size()) + " bytes";
  if (!d.findings.empty()) detail += ": " + protocol::format_finding(d.findings.front());
}

constexpr std::size_t kMaxPendingSearch = 512;  // a reorder window, in frames

}  // namespace

void NetEventSink::line_done() {
  if (line_.empty()) return;
  const auto at = line_.find("\"ev\":\"");
  if (at != std::string::npos) {
    const auto start = at + 6;
    const auto end = line_.find('"', start);
    const std::string_view ev(line_.data() + start, end == std::string::npos ? 0 : end - start);
    if (is_net_event(ev)) {
      if (events_.size() >= max_) {
        ++dropped_;
      } else {
        const auto j = protocol::Json::parse(line_, nullptr, false);
        if (j.is_object()) {
          NetEvent e;
          e.t = j.value("t", std::int64_t{0});
          e.name = std::string(ev);
          e.node = j.value("node", std::string{});
          protocol::Json rest = protocol::Json::object();
          for (auto it = j.begin(); it != j.end(); ++it) {
            if (it.key() != "t" && it.key() != "ev" && it.key() != "node")
              rest[it.key()] = it.value();
          }
          e.detail = rest.empty() ? "" : protocol::dump_json(rest);
          events_.push_back(std::move(e));
        }
      }
    }
  }
  line_.clear();
}

NetEventSink::int_type NetEventSink::overflow(int_type ch) {
  if (ch == traits_type::eof()) return traits_type::not_eof(ch);
  const char c = traits_type::to_char_type(ch);
  if (c == '\n') {
    line_done();
  } else if (line_.size() < 4096) {  // trace lines are short; a longer one is cut
    line_.push_back(c);
  }
  return ch;
}

std::streamsize NetEventSink::xsputn(const char* s, std::streamsize n) {
  for (std::streamsize i = 0; i < n; ++i) overflow(traits_type::to_int_type(s[i]));
  return n;
}

void build_wire_log(ReportCase& c, const TraceInput& in, const ReportLimits& limits) {
  auto client_of = [&](std::uint64_t conn) {
    const auto it = in.clients.find(conn);
    return it == in.clients.end() ? std::string("client") : it->second;
  };
  // Lifelines: the clients in order of appearance, then the server.
  for (const auto& r : in.frames) {
    const auto name = client_of(r.conn);
    if (std::find(c.lifelines.begin(), c.lifelines.end(), name) == c.lifelines.end())
      c.lifelines.push_back(name);
  }
  c.lifelines.push_back(in.server_name);

  const bool reads_recorded = std::any_of(in.frames.begin(), in.frames.end(),
                                          [](const auto& r) { return r.seen == Seen::Received; });
  struct Sent {
    std::size_t row;
    const protocol::Bytes* bytes;
  };
  using Key = std::pair<std::uint64_t, protocol::Sender>;
  std::map<Key, std::deque<Sent>> pending;    // written, not yet read
  std::map<Key, std::deque<Sent>> delivered;  // read (the last few), for duplicates
  std::vector<WireRow> rows;
  rows.reserve(in.frames.size());
  // Rows read while older writes of the same direction were unread: they
  // overtook those, if those arrive at all (a lost frame overtakes nothing).
  std::vector<std::pair<std::size_t, std::size_t>> overtook;  // (row, older row)
  for (const auto& r : in.frames) {
    const bool by_client = r.from == protocol::Sender::Client;
    const auto client = client_of(r.conn);
    WireRow row;
    row.conn = r.conn;
    row.from = by_client ? client : in.server_name;
    row.to = by_client ? in.server_name : client;
    const Key key{r.conn, r.from};
    if (r.seen == Seen::Both) {
      row.sent_ns = row.read_ns = r.t;
      row.fate = reads_recorded ? "" : "tap";
      describe_frame(r.frame, row.name, row.detail);
      rows.push_back(std::move(row));
      continue;
    }
    if (r.seen == Seen::Written) {
      row.sent_ns = r.t;
      describe_frame(r.frame, row.name, row.detail);
      pending[key].push_back(Sent{rows.size(), &r.frame});
      rows.push_back(std::move(row));
      continue;
    }
    // A read: the oldest unread write of the same bytes; one with older
    // unread writes before it overtook them.
    auto& q = pending[key];
    const auto limit = std::min(q.size(), kMaxPendingSearch);
    std::size_t i = 0;
    while (i < limit && *q[i].bytes != r.frame) ++i;
    if (i < limit) {
      auto& sent = rows[q[i].row];
      sent.read_ns = r.t;
      for (std::size_t j = 0; j < i && j < 8; ++j) overtook.emplace_back(q[i].row, q[j].row);
      auto& d = delivered[key];
      d.push_back(q[i]);
      if (d.size() > kMaxPendingSearch) d.pop_front();
      q.erase(q.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    // Read again after it was read: a duplicate; read but never written: altered.
    const auto& d = delivered[key];
    const auto again =
        std::find_if(d.rbegin(), d.rend(), [&](const Sent& s) { return *s.bytes == r.frame; });
    row.read_ns = r.t;
    row.sent_ns = again != d.rend() ? rows[again->row].sent_ns : r.t;
    row.fate = again != d.rend() ? "duplicate" : "altered";
    describe_frame(r.frame, row.name, row.detail);
    rows.push_back(std::move(row));
  }
  for (const auto& [row, older] : overtook) {
    if (rows[older].read_ns >= 0 && rows[row].fate.empty()) rows[row].fate = "reordered";
  }
  if (reads_recorded) {
    for (auto& r : rows)
      if (r.read_ns < 0 && r.fate.empty()) r.fate = "lost";
  }
  for (const auto& e : in.events) {
    WireRow row;
    row.kind = WireRow::Kind::Event;
    row.sent_ns = row.read_ns = e.t;
    row.from = e.node;
    row.name = e.name;
    row.detail = e.detail;
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const WireRow& a, const WireRow& b) { return a.sent_ns < b.sent_ns; });
  c.frames = in.frames.size();
  if (rows.size() > limits.rows_per_case) {
    c.rows_omitted = rows.size() - limits.rows_per_case;
    rows.resize(limits.rows_per_case);
  }
  c.rows = std::move(rows);
}

void rows_from_lines(ReportCase& c, const std::vector<std::string>& lines, const std::string& us,
                     const std::string& them) {
  auto add_lifeline = [&](const std::string& name) {
    if (std::find(c.lifelines.begin(), c.lifelines.end(), name) == c.lifelines.end())
      c.lifelines.push_back(name);
  };
  add_lifeline(us);
  add_lifeline(them);
  for (const auto& line : lines) {
    WireRow row;
    // "-> X" we sent X; "<- X" we got X; "A -> X" lifeline A sent X to them.
    auto arrow = line.find("-> ");
    auto back = line.find("<- ");
    const auto first = std::min(arrow, back);
    if (first == std::string::npos || first > 24) {
      row.kind = WireRow::Kind::Event;
      row.name = "note";
      row.detail = line;
      c.rows.push_back(std::move(row));
      continue;
    }
    std::string who = line.substr(0, first);
    while (!who.empty() && who.back() == ' ') who.pop_back();
    const std::string self = who.empty() ? us : who;
    add_lifeline(self);
    const bool sent = first == arrow;
    row.from = sent ? self : them;
    row.to = sent ? them : self;
    std::string text = line.substr(first + 3);
    // A frame in the JSON model names itself; other lines start with a name.
    const auto j = protocol::Json::parse(text, nullptr, false);
    if (j.is_object() && j.contains("name") && j["name"].is_string()) {
      row.name = j["name"].get<std::string>();
      row.detail = j.contains("value") ? protocol::dump_json(j["value"]) : text;
    } else {
      const auto space = text.find_first_of(" {");
      row.name = text.substr(0, space);
      row.detail = space == std::string::npos ? "" : text.substr(space);
    }
    c.rows.push_back(std::move(row));
  }
  c.frames = c.rows.size();
}

}  // namespace syncsim::conformance::report
