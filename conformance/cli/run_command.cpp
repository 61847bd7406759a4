// `syncsim run [PATH...]`: runs scenarios (YAML files, or directories of
// them; default: the shipped suite in scenarios/) on the reference pair in
// the simulator, judging every frame, and prints a line per run and a summary.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "conformance/checker/trace_reader.hpp"
#include "conformance/cli/commands.hpp"
#include "conformance/report/markup.hpp"
#include "conformance/report/pcap.hpp"
#include "conformance/report/report.hpp"
#include "conformance/runner/runner.hpp"
#include "protocol/json.hpp"

namespace syncsim::cli {

namespace report = conformance::report;

struct RunOptions {
  std::vector<std::string> paths;
  std::uint64_t seed = 1;
  std::string seeds;  // "A..B"
  std::string filter;
  bool verbose = false;
  bool bench = false;
  std::string junit_file, json_file, trace_file, html_file, pcap_file;
  std::size_t html_logs = 200;  // runs whose wire logs the HTML report keeps
};

// What one run recorded for the reports that need its frames.
struct Recording {
  std::ostringstream frames;    // the frame trace (JSON lines)
  report::NetEventSink events;  // the simulator's network events
  std::ostream events_stream{&events};
  std::map<std::uint64_t, std::string> clients;
  void attach(conformance::RunOptions& ro) {
    ro.frame_trace = &frames;
    ro.sim_trace = &events_stream;
    ro.conn_clients = &clients;
  }
};

// The frames, ends and client names of a recording, for a report.
static bool read_recording(const Recording& rec, report::TraceInput& in, report::PcapInput* pcap) {
  const auto trace = conformance::read_trace(rec.frames.str(), "recorded trace");
  if (!trace.error.empty()) {
    fmt::print(stderr, "syncsim run: {}\n", trace.error);
    return false;
  }
  for (const auto& it : trace.items) {
    if (it.kind == conformance::TraceItem::Kind::Frame) in.frames.push_back(it.frame);
    if (pcap && it.kind == conformance::TraceItem::Kind::Close)
      pcap->closed_at[it.frame.conn] = it.frame.t;  // the last end to close
  }
  in.clients = rec.clients;
  in.events = rec.events.events();
  if (pcap) {
    pcap->frames = in.frames;
    pcap->clients = rec.clients;
  }
  return true;
}

// One finished run, kept for the reports.
struct RunRecord {
  std::string name, file;
  std::uint64_t seed = 0;
  std::vector<std::string> failures;
  conformance::ScenarioResult result;
};

// JUnit XML: one testsuite, one testcase per (scenario, seed).
static bool write_junit(const std::string& path, const std::vector<RunRecord>& runs) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return false;
  std::size_t failures = 0;
  for (const auto& r : runs) failures += !r.failures.empty();
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"syncsim\" tests=\""
      << runs.size() << "\" failures=\"" << failures << "\">\n";
  for (const auto& r : runs) {
    out << "  <testcase classname=\"" << conformance::report::escape_markup(r.name)
        << "\" name=\"seed " << r.seed << "\" time=\"0\">\n";
    if (!r.failures.empty()) {
      std::string text;
      for (const auto& f : r.failures) text += f + "\n";
      text += "reproduce: syncsim run " + r.file + " --seed " + std::to_string(r.seed) + "\n";
      out << "    <failure message=\"" << conformance::report::escape_markup(r.failures.front())
          << "\">" << conformance::report::escape_markup(text) << "</failure>\n";
    }
    out << "  </testcase>\n";
  }
  out << "</testsuite>\n";
  return static_cast<bool>(out);
}

// JSON: every run with its findings.
static bool write_json(const std::string& path, const std::vector<RunRecord>& runs) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return false;
  protocol::Json doc = protocol::Json::array();
  for (const auto& r : runs) {
    protocol::Json findings = protocol::Json::array();
    for (const auto& f : r.result.findings) {
      findings.push_back({{"rule", std::string(f.finding.rule)},
                          {"level", std::string(protocol::level_name(f.finding.level))},
                          {"t_ns", f.t},
                          {"conn", f.conn},
                          {"message", f.finding.message},
                          {"frame", f.frame},
                          {"before", f.context}});
    }
    doc.push_back({{"scenario", r.name},
                   {"file", r.file},
                   {"seed", r.seed},
                   {"passed", r.failures.empty()},
                   {"failures", r.failures},
                   {"frames", r.result.frames},
                   {"trace_hash", fmt::format("{:016x}", r.result.trace_hash)},
                   {"findings", findings}});
  }
  out << protocol::dump_json(doc) << "\n";
  return static_cast<bool>(out);
}

