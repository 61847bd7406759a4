#include "conformance/runner/scenario.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>

#include "conformance/runner/yaml_reader.hpp"
#include "protocol/rules.hpp"

namespace syncsim::conformance {
namespace {

using namespace yaml;

LinkSpec read_link(const YAML::Node& l, const Reader& r, const std::set<std::string>& nodes,
                   bool needs_ends) {
  r.keys(l,
         {"from", "to", "latency_ms", "jitter_ms", "bandwidth_kbps", "segment_loss_ppm",
          "segment_corrupt_ppm", "frames", "at_s", "action", "after", "delay_s"},
         "a link");
  LinkSpec k;
  if (needs_ends && (!l["from"] || !l["to"])) r.fail(l, "a link needs \"from\" and \"to\"");
  opt_str(r, l, "from", k.from);
  opt_str(r, l, "to", k.to);
  for (const auto* end : {"from", "to"}) {
    const std::string& v = std::string(end) == "from" ? k.from : k.to;
    if (l[end] && v != "*" && !nodes.count(v)) r.fail(l[end], "unknown node \"" + v + "\"");
  }
  opt(r, l, "latency_ms", k.latency_ms, 0.0, 600'000.0);
  opt(r, l, "jitter_ms", k.jitter_ms, 0.0, 600'000.0);
  opt(r, l, "bandwidth_kbps", k.bandwidth_kbps, 0.0, 1e9);
  opt(r, l, "segment_loss_ppm", k.segment_loss_ppm, 0u, 999'999u);
  opt(r, l, "segment_corrupt_ppm", k.segment_corrupt_ppm, 0u, kPpm);
  if (const auto f = l["frames"]) {
    if (f.IsScalar() && f.Scalar() == "off") {
      k.frames_off = true;
    } else {
      k.frames = read_frame_faults(f, r);
    }
  }
  return k;
}

ScenarioClient read_client(const YAML::Node& c, const Reader& r) {
  r.keys(c,
         {"name",
          "writes",
          "collection",
          "docs",
          "shapes",
          "bugs",
          "clock_offset_ms",
          "drift_ppm",
          "token",
          "apply_rate",
          "throttle_high",
          "throttle_low",
          "suggested_rate",
          "ping_interval_s",
          "vclock_interval_s",
          "timeseries_interval_s",
          "wire_version",
          "pending_limit",
          "retransmit_ms",
          "backoff_jitter_ms",
          "start_s",
          "external"},
         "a client");
  ScenarioClient cl;
  if (!c["name"]) r.fail(c, "a client needs a \"name\"");
  cl.name = r.get<std::string>(c["name"], "\"name\" must be a string");
  opt(r, c, "writes", cl.writes, 0, 100'000);
  opt_str(r, c, "collection", cl.collection);
  opt(r, c, "docs", cl.docs, 1, 100'000);
  if (c["shapes"]) cl.shapes = r.strings(c["shapes"], "\"shapes\"");
  if (c["bugs"]) cl.bugs = r.strings(c["bugs"], "\"bugs\"");
  opt(r, c, "clock_offset_ms", cl.clock_offset_ms, std::int64_t{-86'400'000'000},
      std::int64_t{86'400'000'000});
  opt(r, c, "drift_ppm", cl.drift_ppm, -100'000, 100'000);
  if (const auto t = c["token"]) {
    r.keys(
        t,
        {"expires_in_s", "lifetime_s", "tenant", "refresh", "refresh_expires_in_s", "bad_tokens"},
        "\"token\"");
    TokenSpec tk;
    opt(r, t, "expires_in_s", tk.expires_in_s, std::int64_t{-1'000'000'000},
        std::int64_t{1'000'000'000});
    opt(r, t, "lifetime_s", tk.lifetime_s, std::int64_t{0}, std::int64_t{1'000'000'000});
    opt(r, t, "tenant", tk.tenant, 0u, 0xffffffffu);
    opt_str(r, t, "refresh", tk.refresh);
    if (tk.refresh != "ok" && tk.refresh != "fail" && tk.refresh != "flaky" && tk.refresh != "none")
      r.fail(t["refresh"], "\"refresh\" must be ok, fail, flaky or none");
    opt(r, t, "bad_tokens", tk.bad_tokens, 0, 1'000'000);
    opt(r, t, "refresh_expires_in_s", tk.refresh_expires_in_s, std::int64_t{-1'000'000'000},
        std::int64_t{1'000'000'000});
    cl.token = tk;
  }
  opt(r, c, "apply_rate", cl.apply_rate, std::uint64_t{0}, std::uint64_t{1'000'000});
  opt(r, c, "throttle_high", cl.throttle_high, std::uint64_t{1}, std::uint64_t{1'000'000});
  opt(r, c, "throttle_low", cl.throttle_low, std::uint64_t{0}, std::uint64_t{1'000'000});
  opt(r, c, "suggested_rate", cl.suggested_rate, std::uint64_t{0}, std::uint64_t{1'000'000});
  opt(r, c, "ping_interval_s", cl.ping_interval_s, 0.1, 86'400.0);
  opt(r, c, "retransmit_ms", cl.retransmit_ms, std::int64_t{10}, std::int64_t{600'000});
  opt(r, c, "backoff_jitter_ms", cl.backoff_jitter_ms, std::int64_t{0}, std::int64_t{600'000});
  opt(r, c, "start_s", cl.start_s, 0.0, 86'400.0);
  if (c["external"]) cl.external = r.get<bool>(c["external"], "\"external\" must be true or false");
  opt(r, c, "vclock_interval_s", cl.vclock_interval_s, 0.01, 86'400.0);
  opt(r, c, "timeseries_interval_s", cl.timeseries_interval_s, 0.01, 86'400.0);
  opt(r, c, "wire_version", cl.wire_version, std::uint16_t{0}, std::uint16_t{65535});
  opt(r, c, "pending_limit", cl.pending_limit, std::size_t{1}, std::size_t{10'000'000});
  return cl;
}

ScenarioServer read_server(const YAML::Node& sv, const Reader& r) {
  r.keys(sv,
         {"bugs", "trust_mode", "data_queue_limit", "default_throttle_rate", "rate_per_s",
          "rate_capacity", "idle_timeout_s", "max_sessions", "constraints", "clock_offset_ms",
          "drift_ppm", "delta_push", "rate_limit_reject", "presence_max_channels"},
         "\"server\"");
  ScenarioServer out;
  if (sv["bugs"]) out.bugs = r.strings(sv["bugs"], "\"bugs\"");
  if (sv["trust_mode"]) {
    bool v = true;
    opt_bool(r, sv, "trust_mode", v);
    out.trust_mode = v;
  }
  opt(r, sv, "data_queue_limit", out.data_queue_limit, std::size_t{1}, std::size_t{10'000'000});
  opt(r, sv, "default_throttle_rate", out.default_throttle_rate, std::uint64_t{1},
      std::uint64_t{1'000'000});
  opt(r, sv, "rate_per_s", out.rate_per_s, std::int64_t{1}, std::int64_t{1'000'000});
  opt(r, sv, "rate_capacity", out.rate_capacity, std::int64_t{1}, std::int64_t{1'000'000});
  opt(r, sv, "idle_timeout_s", out.idle_timeout_s, 0.1, 86'400.0);
  opt(r, sv, "max_sessions", out.max_sessions, 0u, 1'000'000u);
  opt(r, sv, "clock_offset_ms", out.clock_offset_ms, std::int64_t{-86'400'000'000},
      std::int64_t{86'400'000'000});
  opt(r, sv, "drift_ppm", out.drift_ppm, -100'000, 100'000);
  opt_bool(r, sv, "delta_push", out.delta_push);
  opt_bool(r, sv, "rate_limit_reject", out.rate_limit_reject);
  opt(r, sv, "presence_max_channels", out.presence_max_channels, std::size_t{0},
      std::size_t{100'000});
  if (const auto cs = sv["constraints"]) {
    if (!cs.IsSequence()) r.fail(cs, "\"constraints\" must be a list");
    for (const auto& c : cs) {
      r.keys(c, {"collection", "document", "reason"}, "a constraint");
      ScenarioServer::Constraint k;
      if (!c["collection"] || !c["reason"])
        r.fail(c, "a constraint needs \"collection\" and \"reason\"");
      opt_str(r, c, "collection", k.collection);
      opt_str(r, c, "document", k.document);
      opt_str(r, c, "reason", k.reason);
      if (k.reason.empty()) r.fail(c["reason"], "\"reason\" must not be empty (DELTA-10)");
      out.constraints.push_back(k);
    }
  }
  return out;
}

ScenarioEvent read_event(const YAML::Node& e, const Reader& r, const std::set<std::string>& nodes,
                         const std::set<std::string>& clients) {
  r.keys(e,
         {"at_s",
          "after",
          "delay_s",
          "every_s",
          "times",
          "action",
          "nodes",
          "client",
          "collection",
          "document",
          "channel",
          "name",
          "definition_action",
          "count",
          "size",
          "delta_ms",
          "ppm",
          "rate",
          "for_s",
          "from",
          "to",
          "latency_ms",
          "jitter_ms",
          "bandwidth_kbps",
          "segment_loss_ppm",
          "segment_corrupt_ppm",
          "frames"},
         "an event");
  ScenarioEvent ev;
  if (!e["action"]) r.fail(e, "an event needs an \"action\"");
  if (!e["at_s"] && !e["after"]) r.fail(e, "an event needs \"at_s\" or \"after\"");
  opt(r, e, "at_s", ev.at_s, 0.0, 86'400.0);
  opt(r, e, "delay_s", ev.delay_s, 0.0, 86'400.0);
  opt(r, e, "every_s", ev.every_s, 0.0, 86'400.0);
  opt(r, e, "times", ev.times, 1, 100'000);
  if (ev.times > 1 && ev.every_s <= 0) r.fail(e, "\"times\" needs \"every_s\" > 0");
  if (const auto a = e["after"]) {
    r.keys(a, {"client", "condition", "timeout_s"}, "\"after\"");
    WaitFor w;
    opt_str(r, a, "client", w.client);
    std::string condition;
    opt_str(r, a, "condition", condition);
    opt(r, a, "timeout_s", w.timeout_s, 0.0, 86'400.0);
    if (!clients.count(w.client)) r.fail(a, "\"after\" needs a known \"client\"");
    const auto known = find_condition(condition);
    if (!known)
      r.fail(a, "unknown condition \"" + condition + "\" (expected one of: " + condition_names() +
                    ")");
    w.condition = *known;
    ev.after = w;
  }
  ev.action = r.get<std::string>(e["action"], "\"action\" must be a string");
  const StepSpec* spec = find_step(ev.action);
  if (!spec)
    r.fail(e["action"],
           "unknown action \"" + ev.action + "\" (expected one of: " + step_names() + ")");
  ev.kind = spec->kind;
  if (e["nodes"]) ev.nodes = r.strings(e["nodes"], "\"nodes\"");
  for (const auto& n : ev.nodes) {
    if (!nodes.count(n)) r.fail(e["nodes"], "unknown node \"" + n + "\"");
  }
  const std::string& a = ev.action;
  if (spec->nodes == 2 && ev.nodes.size() != 2) r.fail(e, "\"" + a + "\" needs two nodes");
  if (spec->nodes == 1 && ev.nodes.size() != 1) r.fail(e, "\"" + a + "\" needs one node");
  opt_str(r, e, "client", ev.client);
  if (spec->needs_client && !clients.count(ev.client))
    r.fail(e, "\"" + a + "\" needs a known \"client\"");
  opt_str(r, e, "collection", ev.collection);
  if (spec->needs_collection && ev.collection.empty())
    r.fail(e, "\"" + a + "\" needs a \"collection\"");
  opt_str(r, e, "document", ev.document);
  opt_str(r, e, "channel", ev.channel);
  if (ev.kind == StepKind::Presence && ev.channel.empty())
    r.fail(e, "\"presence\" needs a \"channel\"");
  opt_str(r, e, "name", ev.name);
  if (ev.kind == StepKind::Definition && ev.name.empty())
    r.fail(e, "\"definition\" needs a \"name\"");
  opt_str(r, e, "definition_action", ev.definition_action);
  opt(r, e, "count", ev.count, 1, 1'000'000);
  opt(r, e, "size", ev.size, 1, 1'000'000);
  opt(r, e, "delta_ms", ev.delta_ms, std::int64_t{-86'400'000'000}, std::int64_t{86'400'000'000});
  opt(r, e, "ppm", ev.ppm, -100'000, 100'000);
  opt(r, e, "rate", ev.rate, std::uint64_t{0}, std::uint64_t{1'000'000});
  opt(r, e, "for_s", ev.for_s, 0.0, 86'400.0);
  if (ev.kind == StepKind::Link) {
    ev.link = read_link(e, r, nodes, true);
  } else if (e["from"] || e["to"] || e["frames"] || e["latency_ms"]) {
    r.fail(e, "link fields belong to \"action: link\"");
  }
  return ev;
}

std::optional<std::uint64_t> opt_count(const Reader& r, const YAML::Node& n, const char* key) {
  std::optional<std::uint64_t> v;
  opt(r, n, key, v, std::uint64_t{0}, std::uint64_t{1'000'000'000});
  return v;
}

ScenarioExpect read_expect(const YAML::Node& ex, const Reader& r,
                           const std::set<std::string>& clients) {
  r.keys(ex,
         {"converged", "converged_rule", "must_findings", "flagged", "absent", "frames", "stats"},
         "\"expect\"");
  ScenarioExpect out;
  opt_bool(r, ex, "converged", out.converged);
  if (ex["converged_rule"]) out.converged_rule = rule_id(r, ex["converged_rule"]);
  if (ex["must_findings"]) {
    if (ex["must_findings"].IsNull()) {
      out.max_must_findings.reset();
    } else {
      out.max_must_findings =
          r.get<int>(ex["must_findings"], "\"must_findings\" must be an integer or null");
    }
  }
  if (ex["flagged"]) {
    out.flagged = rule_ids(r, ex["flagged"], "\"flagged\"");
    if (!ex["must_findings"]) out.max_must_findings.reset();  // findings are expected
  }
  if (ex["absent"]) out.absent = rule_ids(r, ex["absent"], "\"absent\"");
  if (const auto fs = ex["frames"]) {
    if (!fs.IsSequence()) r.fail(fs, "\"frames\" must be a list");
    for (const auto& f : fs) {
      r.keys(f,
             {"rule", "client", "from", "type", "where", "at_least", "at_most", "between_s",
              "max_per_s"},
             "a frame expectation");
      FrameExpectation fe;
      if (!f["rule"] || !f["client"] || !f["type"])
        r.fail(f, "a frame expectation needs \"rule\", \"client\" and \"type\"");
      fe.rule = rule_id(r, f["rule"]);
      opt_str(r, f, "client", fe.client);
      if (!clients.count(fe.client)) r.fail(f["client"], "unknown client \"" + fe.client + "\"");
      std::string from = "client";
      opt_str(r, f, "from", from);
      if (from != "client" && from != "server")
        r.fail(f["from"], "\"from\" must be client or server");
      fe.from_client = from == "client";
      opt_str(r, f, "type", fe.type);
      if (!message_names().count(fe.type))
        r.fail(f["type"], "unknown message \"" + fe.type +
                              "\" (expected one of: " + joined(message_names()) + ")");
      if (const auto w = f["where"]) {
        if (!w.IsMap()) r.fail(w, "\"where\" must map JSON paths to values");
        for (const auto& kv : w)
          fe.where[kv.first.as<std::string>()] = r.get<std::string>(kv.second, "a scalar");
      }
      fe.at_least = opt_count(r, f, "at_least");
      fe.at_most = opt_count(r, f, "at_most");
      if (!fe.at_least && !fe.at_most && !f["max_per_s"]) fe.at_least = 1;
      if (const auto b = f["between_s"]) {
        if (!b.IsSequence() || b.size() != 2) r.fail(b, "\"between_s\" must be [from, until]");
        fe.from_s = r.get<double>(b[0], "a number");
        fe.until_s = r.get<double>(b[1], "a number");
      }
      opt(r, f, "max_per_s", fe.max_per_s, 0.0, 1e9);
      out.frames.push_back(fe);
    }
  }
  if (const auto ss = ex["stats"]) {
    if (!ss.IsSequence()) r.fail(ss, "\"stats\" must be a list");
    for (const auto& st : ss) {
      r.keys(st, {"rule", "client", "stat", "at_least", "at_most"}, "a stat expectation");
      StatExpectation se;
      if (!st["rule"] || !st["client"] || !st["stat"])
        r.fail(st, "a stat expectation needs \"rule\", \"client\" and \"stat\"");
      se.rule = rule_id(r, st["rule"]);
      opt_str(r, st, "client", se.client);
      if (!clients.count(se.client)) r.fail(st["client"], "unknown client \"" + se.client + "\"");
      std::string stat;
      opt_str(r, st, "stat", stat);
      const auto known = find_stat(stat);
      if (!known)
        r.fail(st["stat"], "unknown stat \"" + stat + "\" (expected one of: " + stat_names() + ")");
      se.stat = *known;
      se.at_least = opt_count(r, st, "at_least");
      se.at_most = opt_count(r, st, "at_most");
      out.stats.push_back(se);
    }
  }
  return out;
}

Scenario read(const YAML::Node& root, const Reader& r, const std::string& file) {
  Scenario s;
  s.file = file;
  r.keys(root,
         {"name", "description", "rules", "duration_s", "max_events", "write_window_s", "network",
          "links", "clients", "server", "events", "expect", "live"},
         "the scenario");
  if (!root["name"]) r.fail(root, "missing \"name\"");
  s.name = r.get<std::string>(root["name"], "\"name\" must be a string");
  opt_str(r, root, "description", s.description);
  if (root["rules"]) s.rules = rule_ids(r, root["rules"], "\"rules\"");
  opt(r, root, "duration_s", s.duration_s, 0.001, 86'400.0);
  opt(r, root, "max_events", s.max_events, std::uint64_t{1000}, std::uint64_t{1'000'000'000});
  if (const auto w = root["write_window_s"]) {
    if (!w.IsSequence() || w.size() != 2) r.fail(w, "\"write_window_s\" must be [from, until]");
    s.write_from_s = r.get<double>(w[0], "a number");
    s.write_until_s = r.get<double>(w[1], "a number");
    if (s.write_from_s < 0 || s.write_until_s < s.write_from_s)
      r.fail(w, "\"write_window_s\" must be [from, until] with 0 <= from <= until");
  }
  if (const auto n = root["network"]) {
    r.keys(n, {"latency_ms", "jitter_ms", "segment_loss_ppm"}, "\"network\"");
    opt(r, n, "latency_ms", s.latency_ms, 0.0, 600'000.0);
    opt(r, n, "jitter_ms", s.jitter_ms, 0.0, 600'000.0);
    opt(r, n, "segment_loss_ppm", s.segment_loss_ppm, 0u, 999'999u);
  }
  if (!root["clients"] || !root["clients"].IsSequence() || root["clients"].size() == 0) {
    r.fail(root["clients"] ? root["clients"] : root, "\"clients\" must be a non-empty list");
  }
  std::set<std::string> nodes{"server"}, clients;
  for (const auto& c : root["clients"]) {
    ScenarioClient cl = read_client(c, r);
    if (!nodes.insert(cl.name).second) r.fail(c["name"], "duplicate node name \"" + cl.name + "\"");
    clients.insert(cl.name);
    s.clients.push_back(std::move(cl));
  }
  if (const auto ls = root["links"]) {
    if (!ls.IsSequence()) r.fail(ls, "\"links\" must be a list");
    for (const auto& l : ls) {
      if (l["at_s"] || l["action"]) r.fail(l, "timed link changes go in \"events\" (action: link)");
      s.links.push_back(read_link(l, r, nodes, true));
    }
  }
  if (const auto sv = root["server"]) s.server = read_server(sv, r);
  if (const auto evs = root["events"]) {
    if (!evs.IsSequence()) r.fail(evs, "\"events\" must be a list");
    for (const auto& e : evs) s.events.push_back(read_event(e, r, nodes, clients));
  }
  if (const auto ex = root["expect"]) s.expect = read_expect(ex, r, clients);
  return s;
}

// The `live:` block (D133): `simulator_only: "why"`, or top-level keys that
// replace the scenario's own in live runs (each read as at the top level, so
// an error names its line in the block).
void read_live(const YAML::Node& root, const Reader& r, const std::string& file, Scenario& s) {
  const YAML::Node live = root["live"];
  if (!live) return;
  if (!live.IsMap()) r.fail(live, "\"live\" must be a map (use live: {} to run as is)");
  if (live["simulator_only"]) {
    r.keys(live, {"simulator_only"}, "\"live\" (simulator_only stands alone)");
    s.simulator_only =
        r.get<std::string>(live["simulator_only"], "\"simulator_only\" must say why");
    if (s.simulator_only.empty()) r.fail(live["simulator_only"], "\"simulator_only\" must say why");
    return;
  }
  r.keys(live,
         {"duration_s", "max_events", "write_window_s", "network", "links", "clients", "server",
          "events", "expect"},
         "\"live\"");
  YAML::Node merged(YAML::NodeType::Map);
  for (const auto& kv : root) {
    const auto key = kv.first.as<std::string>();
    if (key != "live") merged[key] = live[key] ? live[key] : kv.second;
  }
  for (const auto& kv : live) {
    const auto key = kv.first.as<std::string>();
    if (!root[key]) merged[key] = kv.second;
  }
  s.live_variant = std::make_shared<const Scenario>(read(merged, r, file));
}

}  // namespace

using namespace yaml;

ScenarioLoad parse_scenario(const std::string& text, const std::string& file) {
  ScenarioLoad out;
  out.error = parse_yaml(text, file, [&](const YAML::Node& root, const Reader& r) {
    out.scenario = read(root, r, file);
    read_live(root, r, file, *out.scenario);
  });
  if (!out.error.empty()) out.scenario.reset();
  return out;
}

ScenarioLoad parse_scenario_node(const YAML::Node& root, const std::string& file) {
  ScenarioLoad out;
  try {
    const Reader r(file);
    out.scenario = read(root, r, file);
    read_live(root, r, file, *out.scenario);
  } catch (const ParseError& e) {
    out.error = e.message;
  } catch (const YAML::Exception& e) {
    out.error = file + ": " + e.msg;
  }
  if (!out.error.empty()) out.scenario.reset();
  return out;
}

ScenarioLoad load_scenario(const std::string& path) {
  std::string text, error;
  if (!read_text_file(path, text, error)) return ScenarioLoad{std::nullopt, error};
  return parse_scenario(text, path);
}

std::vector<std::string> scenario_files(const std::vector<std::string>& paths, std::string& error) {
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(p, ec)) {
        if (e.path().extension() == ".yaml") files.push_back(e.path().string());
      }
    } else if (std::filesystem::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      error = p + ": no such file or directory";
      return {};
    }
  }
  std::sort(files.begin(), files.end());  // a fixed order
  return files;
}

Scenario namespaced(const Scenario& s, const std::string& tag) {
  const auto m = [&tag](const std::string& v) { return v.empty() || v == "*" ? v : v + "_" + tag; };
  Scenario out = s;
  out.live_tag = tag;
  for (auto& c : out.clients) {
    // Where writes go by default (scenario_client.cpp), made explicit first.
    if (c.collection.empty()) c.collection = c.shapes.empty() ? "orders" : c.shapes.front();
    c.collection = m(c.collection);
    for (auto& coll : c.shapes) coll = m(coll);
  }
  for (auto& e : out.events) {
    e.collection = m(e.collection);
    e.channel = m(e.channel);
    if (e.kind == StepKind::Definition) e.name = m(e.name);
  }
  const std::string all = "-all";  // shape ids are "<collection>-all"
  for (auto& f : out.expect.frames) {
    for (auto& [path, value] : f.where) {
      if (path == "collection" || path == "name" || path == "channel") value = m(value);
      if (path == "shape_id" && value.size() > all.size() &&
          value.compare(value.size() - all.size(), all.size(), all) == 0)
        value = m(value.substr(0, value.size() - all.size())) + all;
    }
  }
  return out;
}

std::vector<std::string> rules_named(const Scenario& s) {
  std::set<std::string> ids(s.rules.begin(), s.rules.end());
  for (const auto& f : s.expect.frames) ids.insert(f.rule);
  for (const auto& st : s.expect.stats) ids.insert(st.rule);
  ids.insert(s.expect.flagged.begin(), s.expect.flagged.end());
  ids.insert(s.expect.absent.begin(), s.expect.absent.end());
  return {ids.begin(), ids.end()};
}

}  // namespace syncsim::conformance
