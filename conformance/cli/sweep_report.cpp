#include "conformance/cli/sweep_report.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <fstream>

#include "conformance/checker/trace_reader.hpp"
#include "conformance/cli/input.hpp"
#include "conformance/report/markup.hpp"

namespace syncsim::cli {

namespace report = conformance::report;
using conformance::RunRecord;
using protocol::Json;

void Recording::attach(conformance::RunOptions& ro) {
  ro.frame_trace = &frames;
  ro.sim_trace = &events_stream;
  ro.conn_clients = &clients;
}

void record_run(const conformance::Scenario& s, std::uint64_t seed, Recording& rec) {
  conformance::RunOptions ro;
  rec.attach(ro);
  conformance::run_scenario(s, seed, ro);
}

std::string read_recording(const Recording& rec, report::TraceInput& in, report::PcapInput* pcap) {
  const auto trace = conformance::read_trace(rec.frames.str(), "recorded trace");
  if (!trace.error.empty()) return trace.error;
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
  return "";
}

std::string SweepMeta::command() const {
  std::string c = "syncsim run";
  for (const auto& p : paths) c += " " + p;
  if (!filter.empty()) c += " --filter " + filter;
  c += seeds.first == seeds.last
           ? " --seed " + std::to_string(seeds.first)
           : " --seeds " + std::to_string(seeds.first) + ".." + std::to_string(seeds.last);
  return c;
}

// ---- the text a person reads ---------------------------------------------

void SweepTally::add(std::size_t scenario, const RunRecord& r) {
  Row& row = rows_.at(scenario);
  if (!r.unsupported.empty()) {
    ++row.unsupported;
    row.unsupported_why = r.unsupported;
    return;
  }
  if (!r.deviation.empty()) {  // a known upstream deviation (D144): neither ok nor bad
    ++row.deviation;
    row.deviation_why = r.deviation;
    row.frames += r.frames;
    row.must += r.must;
    return;
  }
  (r.ok() ? row.ok : row.bad)++;
  row.frames += r.frames;
  row.must += r.must;
  virtual_s_ += r.virtual_s;
  if (!r.ok() && row.first_failures.empty()) {
    row.first_failures = r.failures;
    row.first_failed_seed = r.seed;
  }
}

void SweepTally::print_scenario(std::size_t scenario) const {
  const Row& row = rows_.at(scenario);
  const auto& s = meta_.scenarios.at(scenario);
  if (row.ok + row.bad == 0 && row.unsupported > 0) {
    fmt::print("  UNSUP  {:<40} {}\n", s.name, row.unsupported_why);
    return;
  }
  if (row.ok + row.bad == 0 && row.deviation > 0) {
    fmt::print("  DEVIATION  {:<40} {}\n", s.name, row.deviation_why);
    return;
  }
  const char* verdict = row.bad > 0 ? "FAIL " : s.injects_bugs ? "XFAIL" : "PASS ";
  fmt::print("  {}  {:<40} {:>4}/{:<4} runs  {:>8} frames  {:>5} MUST\n", verdict, s.name, row.ok,
             row.ok + row.bad, row.frames, row.must);
  if (row.bad == 0) return;
  for (const auto& f : row.first_failures) fmt::print("        - {}\n", f);
  if (!meta_.live_server.empty()) {
    fmt::print("        again: syncsim run {} {} --seed {} -v\n", s.file, meta_.live_server,
               row.first_failed_seed);
    return;
  }
  fmt::print("        reproduce: syncsim run {} --seed {} -v --trace trace.jsonl\n", s.file,
             row.first_failed_seed);
}

void SweepTally::print_summary() const {
  std::size_t scenarios[3] = {0, 0, 0};  // passed, caught, failed
  std::size_t runs[3] = {0, 0, 0};
  std::size_t tallied = 0, unsupported = 0, deviations = 0;
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    const Row& row = rows_[i];
    unsupported += row.ok + row.bad == 0 && row.unsupported > 0;
    deviations += row.ok + row.bad == 0 && row.deviation > 0;
    if (row.ok + row.bad == 0) continue;
    ++tallied;
    const int k = row.bad > 0 ? 2 : meta_.scenarios[i].injects_bugs ? 1 : 0;
    ++scenarios[k];
    runs[k] += k == 2 ? row.bad : row.ok;
  }
  const auto line = [](const char* name, std::size_t n, std::size_t r, const char* meaning) {
    fmt::print("{:<13} {:>9} {:>6}  {}\n", name, n, r, meaning);
  };
  fmt::print("\n{:<13} {:>9} {:>6}  {}\n", "result", "scenarios", "runs", "meaning");
  line("PASS", scenarios[0], runs[0], "every expectation held, no MUST finding");
  line("XFAIL", scenarios[1], runs[1], "an injected bug was caught, as the scenario demands");
  line("FAIL", scenarios[2], runs[2], "something did not hold (see above)");
  if (meta_.live_server.empty()) {
    line("UNSUPPORTED", 0, 0, "needs what the target lacks (none: the reference has it all)");
  } else {
    line("UNSUPPORTED", unsupported, 0, "not run: needs what a live run lacks (UNSUP above)");
    if (deviations > 0)
      line("DEVIATION", deviations, deviations, "failed only as the profile's upstream does (§7)");
  }
  fmt::print("\n{} scenario(s): {} passed, {} expected-fail, {} failed", tallied, scenarios[0],
             scenarios[1], scenarios[2]);
  if (unsupported > 0) fmt::print(", {} unsupported", unsupported);
  if (deviations > 0) fmt::print(", {} deviation(s)", deviations);
  fmt::print("\n");
}