// --bench: each run once, timed (wall time is measured here, never used in a
// run), with a table of the slowest scenarios and the totals.
static int bench_scenarios(const std::vector<conformance::Scenario>& scenarios, std::uint64_t first,
                           std::uint64_t last) {
  struct Timing {
    std::string name;
    double wall = 0, virtual_s = 0;
    std::uint64_t events = 0, frames = 0;
  };
  std::vector<Timing> rows;
  Timing total{"total"};
  bool all_passed = true;
  for (const auto& s : scenarios) {
    Timing t{s.name};
    const auto t0 = std::chrono::steady_clock::now();
    for (std::uint64_t seed = first; seed <= last; ++seed) {
      const auto r = conformance::run_scenario(s, seed);
      all_passed = all_passed && r.passed;
      t.virtual_s += r.virtual_s;
      t.events += r.events;
      t.frames += r.frames;
    }
    t.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    total.wall += t.wall;
    total.virtual_s += t.virtual_s;
    total.events += t.events;
    total.frames += t.frames;
    rows.push_back(t);
  }
  std::sort(rows.begin(), rows.end(), [](const Timing& a, const Timing& b) {
    return a.wall > b.wall || (a.wall == b.wall && a.name < b.name);
  });
  const std::uint64_t runs = (last - first + 1) * scenarios.size();
  fmt::print("syncsim run --bench: {} scenario(s) x seeds {}..{} = {} runs, each once\n\n",
             scenarios.size(), first, last, runs);
  fmt::print("{:<40} {:>9} {:>10} {:>10} {:>12} {:>12}\n", "slowest scenarios", "wall ms",
             "virtual s", "x real", "events/s", "frames/s");
  auto line = [](const Timing& t) {
    const double w = std::max(t.wall, 1e-9);
    fmt::print("{:<40} {:>9.1f} {:>10.0f} {:>10.0f} {:>12.0f} {:>12.0f}\n", t.name, t.wall * 1e3,
               t.virtual_s, t.virtual_s / w, static_cast<double>(t.events) / w,
               static_cast<double>(t.frames) / w);
  };
  for (std::size_t i = 0; i < rows.size() && i < 10; ++i) line(rows[i]);
  fmt::print("\n");
  line(total);
  fmt::print(
      "\n{} runs in {:.2f} s wall: {:.1f} ms per run; the virtual time they cover passes "
      "{:.0f}x faster than real time.\n",
      runs, total.wall, total.wall * 1e3 / static_cast<double>(std::max<std::uint64_t>(runs, 1)),
      total.virtual_s / std::max(total.wall, 1e-9));
  return all_passed ? kExitOk : kExitFindings;
}

