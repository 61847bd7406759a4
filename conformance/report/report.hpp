// The model behind the HTML report (`syncsim run --html`, `check --html`,
// `check-trace --html`): cases with their verdicts, findings and wire logs,
// and the timeline builder that turns a trace (frames as written and as read,
// plus the simulator's fault events) into a wire log whose rows say what the
// network did to each frame: delivered, lost, duplicated, reordered.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <streambuf>
#include <string>
#include <vector>

#include "conformance/checker/session_checker.hpp"

namespace syncsim::conformance::report {

// One row of a wire log: a frame on its way, or an event of the network.
struct WireRow {
  enum class Kind { Frame, Event };
  Kind kind = Kind::Frame;
  std::int64_t sent_ns = -1;  // -1: not known (a live case records order only)
  std::int64_t read_ns = -1;  // -1: never read (lost), or not known
  std::string from, to;       // lifeline names; an event has `from` only (its node, or "")
  std::uint64_t conn = 0;
  std::string name;    // message name ("DeltaPush"), or the event ("partition")
  std::string detail;  // the decoded frame (JSON model), or the event's fields
  // What the network did: "" (delivered as written), "lost", "duplicate",
  // "reordered", "altered" (read bytes that were never written: corrupted or
  // injected), "tap" (written and read at once: a trace from the wire).
  std::string fate;
};

struct ReportCase {
  std::string id;                  // unique in the report, also its anchor
  std::string title;               // scenario name or case title
  std::string rule;                // the rule the case proves, if it is about one
  std::string verdict;             // PASS, FAIL, XFAIL, XPASS, TIMEOUT, UNSUPPORTED, UNREACHABLE
  std::vector<std::string> notes;  // failures or what was expected and what arrived
  std::string reproduce;           // a command line
  std::vector<CheckFinding> findings;
  std::vector<std::string> lifelines;  // left to right
  std::vector<WireRow> rows;           // in order of sending
  std::size_t rows_omitted = 0;        // beyond the per-case bound
  bool has_log = true;                 // false: summary only (see Report::max_logged_cases)
  std::uint64_t frames = 0;
};

struct Report {
  std::string title = "syncsim report";
  std::string command;                                     // how it was made
  std::vector<std::pair<std::string, std::string>> facts;  // seed, target, ...
  std::vector<ReportCase> cases;
};

// Bounds that keep a report readable and its file small.
struct ReportLimits {
  std::size_t rows_per_case = 400;  // wire-log rows kept per case
  std::size_t arrows_per_diagram = 120;
};

// ---- building wire logs ---------------------------------------------------

// A simulator event worth drawing (faults, partitions, crashes, clock jumps).
struct NetEvent {
  std::int64_t t = 0;
  std::string name;  // the trace's "ev"
  std::string node;  // where, if the event names a node
  std::string detail;
};

// Keeps the lines of a simulator trace that are network events (partition,
// heal, drop, duplicate, reorder, corrupt, crash, restart, clock-jump, ...),
// at most `max_events` of them, and drops the rest as they are written: the
// simulator's `trace_out` for a run that feeds a report.
class NetEventSink : public std::streambuf {
 public:
  explicit NetEventSink(std::size_t max_events = 2000) : max_(max_events) {}
  const std::vector<NetEvent>& events() const { return events_; }
  std::size_t dropped() const { return dropped_; }

 protected:
  int_type overflow(int_type ch) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;

 private:
  void line_done();
  std::string line_;
  std::vector<NetEvent> events_;
  std::size_t max_, dropped_ = 0;
};

// What a run recorded, for one case's wire log.
struct TraceInput {
  std::vector<FrameRecord> frames;               // in trace order
  std::map<std::uint64_t, std::string> clients;  // connection -> client lifeline name
  std::vector<NetEvent> events;
  std::string server_name = "server";
};

// Pairs each frame as written with its reads (per connection and direction,
// by identical bytes, oldest first) and builds the case's lifelines and rows.
void build_wire_log(ReportCase& c, const TraceInput& in, const ReportLimits& limits = {});

// A live case's frame lines ("-> ...", "<- ...", "A -> ...", other lines as
// notes) as rows between `us` and `them`, in order, times unknown.
void rows_from_lines(ReportCase& c, const std::vector<std::string>& lines, const std::string& us,
                     const std::string& them);

// ---- writing ----------------------------------------------------------------

// One self-contained HTML file: inline CSS, script and SVG, nothing fetched.
void write_html(std::ostream& out, const Report& report, const ReportLimits& limits = {});

}  // namespace syncsim::conformance::report
