// `syncsim explore`: random fault schedules on a base scenario; a failure is
// shrunk to a minimal standalone YAML scenario that still fails its rule.
#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>

#include "conformance/cli/commands.hpp"
#include "conformance/explore/explore.hpp"
#include "conformance/live/endpoint.hpp"
#include "conformance/live/live_explore.hpp"
#include "conformance/runner/workers.hpp"

namespace syncsim::cli {

namespace {

struct ExploreCliOptions {
  conformance::ExploreOptions explore;
  std::string out;
  std::string family;
  std::string target, token;
  double time_scale = 1;
  unsigned jobs = 0;  // 0: one per core
};

// --target: random fault files between two reference clients and a real
// server; the first failure's fault file is written for `syncsim proxy`.
int explore_target(const ExploreCliOptions& o) {
  const auto parsed = conformance::parse_endpoint(o.target);
  if (!parsed.endpoint) {
    fmt::print(stderr, "syncsim explore: --target {}: {}\n", o.target, parsed.error);
    return kExitInvalid;
  }
  if (!o.explore.base_file.empty() || !o.family.empty() || !o.explore.client_bugs.empty() ||
      !o.explore.server_bugs.empty()) {
    fmt::print(stderr,
               "syncsim explore: --target explores a real server; --scenario, --family and the "
               "bug switches are for the simulator\n");
    return kExitInvalid;
  }
  conformance::LiveExploreOptions lo;
  lo.server.target = *parsed.endpoint;
  lo.server.token = o.token;
  lo.server.suite.time_scale = o.time_scale;
  lo.seed = o.explore.seed;
  lo.runs = o.explore.runs;
  lo.progress = [](const std::string& line) {
    fmt::print("  {}\n", line);
    std::fflush(stdout);
  };
  fmt::print(
      "syncsim explore: target {}, seed {}, {} run(s), time scale {}\n"
      "  (each run: two reference clients through an in-process proxy whose fault file and\n"
      "   seed come from seed + run - 1; both views must converge, no MUST finding may blame\n"
      "   the server; real time, so a failure is reported, not shrunk)\n",
      lo.server.target.text(), lo.seed, lo.runs, o.time_scale);
  std::fflush(stdout);
  boost::asio::io_context ioc;
  const auto r = conformance::explore_live(ioc, lo);
  if (!r.unreachable.empty()) {
    fmt::print(stderr, "syncsim explore: {}\n", r.unreachable);
    return kExitInvalid;
  }
  if (!r.failure) {
    fmt::print("syncsim explore: {} run(s) against {}, no failure\n", r.runs_done,
               lo.server.target.text());
    return kExitOk;
  }
  const auto& f = *r.failure;
  const std::string out =
      o.out.empty() ? "explored-target-seed" + std::to_string(f.run_seed) + ".yaml" : o.out;
  std::ofstream file(out, std::ios::binary);
  file << f.faults.text;
  if (!file) {
    fmt::print(stderr, "syncsim explore: {}: cannot write\n", out);
    return kExitInvalid;
  }
  fmt::print("syncsim explore: run {} failed {}: {}\n", f.run, f.rule, f.result.detail);
  for (const auto& finding : f.result.findings)
    fmt::print("    finding: {}\n", conformance::format_check_finding(finding));
  fmt::print(
      "  its fault file: {} ({} writes)\n"
      "  run it again:   syncsim explore --target {} --seed {} --runs 1\n"
      "  or by hand:     syncsim proxy --upstream {} --faults {} --seed {} --trace t.jsonl\n",
      out, f.faults.writes, o.target, f.run_seed, o.target, out, f.run_seed);
  return kExitFindings;
}

// Families: shipped scenarios that make good bases, by what they exercise.
const std::map<std::string, std::string>& families() {
  static const std::map<std::string, std::string> kFamilies = {
      {"writes", "writes-converge.yaml"},           {"lossy", "lossy-jittery-network.yaml"},
      {"push", "delta-push-to-subscribers.yaml"},   {"tokens", "token-expires-then-recovers.yaml"},
      {"throttle", "throttle-backlog-builds.yaml"}, {"restart", "client-restart.yaml"},
  };
  return kFamilies;
}

// scenarios/FILE from the working directory, else from the source tree.
std::string family_file(const std::string& file) {
  for (const std::string& dir :
       {std::string("scenarios"), std::string(SYNCSIM_SOURCE_DIR) + "/scenarios"}) {
    const std::string path = dir + "/" + file;
    if (std::ifstream(path)) return path;
  }
  return "scenarios/" + file;
}

int explore(ExploreCliOptions& o) {
  if (!o.target.empty()) return explore_target(o);
  auto& e = o.explore;
  if (!o.family.empty()) {
    const auto it = families().find(o.family);
    if (it == families().end()) {
      std::string names;
      for (const auto& [n, f] : families()) names += " " + n;
      fmt::print(stderr, "syncsim explore: unknown --family \"{}\" (one of:{})\n", o.family, names);
      return kExitInvalid;
    }
    e.base_file = family_file(it->second);
  }
  if (e.base_file.empty()) {
    fmt::print(stderr, "syncsim explore: give --scenario FILE or --family NAME\n");
    return kExitInvalid;
  }
  fmt::print("syncsim explore: base {}, seed {}, {} run(s), up to {} steps each", e.base_file,
             e.seed, e.runs, e.max_steps);
  for (const auto& b : e.client_bugs) fmt::print(", client bug {}", b);
  for (const auto& b : e.server_bugs) fmt::print(", server bug {}", b);
  fmt::print(
      "\n  (run 1 is the base alone; run i uses seed {} + i - 1 for its schedule and "
      "its simulation)\n",
      e.seed);
  e.jobs = conformance::jobs_or_cores(o.jobs);
  // On stderr: stdout is the same for any --jobs (D189).
  fmt::print(stderr, "syncsim explore: runs on {} worker process(es)\n",
             std::min<long>(e.jobs, std::max(e.runs, 1)));
  std::fflush(stdout);
  e.progress = [](const std::string& line) {
    fmt::print("  {}\n", line);
    std::fflush(stdout);
  };
  const auto r = conformance::explore(e);
  if (!r.error.empty()) {
    fmt::print(stderr, "syncsim explore: {}\n", r.error);
    return kExitInvalid;
  }
  if (r.runs_unjudged > 0) {
    fmt::print("  explore: {} run(s) left convergence unjudged; {}\n", r.runs_unjudged,
               r.first_unjudged);
  }
  if (!r.failure) {
    fmt::print("syncsim explore: {} run(s), no failure\n", r.runs_done);
    return kExitOk;
  }
  const auto& f = *r.failure;
  std::string out = o.out;
  if (out.empty()) out = "explored-seed" + std::to_string(f.run_seed) + ".yaml";
  std::string yaml = f.yaml;
  const auto at = yaml.find("syncsim run FILE");
  if (at != std::string::npos) yaml.replace(at, 16, "syncsim run " + out);
  std::ofstream file(out, std::ios::binary);
  file << yaml;
  if (!file) {
    fmt::print(stderr, "syncsim explore: {}: cannot write\n", out);
    return kExitInvalid;
  }
  fmt::print(
      "syncsim explore: run {} failed {}: {}\n"
      "  shrunk from {} to {} step(s) in {} run(s); written to {}\n"
      "  reproduce: syncsim run {} --seed {}\n",
      f.found_at_run, f.rule, f.detail, f.steps_found, f.steps_shrunk, f.shrink_runs, out, out,
      f.run_seed);
  return kExitFindings;
}

}  // namespace

Runner add_explore_command(CLI::App& app) {
  auto o = std::make_shared<ExploreCliOptions>();
  auto* cmd = app.add_subcommand(
      "explore",
      "Search for failures: run a base scenario with random fault schedules\n"
      "and workload (partitions, resets, restarts, lost, reordered and\n"
      "duplicated frames, writes) drawn by RapidCheck, on the reference pair\n"
      "in the simulator. Every run must converge with no MUST finding. The\n"
      "first failure is shrunk (RapidCheck's shrinking of the schedule, then\n"
      "dropping steps one at a time) to a standalone YAML scenario that still\n"
      "fails the same rule, written with the command that reproduces it.\n\n"
      "Examples:\n"
      "  syncsim explore --scenario scenarios/writes-converge.yaml --runs 200 --seed 1\n"
      "  syncsim explore --family tokens --runs 500 --server-bug AcceptExpiredToken\n"
      "  syncsim explore --scenario scenarios/writes-converge.yaml --client-bug NoResyncOnGap \\\n"
      "      --out found.yaml && syncsim run found.yaml --seed N\n"
      "  syncsim explore --family throttle --strict     # SHOULD findings fail too\n"
      "  syncsim explore --family writes --runs 100000 --jobs 8   # eight worker processes\n"
      "  syncsim explore --target tcp://127.0.0.1:9091 --runs 50   # a real server\n\n"
      "Exit: 0 no failure in the runs, 1 a failure (shrunk and written; with\n"
      "--target, its fault file written), 2 bad options, an unusable base\n"
      "scenario or an unreachable target.");
  cmd->add_option("--scenario", o->explore.base_file, "the base scenario (YAML)");
  cmd->add_option("--family", o->family,
                  "a shipped base by what it exercises: writes, lossy, push, tokens, throttle, "
                  "restart");
  cmd->add_option("--runs", o->explore.runs, "how many runs")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  cmd->add_option("--seed", o->explore.seed, "first seed")->capture_default_str();
  cmd->add_option("-j,--jobs", o->jobs,
                  "worker processes running the runs side by side, each single-threaded and\n"
                  "deterministic (default: one per core); what is printed and found is the\n"
                  "same for any number; shrinking runs in one process. Not with --target");
  cmd->add_option("--max-steps", o->explore.max_steps, "generated steps per run, at most")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--max-shrink-runs", o->explore.max_shrink_runs, "runs spent shrinking, at most")
      ->check(CLI::Range(0, 100'000))
      ->capture_default_str();
  cmd->add_option("--client-bug", o->explore.client_bugs,
                  "inject a reference-client bug into every client (repeatable)");
  cmd->add_option("--server-bug", o->explore.server_bugs,
                  "inject a reference-server bug (repeatable)");
  cmd->add_flag("--purges", o->explore.purges,
                "draw collection purges too; a run with one is judged by the checker\n"
                "alone (PURGE-1/2/4/7 ...), not by comparing views");
  cmd->add_flag("--strict", o->explore.strict,
                "SHOULD findings fail a run too (default: MUST findings and convergence);\n"
                "finds bugs that only break SHOULD rules, e.g. a client that never throttles");
  cmd->add_option("--target", o->target,
                  "explore a real server instead (tcp://HOST:PORT or ws://HOST:PORT/PATH):\n"
                  "two reference clients through random proxy faults must converge");
  cmd->add_option("--token", o->token, "with --target: the token the clients send");
  cmd->add_option("--time-scale", o->time_scale,
                  "with --target: multiply every real-time budget by this")
      ->check(CLI::Range(0.1, 100.0))
      ->capture_default_str();
  cmd->add_option("--out", o->out,
                  "where to write the shrunk scenario (default: explored-seedN.yaml)");
  return [o] { return explore(*o); };
}

}  // namespace syncsim::cli
