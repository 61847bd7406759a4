// `syncsim merge R1.json R2.json ...`: joins the --json results of the
// shards of one sweep (`syncsim run --shard K/N --json RK.json`) into the
// reports one unsharded run would have written, byte for byte (D78).
#include <fmt/core.h>

#include <map>
#include <memory>

#include "conformance/cli/commands.hpp"
#include "conformance/cli/sweep_report.hpp"

namespace syncsim::cli {
namespace {

struct MergeOptions {
  std::vector<std::string> inputs;
  std::string junit_file, json_file, html_file;
};

// Shards of one sweep agree on everything but their index.
std::string same_sweep(const SweepMeta& a, const SweepMeta& b) {
  if (a.paths != b.paths || a.filter != b.filter || a.seeds.first != b.seeds.first ||
      a.seeds.last != b.seeds.last)
    return "another sweep (paths or seeds differ)";
  if (a.scenarios.size() != b.scenarios.size()) return "another sweep (other scenarios)";
  for (std::size_t i = 0; i < a.scenarios.size(); ++i) {
    if (a.scenarios[i].file != b.scenarios[i].file || a.scenarios[i].name != b.scenarios[i].name)
      return "another sweep (other scenarios)";
  }
  if (a.shard.count != b.shard.count) return "another shard count";
  return "";
}

struct Merged {
  SweepMeta meta;
  std::vector<conformance::RunRecord> runs;
  std::string error;
};

Merged merge(const std::vector<std::string>& inputs) {
  Merged out;
  std::map<std::uint64_t, std::string> shard_files;  // index -> file
  std::map<std::uint64_t, conformance::RunRecord> by_position;
  bool complete = true;
  for (const auto& path : inputs) {
    auto r = read_sweep_json(path);
    if (!r.error.empty()) return Merged{{}, {}, r.error};
    if (shard_files.empty()) out.meta = r.meta;
    if (const auto why = same_sweep(out.meta, r.meta); !why.empty())
      return Merged{{}, {}, path + ": " + why + " than " + inputs.front()};
    if (!shard_files.emplace(r.meta.shard.index, path).second)
      return Merged{{},
                    {},
                    fmt::format("{} and {} are both shard {}/{}", shard_files[r.meta.shard.index],
                                path, r.meta.shard.index + 1, r.meta.shard.count)};
    complete = complete && r.meta.complete;
    const SweepPositions positions(r.meta);
    for (auto& run : r.runs) {
      const auto position = positions(run);
      if (!position || *position % r.meta.shard.count != r.meta.shard.index)
        return Merged{
            {}, {}, fmt::format("{}: {} seed {} is not of this shard", path, run.name, run.seed)};
      by_position.emplace(*position, std::move(run));
    }
  }
  for (std::uint64_t k = 0; k < out.meta.shard.count; ++k) {
    if (!shard_files.count(k))
      return Merged{{}, {}, fmt::format("shard {}/{} is missing", k + 1, out.meta.shard.count)};
  }
  out.meta.shard = {};
  out.meta.complete = complete;
  out.meta.stopped = complete ? "" : "a shard stopped early";
  for (auto& [position, run] : by_position) out.runs.push_back(std::move(run));
  return out;
}

int run_merge(const MergeOptions& o) {
  Merged m = merge(o.inputs);
  if (!m.error.empty()) {
    fmt::print(stderr, "syncsim merge: {}\n", m.error);
    return kExitInvalid;
  }
  fmt::print("syncsim merge: {} shard(s), {} scenario(s), seeds {}..{}: {} run(s)\n",
             o.inputs.size(), m.meta.scenarios.size(), m.meta.seeds.first, m.meta.seeds.last,
             m.runs.size());
  // Runs are in canonical order: a scenario's line follows its last run.
  SweepTally tally(m.meta);
  const SweepPositions positions(m.meta);
  for (std::size_t i = 0; i < m.runs.size(); ++i) {
    const std::size_t s = positions.scenario(positions(m.runs[i]).value());
    tally.add(s, m.runs[i]);
    if (i + 1 == m.runs.size() || positions.scenario(positions(m.runs[i + 1]).value()) != s)
      tally.print_scenario(s);
  }
  if (!m.meta.complete) fmt::print("\nincomplete: {}\n", m.meta.stopped);
  tally.print_summary();
  // Wire logs in the HTML report come from running those seeds again here.
  std::vector<conformance::Scenario> scenarios;
  for (const auto& s : m.meta.scenarios) {
    if (o.html_file.empty()) break;
    auto loaded = conformance::load_scenario(s.file);
    if (!loaded.scenario) {
      fmt::print(stderr, "syncsim merge: {} (the HTML report has no wire logs)\n", loaded.error);
      scenarios.clear();
      break;
    }
    scenarios.push_back(std::move(*loaded.scenario));
  }
  const auto cannot = [](const std::string& f) {
    fmt::print(stderr, "syncsim merge: {}: cannot write\n", f);
    return kExitInvalid;
  };
  if (!o.junit_file.empty() && !write_junit(o.junit_file, m.runs)) return cannot(o.junit_file);
  if (!o.json_file.empty() && !write_json(o.json_file, m.meta, m.runs)) return cannot(o.json_file);
  if (!o.html_file.empty()) {
    std::size_t logged = 0;
    if (!write_html(o.html_file, m.meta, m.runs, scenarios, &logged)) return cannot(o.html_file);
    fmt::print("HTML report: {} ({} case(s), {} with wire logs)\n", o.html_file, m.runs.size(),
               logged);
  }
  return tally.any_failed() ? kExitFindings : kExitOk;
}

}  // namespace

Runner add_merge_command(CLI::App& app) {
  auto o = std::make_shared<MergeOptions>();
  auto* cmd = app.add_subcommand(
      "merge",
      "Join the --json results of the shards of one sweep into one set of\n"
      "reports, the same, byte for byte, as one unsharded `syncsim run`.\n"
      "Every shard K/N of the sweep must be given once; they must come from\n"
      "the same scenarios, seeds and build.\n\n"
      "Example (four machines, then one merge):\n"
      "  syncsim run --seeds 1..1000 --shard 1/4 --json r1.json   # ... 2/4, 3/4, 4/4\n"
      "  syncsim merge r1.json r2.json r3.json r4.json --junit all.xml --html all.html\n\n"
      "Exit: 0 every run passed, 1 a run failed, 2 bad, missing or mismatched\n"
      "shard results.");
  cmd->add_option("RESULT", o->inputs, "the shards' --json files")->required();
  cmd->add_option("--junit", o->junit_file, "write the merged JUnit XML report");
  cmd->add_option("--json", o->json_file, "write the merged JSON report");
  cmd->add_option("--html", o->html_file,
                  "write the merged HTML report (wire logs are recorded by running those\n"
                  "seeds again: run merge where the scenario files are)");
  return [o] { return run_merge(*o); };
}

}  // namespace syncsim::cli
