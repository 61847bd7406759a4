// `syncsim check-trace FILE`: judges a recorded frame trace offline with the
// session checker. One JSON object per line:
//   {"t": <ns>, "conn": <id>, "from": "client"|"server", "frame_hex": "<hex>"}
//   ... optionally with "seen": "written"|"received" (default: both, a tap)
//   {"t": <ns>, "conn": <id>, "ev": "close"}
//   {"t": <ns>, "ev": "purge", "tenant": <u32>, "collection": "<name>"}
//   {"t": <ns>, "conn": <id>, "from": ..., "ws": "binary"|"text"|"ping"|"pong"|"close",
//    "payload_hex": "<hex>"}   a WebSocket message, whole (D85)
//   {"t": <ns>, "conn": <id>, "ev": "hangup", "side": "client"|"server"}   (D86)
//   and state notes (D84); conformance/checker/trace_writer.hpp has them all.
// Blank lines and lines starting with '#' are skipped.
#include <fmt/core.h>

#include <fstream>
#include <memory>

#include "conformance/checker/session_checker.hpp"
#include "conformance/checker/trace_reader.hpp"
#include "conformance/cli/commands.hpp"
#include "conformance/cli/input.hpp"
#include "conformance/live/round_trips.hpp"
#include "conformance/report/pcap.hpp"
#include "conformance/report/report.hpp"
#include "protocol/codec.hpp"
#include "protocol/frame_header.hpp"

namespace syncsim::cli {

struct CheckTraceOptions {
  std::string input;
  double grace_s = 10;
  bool quiet_should = false;
  bool tap = false;  // every record was taken at a tap (D81)
  double tap_tolerance_ms = 50;
  std::string html_file, pcap_file;
};

// The trace as an HTML report (one case) and as a pcap, when asked.
static bool write_reports(const CheckTraceOptions& o,
                          const std::vector<conformance::TraceItem>& items,
                          const conformance::SessionChecker& checker) {
  namespace report = conformance::report;
  report::TraceInput in;
  report::PcapInput pcap;
  for (const auto& it : items) {
    if (it.kind == conformance::TraceItem::Kind::Frame) in.frames.push_back(it.frame);
    if (it.kind == conformance::TraceItem::Kind::Ws && it.ws.kind == conformance::WsKind::Binary) {
      const auto m = protocol::frame_of_message(it.ws.payload);  // the frame it carries
      if (m.kind == protocol::MessageFrame::Kind::Frame)
        in.frames.push_back(
            conformance::FrameRecord{it.ws.t, it.ws.conn, it.ws.from,
                                     protocol::Bytes(m.frame.begin(), m.frame.end()), it.ws.seen});
    }
    if (it.kind == conformance::TraceItem::Kind::Close) pcap.closed_at[it.frame.conn] = it.frame.t;
  }
  if (!o.html_file.empty()) {
    report::Report rep;
    rep.title = "syncsim check-trace " + o.input;
    rep.facts = {{"frames", std::to_string(checker.frames())},
                 {"MUST findings", std::to_string(checker.must_count())}};
    report::ReportCase c;
    c.id = "trace";
    c.title = o.input;
    c.verdict = checker.must_count() > 0 ? "FAIL" : "PASS";
    c.findings = checker.findings();
    report::build_wire_log(c, in);
    rep.cases.push_back(std::move(c));
    std::ofstream out(o.html_file, std::ios::binary);
    report::write_html(out, rep);
    if (!out) {
      fmt::print(stderr, "syncsim check-trace: {}: cannot write\n", o.html_file);
      return false;
    }
  }
  if (!o.pcap_file.empty()) {
    pcap.frames = std::move(in.frames);
    std::ofstream out(o.pcap_file, std::ios::binary);
    if (!report::write_pcap(out, pcap)) {
      fmt::print(stderr, "syncsim check-trace: {}: cannot write\n", o.pcap_file);
      return false;
    }
  }
  return true;
}

static int run_check_trace(const CheckTraceOptions& o) {
  auto r = read_input(o.input);
  if (!r.data) {
    fmt::print(stderr, "syncsim check-trace: {}\n", r.error);
    return kExitInvalid;
  }
  const auto trace = conformance::read_trace(*r.data, o.input);
  if (!trace.error.empty()) {
    fmt::print(stderr, "syncsim check-trace: {}\n", trace.error);
    return kExitInvalid;
  }
  conformance::CheckerOptions options;
  options.at_tap = o.tap;
  options.tap_tolerance_ns = static_cast<std::int64_t>(o.tap_tolerance_ms * 1e6);
  conformance::SessionChecker checker(options);
  if (o.tap) {
    // As the live tap judged it (D118): the tolerance follows the round
    // trips the trace shows, from --tap-tolerance-ms up.
    conformance::RoundTrips trips;
    for (const auto& it : trace.items) {
      using Kind = conformance::TraceItem::Kind;
      if (it.kind == Kind::Frame && it.frame.seen != conformance::Seen::Received) {
        if (const auto d = protocol::decode_frame(it.frame.frame); d.message) {
          trips.frame(it.frame.conn, it.frame.from, *d.message, it.frame.t);
          checker.set_tap_tolerance_ns(trips.tolerance_ns(options.tap_tolerance_ns));
        }
      } else if (it.kind == Kind::Close) {
        trips.closed(it.frame.conn);
      }
      conformance::replay(checker, {it});
    }
  } else {
    conformance::replay(checker, trace.items);
  }
  const std::int64_t last_t = trace.items.empty() ? 0 : trace.items.back().frame.t;
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
  if (!write_reports(o, trace.items, checker)) return kExitInvalid;
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
  cmd->add_flag("--tap", o->tap,
                "the written/received times are a tap's, as `proxy --trace` records them: a "
                "client frame within the tap tolerance of a gap is not judged under RESYNC-2; "
                "the tolerance follows the round trips the trace shows (D118)");
  cmd->add_option("--tap-tolerance-ms", o->tap_tolerance_ms,
                  "at a tap (--tap, or a frame without \"seen\"): RESYNC-2's allowance for "
                  "frames already on the wire; with --tap, the least of it")
      ->check(CLI::Range(0.0, 60000.0))
      ->capture_default_str();
  cmd->add_option("--html", o->html_file,
                  "also write the trace as an HTML report: wire log, sequence diagram,\n"
                  "findings inline");
  cmd->add_option("--pcap", o->pcap_file,
                  "also write the frames as a pcap of TCP segments (for Wireshark with\n"
                  "wireshark/syncsim.lua)");
  return [o] { return run_check_trace(*o); };
}

}  // namespace syncsim::cli
