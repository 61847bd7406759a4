#include "conformance/runner/scenario.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace syncsim::conformance {
namespace {

struct ParseError {
  std::string message;
};

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& what) const {
    const auto m = at.Mark();
    throw ParseError{file_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) +
                     ": " + what};
  }
  void keys(const YAML::Node& map, const std::set<std::string>& allowed,
            const std::string& where) const {
    if (!map.IsMap()) fail(map, where + " must be a mapping");
    std::set<std::string> seen;  // yaml-cpp keeps duplicate keys silently
    for (const auto& kv : map) {
      const auto key = kv.first.as<std::string>();
      if (!seen.insert(key).second) fail(kv.first, "duplicate key \"" + key + "\" in " + where);
      if (!allowed.count(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(kv.first,
             "unknown key \"" + key + "\" in " + where + " (expected one of: " + list + ")");
      }
    }
  }
  template <class T>
  T get(const YAML::Node& n, const std::string& what) const {
    try {
      return n.as<T>();
    } catch (const YAML::Exception&) {
      fail(n, what);
    }
  }
  std::vector<std::string> strings(const YAML::Node& n, const std::string& what) const {
    if (!n.IsSequence()) fail(n, what + " must be a list");
    std::vector<std::string> out;
    for (const auto& e : n) out.push_back(get<std::string>(e, what + " items must be strings"));
    return out;
  }

 private:
  std::string file_;
};

