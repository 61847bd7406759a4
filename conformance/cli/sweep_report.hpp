// What `syncsim run` prints and writes about a sweep, made from its run
// records alone, so that `syncsim merge` of shard results prints and writes
// exactly what one unsharded run would (D78): the per-scenario lines, the
// verdict table, and the JUnit, JSON and HTML reports.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "conformance/report/pcap.hpp"
#include "conformance/report/report.hpp"
#include "conformance/runner/runner.hpp"
#include "conformance/runner/sweep.hpp"
#include "protocol/json.hpp"

namespace syncsim::cli {

// One run recorded for reports (--trace, --pcap, the HTML wire logs).
struct Recording {
  std::ostringstream frames;  // the frame trace (JSON lines)
  conformance::report::NetEventSink events;
  std::ostream events_stream{&events};
  std::map<std::uint64_t, std::string> clients;
  void attach(conformance::RunOptions& ro);
};
// Runs the scenario once more, recording it.
void record_run(const conformance::Scenario& s, std::uint64_t seed, Recording& rec);
// The recording's frames, ends and client names for a report; "" or an error.
std::string read_recording(const Recording& rec, conformance::report::TraceInput& in,
                           conformance::report::PcapInput* pcap);

// A scenario as the reports see it.
struct SweepScenario {
  std::string file, name;
  std::vector<std::string> rules;
  bool injects_bugs = false;
};

// The sweep a result belongs to: enough to check that shards fit together
// and to name the run in reports.
struct SweepMeta {
  std::vector<std::string> paths;  // as given on the command line
  std::string filter;              // --filter, if any
  conformance::SeedRange seeds;
  std::vector<SweepScenario> scenarios;  // in sweep order
  conformance::Shard shard;              // the whole sweep after a merge
  bool complete = true;                  // false: stopped early (first failure, time budget)
  std::string stopped;                   // why, when not complete
  std::size_t html_logs = 200;
  std::string live_server;      // `run --server`: its target flags, "" in the simulator
  std::string command() const;  // "syncsim run PATH... --seeds A..B"
};

// Per-scenario tallies: one line each, and the verdict table.
class SweepTally {
 public:
  explicit SweepTally(const SweepMeta& meta) : meta_(meta), rows_(meta.scenarios.size()) {}
  void add(std::size_t scenario, const conformance::RunRecord& r);
  // The line of one scenario (and its first failure with a reproduce command).
  void print_scenario(std::size_t scenario) const;
  void print_summary() const;
  bool any_failed() const;
  std::uint64_t runs() const;
  double virtual_s() const { return virtual_s_; }

 private:
  struct Row {
    std::size_t ok = 0, bad = 0, unsupported = 0, deviation = 0;
    std::string unsupported_why, deviation_why;
    std::uint64_t frames = 0, must = 0;
    std::vector<std::string> first_failures;
    std::uint64_t first_failed_seed = 0;
  };
  const SweepMeta& meta_;
  std::vector<Row> rows_;
  double virtual_s_ = 0;
};

// Reports. Each returns false if the file cannot be written.
bool write_junit(const std::string& path, const std::vector<conformance::RunRecord>& runs);
bool write_json(const std::string& path, const SweepMeta& meta,
                const std::vector<conformance::RunRecord>& runs);
// The HTML report; wire logs (first seed of each scenario, and failures, up to
// meta.html_logs) are recorded by running those seeds again: runs are
// deterministic. `scenarios` are the loaded scenarios, in meta order, or empty
// when they cannot be loaded (the report then has no wire logs).
bool write_html(const std::string& path, const SweepMeta& meta,
                const std::vector<conformance::RunRecord>& runs,
                const std::vector<conformance::Scenario>& scenarios, std::size_t* logged);

// A --json file read back: its sweep and runs, or an error naming the file.
struct SweepResult {
  SweepMeta meta;
  std::vector<conformance::RunRecord> runs;
  std::string error;
};
SweepResult read_sweep_json(const std::string& path);

// Positions of runs in a sweep's canonical order. The scenario index is built
// once, so placing each of a long sweep's runs costs one lookup, not a scan
// of the scenario list.
class SweepPositions {
 public:
  explicit SweepPositions(const SweepMeta& meta);
  // The run's position, or nullopt when it does not belong to the sweep.
  std::optional<std::uint64_t> operator()(const conformance::RunRecord& r) const;
  // The index of the scenario at a position.
  std::size_t scenario(std::uint64_t position) const { return position / seeds_.count(); }

 private:
  conformance::SeedRange seeds_;
  std::map<std::pair<std::string, std::string>, std::size_t> index_;  // (file, name)
};

}  // namespace syncsim::cli
