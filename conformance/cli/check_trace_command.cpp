// `syncsim check-trace FILE`: judges a recorded frame trace offline with the
// session checker. One JSON object per line:
//   {"t": <ns>, "conn": <id>, "from": "client"|"server", "frame_hex": "<hex>"}
//   ... optionally with "seen": "written"|"received" (default: both, a tap)
//   {"t": <ns>, "conn": <id>, "ev": "close"}
//   {"t": <ns>, "ev": "purge", "tenant": <u32>, "collection": "<name>"}
// Blank lines and lines starting with '#' are skipped.
#include <fmt/core.h>

#include <memory>

#include "conformance/checker/session_checker.hpp"
#include "conformance/cli/commands.hpp"
#include "conformance/cli/input.hpp"
#include "protocol/json.hpp"

namespace syncsim::cli {

struct CheckTraceOptions {
  std::string input;
  double grace_s = 10;
  bool quiet_should = false;
};

static int run_check_trace(const CheckTraceOptions& o) {
  auto r = read_input(o.input);
  if (!r.data) {
    fmt::print(stderr, "syncsim check-trace: {}\n", r.error);
    return kExitInvalid;
  }
  conformance::SessionChecker checker;
  std::int64_t last_t = 0;
  for (const auto& line : content_lines(*r.data)) {
    const std::string where = o.input + ":" + std::to_string(line.number);
    const auto j = protocol::Json::parse(line.text, nullptr, false);
    auto bad = [&](const std::string& why) {
      fmt::print(stderr, "syncsim check-trace: {}: {}\n", where, why);
      return kExitInvalid;
    };
    if (!j.is_object()) return bad("not a JSON object");
    if (!j.contains("t") || !j["t"].is_number_integer())
      return bad("\"t\" (virtual ns) missing or not an integer");
    const std::int64_t t = j["t"].get<std::int64_t>();
    if (j.contains("ev") && j["ev"] == "purge") {
      if (!j.contains("collection") || !j["collection"].is_string())
        return bad("a purge needs \"collection\"");
      const auto tenant = j.value("tenant", protocol::Json(0));
      if (!tenant.is_number_unsigned() || tenant.get<std::uint64_t>() > 0xffffffffULL)
        return bad("\"tenant\" must be a u32");
      checker.on_purge(static_cast<std::uint32_t>(tenant.get<std::uint64_t>()),
                       j["collection"].get<std::string>(), t);
      continue;
    }
    if (!j.contains("conn") || !j["conn"].is_number_unsigned())
      return bad("\"conn\" missing or not an unsigned integer");
    const std::uint64_t conn = j["conn"].get<std::uint64_t>();
    if (t < last_t)
      return bad("time goes backwards (" + std::to_string(t) + " < " + std::to_string(last_t) +
                 ")");
    last_t = t;
    if (j.contains("ev")) {
      if (j["ev"] != "close") return bad("\"ev\" must be \"close\" or \"purge\"");
      checker.on_close(conn, t);
      continue;
    }
    if (!j.contains("from") || (j["from"] != "client" && j["from"] != "server")) {
      return bad("\"from\" must be \"client\" or \"server\"");
    }
    if (!j.contains("frame_hex") || !j["frame_hex"].is_string())
      return bad("\"frame_hex\" missing");
    auto bytes = protocol::from_hex(j["frame_hex"].get<std::string>());
    if (!bytes) return bad("\"frame_hex\" is not even-length hex");
    conformance::Seen seen = conformance::Seen::Both;
    if (j.contains("seen")) {
      if (j["seen"] == "written") {
        seen = conformance::Seen::Written;
      } else if (j["seen"] == "received") {
        seen = conformance::Seen::Received;
      } else {
        return bad("\"seen\" must be \"written\" or \"received\"");
      }
    }
    checker.on_frame(conformance::FrameRecord{
        t, conn, j["from"] == "client" ? protocol::Sender::Client : protocol::Sender::Server,
        std::move(*bytes), seen});
  }
  checker.finish(last_t, static_cast<std::int64_t>(o.grace_s * 1e9));
  std::size_t shown = 0;
  for (const auto& f : checker.findings()) {
    if (o.quiet_should && f.finding.level != protocol::Level::Must) continue;
    ++shown;
    fmt::print("{}\n", conformance::format_check_finding(f));
    if (!f.frame.empty()) fmt::print("    frame:  {}\n", f.frame);
    for (const auto& c : f.context) fmt::print("    before: {}\n", c);
  }
  fmt::print("{} frames checked: {} MUST findings, {} findings in all\n", checker.frames(),
             checker.must_count(), checker.findings().size());
  return checker.must_count() > 0 ? kExitFindings : kExitOk;
}

Runner add_check_trace_command(CLI::App& app) {
  auto o = std::make_shared<CheckTraceOptions>();
  auto* cmd = app.add_subcommand(
      "check-trace",
      "Judge a recorded trace of frames against the spec: every frame's\n"
      "encoding and values, and each connection's session rules (handshake\n"
      "order, answers and their order, duplicates, LSNs, pongs, snapshots,\n"
      "purges). Each finding names its rule, time, connection, the frame and\n"
      "the frames before it.\n\n"
      "Trace format, one JSON object per line:\n"
      "  {\"t\": 1000, \"conn\": 1, \"from\": \"client\", \"frame_hex\": \"ff05...\"}\n"
      "  {\"t\": 9000, \"conn\": 1, \"ev\": \"close\"}\n"
      "A frame may say \"seen\": \"written\" or \"received\" (who read it, when);\n"
      "without it a frame counts as read when written (a tap on the wire).\n"
      "  {\"t\": 9500, \"ev\": \"purge\", \"tenant\": 0, \"collection\": \"orders\"}\n"
      "notes an admin purge (PURGE-1). `syncsim run --trace` writes this format.\n\n"
      "Exit: 0 no MUST finding, 1 MUST findings, 2 unreadable trace\n"
      "(the error names file:line).");
  cmd->add_option("TRACE", o->input, "the trace file, or - for stdin")->required();
  cmd->add_option("--grace", o->grace_s,
                  "seconds an unanswered request may still be in flight at the end")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_flag("--must-only", o->quiet_should, "list MUST findings only");
  return [o] { return run_check_trace(*o); };
}

}  // namespace syncsim::cli