bool SweepTally::any_failed() const {
  return std::any_of(rows_.begin(), rows_.end(), [](const Row& r) { return r.bad > 0; });
}

std::uint64_t SweepTally::runs() const {
  std::uint64_t n = 0;
  for (const auto& r : rows_) n += r.ok + r.bad;
  return n;
}

// ---- reports ---------------------------------------------------------------

// JUnit XML: one testsuite, one testcase per (scenario, seed).
bool write_junit(const std::string& path, const std::vector<RunRecord>& runs) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return false;
  std::size_t failures = 0;
  for (const auto& r : runs) failures += !r.ok();
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"syncsim\" tests=\""
      << runs.size() << "\" failures=\"" << failures << "\">\n";
  for (const auto& r : runs) {
    out << "  <testcase classname=\"" << report::escape_markup(r.name) << "\" name=\"seed "
        << r.seed << "\" time=\"0\">\n";
    if (!r.unsupported.empty()) {
      out << "    <skipped message=\"" << report::escape_markup(r.unsupported) << "\"/>\n";
    } else if (!r.deviation.empty()) {  // as check's DEVIATION (D141)
      out << "    <skipped message=\"DEVIATION: " << report::escape_markup(r.deviation) << "\"/>\n";
    } else if (!r.ok()) {
      std::string text;
      for (const auto& f : r.failures) text += f + "\n";
      text += "reproduce: syncsim run " + r.file + " --seed " + std::to_string(r.seed) + "\n";
      out << "    <failure message=\"" << report::escape_markup(r.failures.front()) << "\">"
          << report::escape_markup(text) << "</failure>\n";
    }
    out << "  </testcase>\n";
  }
  out << "</testsuite>\n";
  return static_cast<bool>(out);
}

namespace {

Json meta_to_json(const SweepMeta& m) {
  Json scenarios = Json::array();
  for (const auto& s : m.scenarios) {
    scenarios.push_back(
        {{"file", s.file}, {"name", s.name}, {"rules", s.rules}, {"injects_bugs", s.injects_bugs}});
  }
  return Json{{"command", m.command()},
              {"paths", m.paths},
              {"filter", m.filter},
              {"seeds", {{"first", m.seeds.first}, {"last", m.seeds.last}}},
              {"shard", {{"index", m.shard.index + 1}, {"count", m.shard.count}}},
              {"complete", m.complete},
              {"stopped", m.stopped},
              {"html_logs", m.html_logs},
              {"scenarios", scenarios}};
}

SweepMeta meta_from_json(const Json& j) {
  SweepMeta m;
  m.paths = j.at("paths").get<std::vector<std::string>>();
  m.filter = j.at("filter").get<std::string>();
  m.seeds.first = j.at("seeds").at("first").get<std::uint64_t>();
  m.seeds.last = j.at("seeds").at("last").get<std::uint64_t>();
  m.shard.index = j.at("shard").at("index").get<std::uint64_t>() - 1;
  m.shard.count = j.at("shard").at("count").get<std::uint64_t>();
  m.complete = j.at("complete").get<bool>();
  m.stopped = j.at("stopped").get<std::string>();
  m.html_logs = j.at("html_logs").get<std::size_t>();
  for (const auto& s : j.at("scenarios")) {
    m.scenarios.push_back({s.at("file").get<std::string>(), s.at("name").get<std::string>(),
                           s.at("rules").get<std::vector<std::string>>(),
                           s.at("injects_bugs").get<bool>()});
  }
  if (m.seeds.last < m.seeds.first || m.shard.count == 0 || m.shard.index >= m.shard.count)
    throw std::invalid_argument("seeds or shard out of range");
  return m;
}

}  // namespace