Scenario read(const YAML::Node& root, const Reader& r, const std::string& file) {
  Scenario s;
  s.file = file;
  r.keys(root,
         {"name", "description", "rules", "duration_s", "write_window_s", "network", "clients",
          "server", "events", "expect"},
         "the scenario");
  if (!root["name"]) r.fail(root, "missing \"name\"");
  s.name = r.get<std::string>(root["name"], "\"name\" must be a string");
  if (root["description"])
    s.description = r.get<std::string>(root["description"], "\"description\" must be a string");
  if (root["rules"]) s.rules = r.strings(root["rules"], "\"rules\"");
  if (root["duration_s"])
    s.duration_s = r.get<double>(root["duration_s"], "\"duration_s\" must be a number");
  if (s.duration_s <= 0 || s.duration_s > 86400)
    r.fail(root["duration_s"], "\"duration_s\" must be in (0, 86400]");
  if (const auto w = root["write_window_s"]) {
    if (!w.IsSequence() || w.size() != 2) r.fail(w, "\"write_window_s\" must be [from, until]");
    s.write_from_s = r.get<double>(w[0], "a number");
    s.write_until_s = r.get<double>(w[1], "a number");
  }
  if (const auto n = root["network"]) {
    r.keys(n, {"latency_ms", "jitter_ms", "segment_loss_ppm"}, "\"network\"");
    if (n["latency_ms"])
      s.latency_ms = r.get<double>(n["latency_ms"], "\"latency_ms\" must be a number");
    if (n["jitter_ms"])
      s.jitter_ms = r.get<double>(n["jitter_ms"], "\"jitter_ms\" must be a number");
    if (n["segment_loss_ppm"]) {
      s.segment_loss_ppm =
          r.get<std::uint32_t>(n["segment_loss_ppm"], "\"segment_loss_ppm\" must be 0..1000000");
    }
  }
  if (!root["clients"] || !root["clients"].IsSequence() || root["clients"].size() == 0) {
    r.fail(root["clients"] ? root["clients"] : root, "\"clients\" must be a non-empty list");
  }
  std::set<std::string> names{"server"};
  for (const auto& c : root["clients"]) {
    r.keys(c, {"name", "writes", "shapes", "bugs", "clock_offset_ms", "drift_ppm"}, "a client");
    ScenarioClient cl;
    if (!c["name"]) r.fail(c, "a client needs a \"name\"");
    cl.name = r.get<std::string>(c["name"], "\"name\" must be a string");
    if (!names.insert(cl.name).second) r.fail(c["name"], "duplicate node name \"" + cl.name + "\"");
    if (c["writes"]) cl.writes = r.get<int>(c["writes"], "\"writes\" must be an integer");
    if (cl.writes < 0 || cl.writes > 100000) r.fail(c["writes"], "\"writes\" must be 0..100000");
    if (c["shapes"]) cl.shapes = r.strings(c["shapes"], "\"shapes\"");
    if (c["bugs"]) cl.bugs = r.strings(c["bugs"], "\"bugs\"");
    if (c["clock_offset_ms"])
      cl.clock_offset_ms = r.get<std::int64_t>(c["clock_offset_ms"], "an integer");
    if (c["drift_ppm"]) cl.drift_ppm = r.get<std::int32_t>(c["drift_ppm"], "an integer");
    s.clients.push_back(std::move(cl));
  }
  if (const auto sv = root["server"]) {
    r.keys(sv, {"bugs"}, "\"server\"");
    if (sv["bugs"]) s.server_bugs = r.strings(sv["bugs"], "\"bugs\"");
  }
  if (const auto evs = root["events"]) {
    if (!evs.IsSequence()) r.fail(evs, "\"events\" must be a list");
    static const std::set<std::string> kActions = {"partition", "partition-one-way", "heal",
                                                   "reset",     "restart",           "crash",
                                                   "purge",     "clock-jump"};
    for (const auto& e : evs) {
      r.keys(e, {"at_s", "action", "nodes", "collection", "delta_ms"}, "an event");
      ScenarioEvent ev;
      if (!e["at_s"] || !e["action"]) r.fail(e, "an event needs \"at_s\" and \"action\"");
      ev.at_s = r.get<double>(e["at_s"], "\"at_s\" must be a number");
      ev.action = r.get<std::string>(e["action"], "\"action\" must be a string");
      if (!kActions.count(ev.action)) {
        r.fail(e["action"],
               "unknown action \"" + ev.action +
                   "\" (expected partition, partition-one-way, heal, reset, restart, crash, purge, "
                   "clock-jump)");
      }
      if (e["nodes"]) ev.nodes = r.strings(e["nodes"], "\"nodes\"");
      for (const auto& n : ev.nodes) {
        if (!names.count(n)) r.fail(e["nodes"], "unknown node \"" + n + "\"");
      }
      const bool pair =
          ev.action == "partition" || ev.action == "partition-one-way" || ev.action == "heal";
      if (pair && ev.nodes.size() != 2) r.fail(e, "\"" + ev.action + "\" needs two nodes");
      const bool one = ev.action == "reset" || ev.action == "restart" || ev.action == "crash" ||
                       ev.action == "clock-jump";
      if (one && ev.nodes.size() != 1) r.fail(e, "\"" + ev.action + "\" needs one node");
      if (ev.action == "purge") {
        if (!e["collection"]) r.fail(e, "\"purge\" needs a \"collection\"");
        ev.collection = r.get<std::string>(e["collection"], "a string");
      }
      if (e["delta_ms"]) ev.delta_ms = r.get<std::int64_t>(e["delta_ms"], "an integer");
      s.events.push_back(std::move(ev));
    }
  }
  if (const auto ex = root["expect"]) {
    r.keys(ex, {"converged", "must_findings", "flagged"}, "\"expect\"");
    if (ex["converged"])
      s.expect.converged = r.get<bool>(ex["converged"], "\"converged\" must be true or false");
    if (ex["must_findings"]) {
      if (ex["must_findings"].IsNull()) {
        s.expect.max_must_findings.reset();
      } else {
        s.expect.max_must_findings =
            r.get<int>(ex["must_findings"], "\"must_findings\" must be an integer or null");
      }
    }
    if (ex["flagged"]) {
      s.expect.flagged = r.strings(ex["flagged"], "\"flagged\"");
      s.expect.max_must_findings.reset();  // findings are expected
    }
  }
  return s;
}

}  // namespace

ScenarioLoad parse_scenario(const std::string& text, const std::string& file) {
  ScenarioLoad out;
  try {
    const YAML::Node root = YAML::Load(text);
    Reader r(file);
    out.scenario = read(root, r, file);
  } catch (const ParseError& e) {
    out.error = e.message;
  } catch (const YAML::Exception& e) {
    out.error = file + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": " + e.msg;
  }
  return out;
}

ScenarioLoad load_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ScenarioLoad{std::nullopt, path + ": cannot open"};
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1u << 20))
    return ScenarioLoad{std::nullopt, path + ": larger than 1 MiB"};
  return parse_scenario(text.str(), path);
}

}  // namespace syncsim::conformance
