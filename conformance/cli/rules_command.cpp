// `syncsim rules [PREFIX] [--coverage [PATH...]]`: the spec's rule index, and
// which scenarios and checks exercise each rule.
#include <fmt/core.h>

#include <map>
#include <memory>
#include <set>

#include "conformance/checker/session_checker.hpp"
#include "conformance/cli/commands.hpp"
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

int coverage(const RulesOptions& o) {
  std::string error;
  const auto files = conformance::scenario_files(
      o.paths.empty() ? std::vector<std::string>{"scenarios"} : o.paths, error);
  if (!error.empty()) {
    fmt::print(stderr, "syncsim rules: {}\n", error);
    return kExitInvalid;
  }
  std::map<std::string, std::vector<std::string>> by_rule;  // rule -> scenarios naming it
  for (const auto& f : files) {
    const auto loaded = conformance::load_scenario(f);
    if (!loaded.scenario) {
      fmt::print(stderr, "syncsim rules: {}\n", loaded.error);
      return kExitInvalid;
    }
    for (const auto& id : conformance::rules_named(*loaded.scenario)) {
      if (!protocol::find_rule(id) && id != "CONVERGENCE") {
        fmt::print(stderr, "syncsim rules: {}: names \"{}\", which is not a spec rule\n", f, id);
        return kExitInvalid;
      }
      by_rule[id].push_back(loaded.scenario->name);
    }
  }
  // Judged: the union of the judges' declarations (the framing judge's are
  // validate()'s frame rules); "(clock)": only where the server's clock is known.
  std::map<std::string_view, std::string> judged_by;
  for (const auto& d : conformance::SessionChecker::declared_rules()) {
    auto& by = judged_by[d.rule];
    by += (by.empty() ? "" : "+") + std::string(d.judge);
    if (d.scope == conformance::Scope::ServerClock) by += "(clock)";
  }

  std::size_t total = 0, named = 0, judged = 0, exercised = 0;
  std::vector<std::string_view> missing;
  fmt::print("{:<12} {:<6} {:<6} {:<22} {}\n", "RULE", "LEVEL", "SIDE", "JUDGED BY",
             "SCENARIOS NAMING IT");
  for (const auto& r : protocol::all_rules()) {
    if (!r.id.starts_with(o.prefix)) continue;
    ++total;
    const auto it = by_rule.find(std::string(r.id));
    const std::size_t n = it == by_rule.end() ? 0 : it->second.size();
    const auto by = judged_by.find(r.id);
    const std::string checks = by == judged_by.end() ? "" : by->second;
    named += n > 0;
    judged += !checks.empty();
    const bool covered = n > 0 || !checks.empty();
    exercised += covered;
    if (!covered) missing.push_back(r.id);
    if (o.missing_only && covered) continue;
    std::string names;
    for (std::size_t i = 0; i < n && i < 3; ++i) names += (i ? ", " : "") + it->second[i];
    if (n > 3) names += fmt::format(" and {} more", n - 3);
    fmt::print("{:<12} {:<6} {:<6} {:<22} {}\n", r.id, protocol::level_name(r.level),
               protocol::binds_name(r.binds), checks.empty() ? "-" : checks,
               n == 0 ? "-" : fmt::format("{}: {}", n, names));
  }
  fmt::print(
      "\n{} of {} rules ({:.1f}%) exercised by the {} scenario(s): {} named by a scenario, {} "
      "judged by a checker judge on every frame or session of every run.\n",
      exercised, total,
      total ? 100.0 * static_cast<double>(exercised) / static_cast<double>(total) : 0.0,
      files.size(), named, judged);
  if (!missing.empty()) {
    std::string list;
    for (const auto id : missing) list += (list.empty() ? "" : " ") + std::string(id);
    fmt::print("Not exercised ({}): {}\n", missing.size(), list);
  }
  return kExitOk;
}

}  // namespace

Runner add_rules_command(CLI::App& app) {
  auto o = std::make_shared<RulesOptions>();
  auto* cmd = app.add_subcommand(
      "rules",
      "List the spec's rules (PROTOCOL.md Appendix F): ID, level, which side it\n"
      "binds, HC for a harness choice, and a summary. With --coverage, show for\n"
      "each rule the checker judges that declare it (framing on every frame, the\n"
      "others on every connection; \"(clock)\": only where the server's clock is\n"
      "known) and the scenarios that name it.\n\n"
      "Examples:\n"
      "  syncsim rules DELTA\n"
      "  syncsim rules --coverage              # against scenarios/\n"
      "  syncsim rules --coverage --missing    # only rules nothing exercises\n\n"
      "Exit: 0, or 2 for an unreadable scenario or one naming an unknown rule.");
  cmd->add_option("PREFIX", o->prefix, "only rules whose ID starts with this");
  cmd->add_flag("--coverage", o->coverage, "which scenarios and checks exercise each rule");
  cmd->add_flag("--missing", o->missing_only, "with --coverage: list only uncovered rules");
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
