#include "conformance/runner/sweep.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <deque>
#include <set>

#include "conformance/runner/runner.hpp"
#include "protocol/rules.hpp"

namespace syncsim::conformance {

using protocol::Json;

std::vector<SweepItem> sweep_items(std::size_t scenarios, SeedRange seeds, Shard shard) {
  std::vector<SweepItem> items;
  if (shard.count == 0 || shard.index >= shard.count) return items;
  std::uint64_t position = 0;
  for (std::size_t s = 0; s < scenarios; ++s) {
    for (std::uint64_t seed = seeds.first; seed <= seeds.last; ++seed, ++position) {
      if (position % shard.count == shard.index) items.push_back({s, seed});
      if (seed == UINT64_MAX) break;
    }
  }
  return items;
}

bool injects_bugs(const Scenario& s) {
  return !s.server.bugs.empty() || std::any_of(s.clients.begin(), s.clients.end(),
                                               [](const auto& c) { return !c.bugs.empty(); });
}

RunRecord record_of(const Scenario& s, const ScenarioResult& r) {
  RunRecord out;
  out.name = s.name;
  out.file = s.file;
  out.seed = r.seed;
  out.injects_bugs = injects_bugs(s);
  out.failures = r.failures;
  out.notes = r.notes;
  out.findings = r.findings;
  out.must = r.must_findings;
  out.frames = r.frames;
  out.events = r.events;
  out.trace_hash = r.trace_hash;
  out.virtual_s = r.virtual_s;
  return out;
}

RunRecord run_item(const Scenario& s, std::uint64_t seed) {
  const auto r = run_scenario(s, seed);
  const auto again = run_scenario(s, seed);
  RunRecord out = record_of(s, r);
  if (again.trace_hash != r.trace_hash) {
    out.failures.push_back(fmt::format("nondeterministic: trace hash {:016x} then {:016x}",
                                       r.trace_hash, again.trace_hash));
  }
  return out;
}

namespace {

// Rule IDs are string_views into static storage: the spec's table, or, for an
// ID the table lacks (none today), strings kept for the process's life.
std::string_view intern_rule(const std::string& id) {
  if (const auto* rule = protocol::find_rule(id)) return rule->id;
  static std::set<std::string> extra;
  return *extra.insert(id).first;
}

Json finding_to_json(const CheckFinding& f) {
  return Json{{"rule", std::string(f.finding.rule)},
              {"level", std::string(protocol::level_name(f.finding.level))},
              {"problem", static_cast<int>(f.finding.problem)},
              {"offset", f.finding.offset},
              {"t_ns", f.t},
              {"conn", f.conn},
              {"blamed", static_cast<int>(f.blamed)},
              {"message", f.finding.message},
              {"frame", f.frame},
              {"before", f.context.lines()}};
}

std::optional<protocol::Level> level_from(const std::string& name) {
  for (const auto l : {protocol::Level::Must, protocol::Level::Should, protocol::Level::May}) {
    if (protocol::level_name(l) == name) return l;
  }
  return std::nullopt;
}

CheckFinding finding_from_json(const Json& j) {
  CheckFinding f;
  f.finding.rule = intern_rule(j.at("rule").get<std::string>());
  const auto level = level_from(j.at("level").get<std::string>());
  if (!level) throw std::invalid_argument("unknown level " + j.at("level").dump());
  f.finding.level = *level;
  f.finding.problem = static_cast<protocol::Problem>(j.at("problem").get<int>());
  f.finding.offset = j.at("offset").get<std::uint64_t>();
  f.finding.message = j.at("message").get<std::string>();
  f.t = j.at("t_ns").get<std::int64_t>();
  f.conn = j.at("conn").get<std::uint64_t>();
  f.blamed = static_cast<protocol::Sender>(j.at("blamed").get<int>());
  f.frame = j.at("frame").get<std::string>();
  f.context = j.at("before").get<std::vector<std::string>>();
  return f;
}

}  // namespace

Json record_to_json(const RunRecord& r) {
  Json findings = Json::array();
  for (const auto& f : r.findings) findings.push_back(finding_to_json(f));
  return Json{{"scenario", r.name},
              {"file", r.file},
              {"seed", r.seed},
              {"passed", r.ok()},
              {"injects_bugs", r.injects_bugs},
              {"failures", r.failures},
              {"notes", r.notes},
              {"unsupported", r.unsupported},
              {"deviation", r.deviation},
              {"run_error", r.run_error},
              {"frames", r.frames},
              {"events", r.events},
              {"must", r.must},
              {"virtual_s", r.virtual_s},
              {"trace_hash", fmt::format("{:016x}", r.trace_hash)},
              {"findings", findings}};
}

// Reads what record_to_json wrote; a record from another build or a hand-
// edited file is an error naming the key, never a crash.
std::optional<RunRecord> record_from_json(const Json& j, std::string& error) {
  try {
    RunRecord r;
    r.name = j.at("scenario").get<std::string>();
    r.file = j.at("file").get<std::string>();
    r.seed = j.at("seed").get<std::uint64_t>();
    r.injects_bugs = j.at("injects_bugs").get<bool>();
    r.failures = j.at("failures").get<std::vector<std::string>>();
    // Absent in records from before they existed: none.
    r.notes = j.value("notes", std::vector<std::string>{});
    r.unsupported = j.value("unsupported", std::string{});
    r.deviation = j.value("deviation", std::string{});
    r.run_error = j.value("run_error", std::string{});
    r.frames = j.at("frames").get<std::uint64_t>();
    r.events = j.at("events").get<std::uint64_t>();
    r.must = j.at("must").get<std::uint64_t>();
    r.virtual_s = j.at("virtual_s").get<double>();
    r.trace_hash = std::stoull(j.at("trace_hash").get<std::string>(), nullptr, 16);
    for (const auto& f : j.at("findings")) r.findings.push_back(finding_from_json(f));
    return r;
  } catch (const std::exception& e) {
    error = std::string("not a run record: ") + e.what();
    return std::nullopt;
  }
}

}  // namespace syncsim::conformance
