// `syncsim rules [PREFIX] [--coverage [PATH...]]`: the spec's rule index, and
// which scenarios and checks exercise each rule.
#include <fmt/core.h>

#include <map>
#include <memory>
#include <optional>
#include <set>

#include "conformance/checker/session_checker.hpp"
#include "conformance/cli/commands.hpp"
#include "conformance/live/client_check.hpp"
#include "conformance/live/server_check.hpp"
#include "conformance/live/server_scenarios.hpp"
#include "conformance/runner/scenario.hpp"
#include "protocol/rules.hpp"
#include "protocol/schema.hpp"
#include "protocol/validate.hpp"

namespace syncsim::cli {

namespace {

struct RulesOptions {
  std::string prefix;
  bool coverage = false;
  bool missing_only = false;
  std::vector<std::string> paths;
};

int list_rules(const RulesOptions& o) {
  for (const auto& r : protocol::all_rules()) {
    if (!r.id.starts_with(o.prefix)) continue;
    fmt::print("{:<12} {:<6} {:<6}{} {}\n", r.id, protocol::level_name(r.level),
               protocol::binds_name(r.binds), r.harness_choice ? " HC" : "   ", r.summary);
  }
  return kExitOk;
}

// How far a rule is judged (D79, D84): by a judge on every trace; by a judge
// only from the reference's state notes in the simulator; only by a specific check (a scenario's
// frame/stat expectation in the simulator, or a live case); only named by a scenario; or nowhere.
enum class Status { Traces, Simulator, Specific, Named, None };

struct CoverageFacts {
  std::map<std::string, std::vector<std::string>> named;  // rule -> scenarios naming it
  std::set<std::string> specific;  // cited by a scenario expectation or a live case
  std::size_t files = 0;
};

// Why a rule no judge declares is not judged on traces, where it is known.
std::string_view unjudged_reason(std::string_view id) {
  static const std::map<std::string_view, std::string_view> kReasons = {
      {"DELTA-11",
       "the reference server has no write policies, and a denial is silent: the wire "
       "cannot tell it from a rate drop, nor a frame answering it from step 9's (D103)"},
      {"HS-15", "internal state: the stored session id; its wire part is HS-1's (D90)"},
      {"SESSION-8",
       "throttling (THROTTLE-4) may rightly hold a triggered frame: no deadline the "
       "wire can place (D90)"},
      {"VCLOCK-4",
       "a tolerance: the reference client reads every key as a collection, and a "
       "client's error shows only as a close, which a trace does not attribute (D103)"},
      {"VCLOCK-5",
       "the codec's: a vector_clock that is not a map of maps does not decode (ENC "
       "rules); its contents are the client's own and opaque to the server (D103)"},
  };
  const auto it = kReasons.find(id);
  return it == kReasons.end() ? std::string_view{} : it->second;
}

std::optional<CoverageFacts> coverage_facts(const RulesOptions& o) {
  std::string error;
  CoverageFacts f;
  const auto files = conformance::scenario_files(
      o.paths.empty() ? std::vector<std::string>{"scenarios"} : o.paths, error);
  if (!error.empty()) {
    fmt::print(stderr, "syncsim rules: {}\n", error);
    return std::nullopt;
  }
  f.files = files.size();
  for (const auto& file : files) {
    const auto loaded = conformance::load_scenario(file);
    if (!loaded.scenario) {
      fmt::print(stderr, "syncsim rules: {}\n", loaded.error);
      return std::nullopt;
    }
    for (const auto& id : conformance::rules_named(*loaded.scenario)) {
      if (!protocol::find_rule(id) && id != "CONVERGENCE") {
        fmt::print(stderr, "syncsim rules: {}: names \"{}\", which is not a spec rule\n", file, id);
        return std::nullopt;
      }
      f.named[id].push_back(loaded.scenario->name);
    }
    for (const auto& e : loaded.scenario->expect.frames) f.specific.insert(e.rule);
    for (const auto& e : loaded.scenario->expect.stats) f.specific.insert(e.rule);
  }
  for (const auto* cases : {&conformance::server_cases(), &conformance::client_cases(),
                            &conformance::server_scenario_cases()})
    for (const auto& c : *cases) f.specific.insert(c.rule);
  return f;
}

std::string family_of(std::string_view id) { return std::string(id.substr(0, id.rfind('-'))); }

struct FamilyCount {
  std::size_t rules = 0, traces = 0, sim = 0, specific = 0, named = 0, none = 0;
  void add(Status s) {
    ++rules;
    (s == Status::Traces      ? traces
     : s == Status::Simulator ? sim
     : s == Status::Specific  ? specific
     : s == Status::Named     ? named
                              : none) += 1;
  }
};

void print_summary(const std::vector<std::pair<const protocol::Rule*, Status>>& rows,
                   std::size_t files) {
  std::map<std::string, FamilyCount> families;  // MUST and SHOULD rules only
  std::vector<std::string> order;
  FamilyCount all;
  for (const auto& [r, s] : rows) {
    if (r->level == protocol::Level::May) continue;
    const auto fam = family_of(r->id);
    if (!families.count(fam)) order.push_back(fam);
    families[fam].add(s);
    all.add(s);
  }
  fmt::print("\nMUST and SHOULD rules by family ({} scenario file(s)):\n", files);
  fmt::print("{:<10} {:>5} {:>7} {:>5} {:>9} {:>6} {:>8}\n", "FAMILY", "RULES", "TRACES", "SIM",
             "SPECIFIC", "NAMED", "NEITHER");
  auto line = [](std::string_view name, const FamilyCount& c) {
    fmt::print("{:<10} {:>5} {:>7} {:>5} {:>9} {:>6} {:>8}\n", name, c.rules, c.traces, c.sim,
               c.specific, c.named, c.none);
  };
  for (const auto& fam : order) line(fam, families[fam]);
  line("total", all);
  fmt::print(
      "TRACES: judged on every trace (a checker judge declares it; some need the server's\n"
      "clock or the side's configured limits). SIM: judged by a checker judge only from the\n"
      "reference pair's state notes, so in the simulator (or a trace it wrote). SPECIFIC:\n"
      "judged only by a scenario expectation or a live case. NAMED: only named by a scenario.\n"
      "NEITHER: neither judged nor named.\n"
      "Only TRACES, SIM and SPECIFIC count as exercised.\n\n");
  fmt::print("{} of {} MUST/SHOULD rules judged on traces.\n", all.traces, all.rules);
  fmt::print("{} of {} MUST/SHOULD rules judged by a checker judge (traces or simulator).\n",
             all.traces + all.sim, all.rules);
  fmt::print("{} of {} MUST/SHOULD rules exercised (judged, or by a specific check).\n",
             all.traces + all.sim + all.specific, all.rules);
}

void print_unjudged(const std::vector<std::pair<const protocol::Rule*, Status>>& rows) {
  std::vector<std::string> lines;
  for (const auto& [r, s] : rows) {
    if (s == Status::Traces || s == Status::Simulator || r->level == protocol::Level::May) continue;
    const auto why = unjudged_reason(r->id);
    lines.push_back(fmt::format("  {:<12} {}", r->id,
                                !why.empty()         ? why
                                : s == Status::Named ? "named by a scenario, judged nowhere"
                                                     : "not judged yet"));
  }
  if (lines.empty()) return;
  fmt::print("Not judged by a checker judge ({} MUST/SHOULD rules):\n", lines.size());
  for (const auto& l : lines) fmt::print("{}\n", l);
}

// The rules judged only from the reference pair's state notes (D84): what a
// side keeps, which the wire does not show.
void print_simulator_only(const std::vector<std::pair<const protocol::Rule*, Status>>& rows,
                          const std::map<std::string_view, std::string>& judged_by) {
  std::vector<std::string> lines;
  for (const auto& [r, s] : rows) {
    if (s != Status::Simulator || r->level == protocol::Level::May) continue;
    lines.push_back(fmt::format("  {:<12} {:<22} {}", r->id, judged_by.at(r->id),
                                protocol::binds_name(r->binds)));
  }
  if (lines.empty()) return;
  fmt::print(
      "Judged only in the simulator ({} MUST/SHOULD rules: a side's own state, from the\n"
      "state notes the reference pair writes into its traces, D84):\n",
      lines.size());
  for (const auto& l : lines) fmt::print("{}\n", l);
}

int coverage(const RulesOptions& o) {
  const auto facts = coverage_facts(o);
  if (!facts) return kExitInvalid;
  // Judged on traces: the union of the judges' declarations (the framing
  // judge's are validate()'s frame rules); "(clock)": only with the server's clock.
  std::map<std::string_view, std::string> judged_by;
  std::set<std::string_view> on_traces;  // a declaration not limited to the simulator
  for (const auto& d : conformance::SessionChecker::declared_rules()) {
    auto& by = judged_by[d.rule];
    by += (by.empty() ? "" : "+") + std::string(d.judge);
    if (d.scope == conformance::Scope::ServerClock) by += "(clock)";
    if (d.scope == conformance::Scope::Profile) by += "(profile)";
    if (d.scope == conformance::Scope::Simulator) by += "(sim)";
    if (d.scope != conformance::Scope::Simulator) on_traces.insert(d.rule);
  }
  std::vector<std::pair<const protocol::Rule*, Status>> rows;
  fmt::print("{:<12} {:<6} {:<6} {:<9} {:<22} {}\n", "RULE", "LEVEL", "SIDE", "STATUS", "JUDGED BY",
             "SCENARIOS NAMING IT");
  for (const auto& r : protocol::all_rules()) {
    if (!r.id.starts_with(o.prefix)) continue;
    const auto it = facts->named.find(std::string(r.id));
    const std::size_t n = it == facts->named.end() ? 0 : it->second.size();
    const auto by = judged_by.find(r.id);
    const std::string checks = by == judged_by.end() ? "" : by->second;
    const Status s = on_traces.count(r.id)                      ? Status::Traces
                     : !checks.empty()                          ? Status::Simulator
                     : facts->specific.count(std::string(r.id)) ? Status::Specific
                     : n > 0                                    ? Status::Named
                                                                : Status::None;
    rows.emplace_back(&r, s);
    if (o.missing_only && (s == Status::Traces || s == Status::Simulator || s == Status::Specific))
      continue;
    std::string names;
    for (std::size_t i = 0; i < n && i < 3; ++i) names += (i ? ", " : "") + it->second[i];
    if (n > 3) names += fmt::format(" and {} more", n - 3);
    constexpr std::string_view kStatus[] = {"traces", "sim", "specific", "named", "-"};
    fmt::print("{:<12} {:<6} {:<6} {:<9} {:<22} {}\n", r.id, protocol::level_name(r.level),
               protocol::binds_name(r.binds), kStatus[static_cast<int>(s)],
               checks.empty() ? "-" : checks, n == 0 ? "-" : fmt::format("{}: {}", n, names));
  }
  print_summary(rows, facts->files);
  print_simulator_only(rows, judged_by);
  print_unjudged(rows);
  return kExitOk;
}

}  // namespace

Runner add_rules_command(CLI::App& app) {
  auto o = std::make_shared<RulesOptions>();
  auto* cmd = app.add_subcommand(
      "rules",
      "List the spec's rules (PROTOCOL.md Appendix F): ID, level, which side it\n"
      "binds, HC for a harness choice, and a summary. With --coverage, show for\n"
      "each rule how far it is judged: \"traces\" (a checker judge declares it,\n"
      "so every trace is judged; \"(clock)\": only where the server's clock is\n"
      "known; \"(profile)\": only where the side's configured limits are known),\n"
      "\"sim\" (judged only from the reference pair's state notes), \"specific\" (only a scenario "
      "expectation or a live case judges\n"
      "it), \"named\" (a scenario only names it) or \"-\"; then a table per\n"
      "family of the MUST and SHOULD rules, and the rules not judged, with the\n"
      "reason where one is known.\n\n"
      "Examples:\n"
      "  syncsim rules DELTA\n"
      "  syncsim rules --coverage              # against scenarios/\n"
      "  syncsim rules --coverage --missing    # only rules nothing exercises\n\n"
      "Exit: 0, or 2 for an unreadable scenario or one naming an unknown rule.");
  cmd->add_option("PREFIX", o->prefix, "only rules whose ID starts with this");
  cmd->add_flag("--coverage", o->coverage, "which scenarios and checks exercise each rule");
  cmd->add_flag(
      "--missing", o->missing_only,
      "with --coverage: list only rules neither judged on traces nor by a specific check");
  cmd->add_option("--scenarios", o->paths,
                  "with --coverage: scenario files or directories (default: scenarios)");
  return [o] { return o->coverage ? coverage(*o) : list_rules(*o); };
}

Runner add_schema_command(CLI::App& app) {
  auto lua = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "schema",
      "Print the wire schema of the 22 messages as the codec knows it: each\n"
      "message's fields in wire order, nested structs and enum variants. A\n"
      "struct is a MessagePack array of its fields; an enum is [name, fields].\n\n"
      "  syncsim schema           # for people\n"
      "  syncsim schema --lua     # the table wireshark/syncsim.lua embeds\n\n"
      "Exit: 0.");
  cmd->add_flag("--lua", *lua, "the schema as a Lua table (for the Wireshark dissector)");
  return [lua] {
    fmt::print("{}", *lua ? protocol::lua_schema() : protocol::text_schema());
    return kExitOk;
  };
}

}  // namespace syncsim::cli