// JSON: the sweep, then every run with its findings.
bool write_json(const std::string& path, const SweepMeta& meta,
                const std::vector<RunRecord>& runs) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return false;
  Json doc = meta_to_json(meta);
  doc["format"] = "syncsim-run/1";
  Json list = Json::array();
  for (const auto& r : runs) list.push_back(conformance::record_to_json(r));
  doc["runs"] = std::move(list);
  out << protocol::dump_json(doc) << "\n";
  return static_cast<bool>(out);
}

SweepResult read_sweep_json(const std::string& path) {
  SweepResult out;
  const auto text = read_input(path);
  if (!text.data) {
    out.error = text.error;
    return out;
  }
  const Json doc = Json::parse(*text.data, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != "syncsim-run/1") {
    out.error = path + ": not a `syncsim run --json` result (format syncsim-run/1)";
    return out;
  }
  try {
    out.meta = meta_from_json(doc);
  } catch (const std::exception& e) {
    out.error = path + ": bad sweep description: " + e.what();
    return out;
  }
  const auto runs = doc.find("runs");
  if (runs == doc.end() || !runs->is_array()) {
    out.error = path + ": no \"runs\" list";
    return out;
  }
  for (std::size_t i = 0; i < runs->size(); ++i) {
    std::string error;
    auto r = conformance::record_from_json((*runs)[i], error);
    if (!r) {
      out.error = fmt::format("{}: run {}: {}", path, i + 1, error);
      return out;
    }
    out.runs.push_back(std::move(*r));
  }
  return out;
}

SweepPositions::SweepPositions(const SweepMeta& meta) : seeds_(meta.seeds) {
  for (std::size_t i = 0; i < meta.scenarios.size(); ++i)
    index_.emplace(std::pair{meta.scenarios[i].file, meta.scenarios[i].name}, i);
}

std::optional<std::uint64_t> SweepPositions::operator()(const RunRecord& r) const {
  if (r.seed < seeds_.first || r.seed > seeds_.last) return std::nullopt;
  const auto it = index_.find({r.file, r.name});
  if (it == index_.end()) return std::nullopt;
  return it->second * seeds_.count() + (r.seed - seeds_.first);
}

namespace {

report::ReportCase html_case(const SweepScenario& s, const RunRecord& r) {
  report::ReportCase c;
  c.id = s.name + "-seed-" + std::to_string(r.seed);
  c.title = s.name + " (seed " + std::to_string(r.seed) + ")";
  for (const auto& rule : s.rules) c.rule += (c.rule.empty() ? "" : " ") + rule;
  c.verdict = !r.unsupported.empty() ? "UNSUPPORTED"
              : !r.deviation.empty() ? "DEVIATION"
              : !r.ok()              ? "FAIL"
              : s.injects_bugs       ? "XFAIL"
                                     : "PASS";
  c.notes = r.failures;
  if (!r.unsupported.empty()) c.notes.push_back("not run: " + r.unsupported);
  if (!r.deviation.empty()) c.notes.push_back(r.deviation);
  c.notes.insert(c.notes.end(), r.notes.begin(), r.notes.end());
  c.reproduce = "syncsim run " + s.file + " --seed " + std::to_string(r.seed) + " -v";
  c.findings = r.findings;
  c.frames = r.frames;
  c.has_log = false;
  return c;
}

}  // namespace

bool write_html(const std::string& path, const SweepMeta& meta, const std::vector<RunRecord>& runs,
                const std::vector<conformance::Scenario>& scenarios, std::size_t* logged) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return false;
  report::Report html;
  html.title = "syncsim run";
  html.command = meta.command();
  html.facts = {
      {"scenarios", std::to_string(meta.scenarios.size())},
      {"seeds", std::to_string(meta.seeds.first) + ".." + std::to_string(meta.seeds.last)},
      {"target", "reference client and server, simulated network"}};
  *logged = 0;
  const SweepPositions positions(meta);
  for (const auto& r : runs) {
    const auto position = positions(r);
    if (!position) continue;
    const std::size_t index = positions.scenario(*position);
    auto c = html_case(meta.scenarios[index], r);
    // Wire logs: the first seed of each scenario, and every failure.
    const bool wanted = r.seed == meta.seeds.first || !r.ok();
    if (wanted && *logged < meta.html_logs && index < scenarios.size()) {
      Recording rec;
      record_run(scenarios[index], r.seed, rec);
      report::TraceInput in;
      if (read_recording(rec, in, nullptr).empty()) {
        report::build_wire_log(c, in);
        c.has_log = true;
        ++*logged;
      }
    }
    html.cases.push_back(std::move(c));
  }
  report::write_html(out, html);
  return static_cast<bool>(out);
}

}  // namespace syncsim::cli