static int run_scenarios(const RunOptions& o) {
  std::uint64_t first = o.seed, last = o.seed;
  if (!o.seeds.empty()) {
    const auto dots = o.seeds.find("..");
    try {
      if (dots == std::string::npos) throw std::invalid_argument("no ..");
      first = std::stoull(o.seeds.substr(0, dots));
      last = std::stoull(o.seeds.substr(dots + 2));
    } catch (const std::exception&) {
      fmt::print(stderr, "syncsim run: --seeds wants A..B, e.g. 1..100\n");
      return kExitInvalid;
    }
    if (last < first || last - first > 100'000) {
      fmt::print(stderr, "syncsim run: --seeds range must be increasing and at most 100000 long\n");
      return kExitInvalid;
    }
  }
  std::string error;
  const auto files = conformance::scenario_files(
      o.paths.empty() ? std::vector<std::string>{"scenarios"} : o.paths, error);
  if (!error.empty()) {
    fmt::print(stderr, "syncsim run: {}\n", error);
    return kExitInvalid;
  }
  std::vector<conformance::Scenario> scenarios;
  for (const auto& f : files) {
    auto loaded = conformance::load_scenario(f);
    if (!loaded.scenario) {
      fmt::print(stderr, "syncsim run: {}\n", loaded.error);
      return kExitInvalid;
    }
    if (!o.filter.empty() && loaded.scenario->name.find(o.filter) == std::string::npos) continue;
    scenarios.push_back(std::move(*loaded.scenario));
  }
  if (scenarios.empty()) {
    fmt::print(stderr, "syncsim run: no scenario to run\n");
    return kExitInvalid;
  }
  if (o.bench) return bench_scenarios(scenarios, first, last);
  std::ofstream trace_out, pcap_out, html_out;
  if (!o.trace_file.empty() || !o.pcap_file.empty()) {
    if (scenarios.size() != 1 || first != last) {
      fmt::print(
          stderr,
          "syncsim run: --trace and --pcap record one run: give one scenario and one seed\n");
      return kExitInvalid;
    }
  }
  // Every output file is opened before the runs, so a bad path fails at once.
  for (auto [file, stream] :
       {std::pair{&o.trace_file, &trace_out}, std::pair{&o.pcap_file, &pcap_out},
        std::pair{&o.html_file, &html_out}}) {
    if (file->empty()) continue;
    stream->open(*file, std::ios::binary);
    if (!*stream) {
      fmt::print(stderr, "syncsim run: {}: cannot write\n", *file);
      return kExitInvalid;
    }
  }
  report::Report html;
  html.title = "syncsim run";
  html.command = "syncsim run";
  for (const auto& p : o.paths) html.command += " " + p;
  html.command += first == last ? " --seed " + std::to_string(first)
                                : " --seeds " + std::to_string(first) + ".." + std::to_string(last);
  html.facts = {{"scenarios", std::to_string(scenarios.size())},
                {"seeds", std::to_string(first) + ".." + std::to_string(last)},
                {"target", "reference client and server, simulated network"}};
  std::size_t logged = 0;
  fmt::print("syncsim run: {} scenario(s), seeds {}..{}; each run twice (determinism check)\n",
             scenarios.size(), first, last);
  std::size_t passed = 0, caught = 0, failed = 0;
  double virtual_s = 0;
  std::vector<RunRecord> records;
  struct Row {
    std::string name;
    bool injects_bugs = false;
    std::size_t ok = 0, bad = 0;
    std::uint64_t frames = 0, must = 0;
  };
  std::vector<Row> rows;
  const auto t0 = std::chrono::steady_clock::now();  // measures only
  for (const auto& s : scenarios) {
    Row row{s.name,
            !s.server.bugs.empty() || std::any_of(s.clients.begin(), s.clients.end(),
                                                  [](const auto& c) { return !c.bugs.empty(); })};
    std::vector<std::string> first_failures;
    std::uint64_t first_failed_seed = 0;
    for (std::uint64_t seed = first; seed <= last; ++seed) {
      conformance::RunOptions ro;
      // Recorded for --trace and --pcap (the one run), and for the HTML
      // report's wire logs: the first seed of each scenario here; a later
      // seed that fails is run once more to record it (runs are
      // deterministic), so passing seeds are never recorded for nothing.
      const bool log_room = html_out.is_open() && logged < o.html_logs;
      Recording rec;
      if (trace_out.is_open() || pcap_out.is_open() || (log_room && seed == first)) rec.attach(ro);
      const auto r = conformance::run_scenario(s, seed, ro);
      // Determinism, proved on every run: the same seed must give the same trace.
      const auto again = conformance::run_scenario(s, seed);
      auto failures = r.failures;
      if (again.trace_hash != r.trace_hash) {
        failures.push_back("nondeterministic: trace hash " + fmt::format("{:016x}", r.trace_hash) +
                           " then " + fmt::format("{:016x}", again.trace_hash));
      }
      virtual_s += r.virtual_s;
      const bool ok = failures.empty();
      (ok ? row.ok : row.bad)++;
      row.frames += r.frames;
      row.must += r.must_findings;
      if (!ok && first_failures.empty()) {
        first_failures = failures;
        first_failed_seed = seed;
      }
      if (o.verbose) {
        fmt::print("    {}  seed {:<6} {:>7} frames  {:>3} MUST  trace {:016x}\n",
                   ok ? "pass" : "FAIL", seed, r.frames, r.must_findings, r.trace_hash);
        for (const auto& f : failures) fmt::print("        - {}\n", f);
        for (const auto& f : r.findings) {
          if (!ok || f.finding.level == protocol::Level::Must)
            fmt::print("        finding: {}\n", conformance::format_check_finding(f));
        }
      }
      if (!o.junit_file.empty() || !o.json_file.empty())
        records.push_back(RunRecord{s.name, s.file, seed, failures, r});
      if (trace_out.is_open()) trace_out << rec.frames.str();
      if (pcap_out.is_open()) {
        report::TraceInput in;
        report::PcapInput pcap;
        if (!read_recording(rec, in, &pcap)) return kExitInvalid;
        std::size_t n = 0;
        if (!report::write_pcap(pcap_out, pcap, {}, &n)) {
          fmt::print(stderr, "syncsim run: {}: cannot write\n", o.pcap_file);
          return kExitInvalid;
        }
        fmt::print("  pcap: {} frames as TCP segments in {} (server 10.0.0.1:9091)\n", n,
                   o.pcap_file);
      }
      if (html_out.is_open()) {
        report::ReportCase c;
        c.id = s.name + "-seed-" + std::to_string(seed);
        c.title = s.name + " (seed " + std::to_string(seed) + ")";
        for (const auto& rule : s.rules) c.rule += (c.rule.empty() ? "" : " ") + rule;
        c.verdict = !ok ? "FAIL" : row.injects_bugs ? "XFAIL" : "PASS";
        c.notes = failures;
        c.reproduce = "syncsim run " + s.file + " --seed " + std::to_string(seed) + " -v";
        c.findings = r.findings;
        c.frames = r.frames;
        const bool keep = log_room && (seed == first || !ok);
        c.has_log = keep;
        if (keep) {
          if (seed != first) {  // a failure of a later seed: record it now
            conformance::RunOptions again_ro;
            rec.attach(again_ro);
            conformance::run_scenario(s, seed, again_ro);
          }
          report::TraceInput in;
          if (!read_recording(rec, in, nullptr)) return kExitInvalid;
          report::build_wire_log(c, in);
          ++logged;
        }
        html.cases.push_back(std::move(c));
      }
    }
    // One progress line per scenario.
    const bool all_ok = row.bad == 0;
    const char* verdict = !all_ok ? "FAIL " : row.injects_bugs ? "XFAIL" : "PASS ";
    fmt::print("  {}  {:<40} {:>4}/{:<4} runs  {:>8} frames  {:>5} MUST\n", verdict, s.name, row.ok,
               row.ok + row.bad, row.frames, row.must);
    if (!all_ok) {
      for (const auto& f : first_failures) fmt::print("        - {}\n", f);
      fmt::print("        reproduce: syncsim run {} --seed {} -v --trace trace.jsonl\n", s.file,
                 first_failed_seed);
    }
    (all_ok ? (row.injects_bugs ? caught : passed) : failed)++;
    rows.push_back(row);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::size_t passed_runs = 0, caught_runs = 0, failed_runs = 0;
  for (const auto& row : rows) {
    if (row.bad > 0) {
      failed_runs += row.bad;
    } else if (row.injects_bugs) {
      caught_runs += row.ok;
    } else {
      passed_runs += row.ok;
    }
  }
  fmt::print("\n{:<13} {:>9} {:>6}  {}\n", "result", "scenarios", "runs", "meaning");
  fmt::print("{:<13} {:>9} {:>6}  {}\n", "PASS", passed, passed_runs,
             "every expectation held, no MUST finding");
  fmt::print("{:<13} {:>9} {:>6}  {}\n", "XFAIL", caught, caught_runs,
             "an injected bug was caught, as the scenario demands");
  fmt::print("{:<13} {:>9} {:>6}  {}\n", "FAIL", failed, failed_runs,
             "something did not hold (see above)");
  fmt::print("{:<13} {:>9} {:>6}  {}\n", "UNSUPPORTED", 0, 0,
             "needs what the target lacks (none: the reference has it all)");
  fmt::print("\n{} scenario(s): {} passed, {} expected-fail, {} failed\n", rows.size(), passed,
             caught, failed);
  fmt::print("{} run(s) x2; {:.0f} virtual s in {:.2f} wall s ({:.0f}x real time)\n",
             (last - first + 1) * rows.size(), virtual_s, wall, virtual_s / std::max(wall, 1e-9));
  if (!o.junit_file.empty() && !write_junit(o.junit_file, records)) {
    fmt::print(stderr, "syncsim run: {}: cannot write\n", o.junit_file);
    return kExitInvalid;
  }
  if (html_out.is_open()) {
    report::write_html(html_out, html);
    if (!html_out) {
      fmt::print(stderr, "syncsim run: {}: cannot write\n", o.html_file);
      return kExitInvalid;
    }
    fmt::print("HTML report: {} ({} case(s), {} with wire logs)\n", o.html_file, html.cases.size(),
               logged);
  }
  if (!o.json_file.empty() && !write_json(o.json_file, records)) {
    fmt::print(stderr, "syncsim run: {}: cannot write\n", o.json_file);
    return kExitInvalid;
  }
  return failed > 0 ? kExitFindings : kExitOk;
}

Runner add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand(
      "run",
      "Run scenarios on the reference client and server in the simulator.\n"
      "Every frame is judged by the conformance checker; each scenario's\n"
      "expectations (convergence, findings) decide pass or fail. Each run is\n"
      "done twice and must give the same trace hash. One line per scenario:\n"
      "PASS, XFAIL (a scenario that injects a bug into the reference and\n"
      "demands the checker catch it: it did) or FAIL, with the first seed's\n"
      "failures and a command that reproduces it exactly.\n\n"
      "Examples:\n"
      "  syncsim run                              # the shipped suite (scenarios/)\n"
      "  syncsim run scenarios/dedup-retransmit.yaml --seeds 1..50\n"
      "  syncsim run --filter purge -v\n"
      "  syncsim run scenarios/resync-gap-dropped-delta.yaml --seed 7 --trace t.jsonl\n"
      "  syncsim run --html report.html          # open it in any browser\n"
      "  syncsim run scenarios/writes-converge.yaml --pcap run.pcap\n\n"
      "Exit: 0 all passed, 1 a scenario failed, 2 invalid scenario or usage\n"
      "(YAML errors name file:line:column).");
  cmd->add_option("PATH", o->paths, "scenario files or directories (default: scenarios)");
  cmd->add_option("--seed", o->seed, "the seed of every run")->capture_default_str();
  cmd->add_option("--seeds", o->seeds, "a range of seeds, A..B");
  cmd->add_option("--filter", o->filter, "only scenarios whose name contains this");
  cmd->add_flag("-v,--verbose", o->verbose, "list details of passing runs too");
  cmd->add_option("--junit", o->junit_file,
                  "write a JUnit XML report (one testcase per scenario and seed)");
  cmd->add_option("--json", o->json_file, "write a JSON report with every finding");
  cmd->add_flag("--bench", o->bench,
                "time the runs instead (each once, no reports): the slowest scenarios,\n"
                "virtual seconds per wall second, events and frames per second");
  cmd->add_option("--html", o->html_file,
                  "write one self-contained HTML report: summary, filters by result and\n"
                  "rule, and per run its wire log (findings inline) and a sequence\n"
                  "diagram with the faults drawn on it (logs of the first seed of each\n"
                  "scenario and of failures, see --html-logs)");
  cmd->add_option("--html-logs", o->html_logs, "most runs whose wire logs the HTML report keeps")
      ->capture_default_str();
  cmd->add_option("--pcap", o->pcap_file,
                  "write the run as a pcap of TCP segments carrying its frames (server\n"
                  "10.0.0.1:9091); open it with Wireshark and wireshark/syncsim.lua;\n"
                  "one scenario, one seed");
  cmd->add_option("--trace", o->trace_file,
                  "record the run's frames (written and read), connection ends and purges as\n"
                  "JSON lines that `syncsim check-trace` reads; one scenario, one seed");
  return [o] { return run_scenarios(*o); };
}

}  // namespace syncsim::cli
