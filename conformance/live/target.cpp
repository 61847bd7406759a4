#include "conformance/live/target.hpp"

#include "conformance/live/driver_contract.hpp"
#include "conformance/live/live_case.hpp"
#include "conformance/live/profiles.hpp"
#include "conformance/runner/vocabulary.hpp"
#include "conformance/runner/yaml_reader.hpp"

namespace syncsim::conformance {

using namespace yaml;

namespace {

// `hooks:` maps the names the scenario vocabulary's operator steps need
// (vocabulary.hpp) to shell commands.
void read_hooks(const YAML::Node& root, const Reader& r, TargetFile& t) {
  opt(r, root, "hook_timeout_s", t.hook_timeout_s, 0.1, 3600.0);
  const auto hooks = root["hooks"];
  if (!hooks || hooks.IsNull()) return;
  if (!hooks.IsMap()) r.fail(hooks, "\"hooks\" maps hook names to shell commands");
  std::set<std::string> known;
  for (const auto& s : steps()) {
    if (!s.hook.empty()) known.insert(std::string(s.hook));
  }
  for (const auto& kv : hooks) {
    const auto name = r.get<std::string>(kv.first, "a hook name");
    if (!known.count(name))
      r.fail(kv.first, "unknown hook \"" + name + "\" (expected one of: " + joined(known) + ")");
    t.hooks[name] = r.get<std::string>(kv.second, "a hook is a shell command (a string)");
  }
}

// The server options a target declares as its settings (D185), as a
// scenario's `server:` spells them: flags are true or false, the rest numbers.
struct SettingSpec {
  std::string_view name;
  bool flag;
};
constexpr SettingSpec kSettings[] = {
    {"trust_mode", true},       {"data_queue_limit", false},      {"default_throttle_rate", false},
    {"rate_per_s", false},      {"rate_capacity", false},         {"idle_timeout_s", false},
    {"max_sessions", false},    {"presence_max_channels", false}, {"delta_push", true},
    {"rate_limit_reject", true}};

bool is_flag_setting(const std::string& name) {
  for (const auto& s : kSettings) {
    if (s.name == name) return s.flag;
  }
  return false;
}

// `settings:` maps server options to the target's fixed values (D185).
void read_settings(const YAML::Node& root, const Reader& r, TargetFile& t) {
  const auto settings = root["settings"];
  if (!settings || settings.IsNull()) return;
  if (!settings.IsMap()) r.fail(settings, "\"settings\" maps server options to their values");
  for (const auto& kv : settings) {
    const auto name = r.get<std::string>(kv.first, "a setting name");
    if (!server_setting_names().count(name))
      r.fail(kv.first, "unknown setting \"" + name +
                           "\" (expected one of: " + joined(server_setting_names()) + ")");
    if (is_flag_setting(name)) {
      t.settings[name] = r.get<bool>(kv.second, "\"" + name + "\" is true or false") ? 1 : 0;
      continue;
    }
    const double v = r.get<double>(kv.second, "\"" + name + "\" must be a number >= 0");
    if (!(v >= 0)) r.fail(kv.second, "\"" + name + "\" must be a number >= 0");
    t.settings[name] = v;
  }
}

}  // namespace

const std::set<std::string>& server_setting_names() {
  static const std::set<std::string> kNames = [] {
    std::set<std::string> out;
    for (const auto& s : kSettings) out.emplace(s.name);
    return out;
  }();
  return kNames;
}

TargetLoad parse_target(const std::string& text, const std::string& file, bool baseline_only) {
  TargetLoad out;
  TargetFile t;
  t.file = file;
  out.error = parse_yaml(text, file, [&](const YAML::Node& root, const Reader& r) {
    if (!root || root.IsNull()) return;  // an empty file: nothing declared
    if (baseline_only) {
      r.keys(root, {"expected_failures"}, "a baseline file");
    } else {
      r.keys(root,
             {"server", "token", "jwt_secret", "tenant", "capabilities", "expected_failures",
              "time_scale", "tap_tolerance_ms", "hooks", "hook_timeout_s", "profile", "driver",
              "settings"},
             "a target file");
    }
    opt_str(r, root, "server", t.server);
    opt_str(r, root, "token", t.token);
    opt_str(r, root, "jwt_secret", t.jwt_secret);
    if (!t.token.empty() && !t.jwt_secret.empty())
      r.fail(root["jwt_secret"], "give \"token\" or \"jwt_secret\", not both");
    opt(r, root, "tenant", t.tenant, 0u, 0xFFFF'FFFFu);
    opt(r, root, "time_scale", t.time_scale, 0.01, 1000.0);
    opt(r, root, "tap_tolerance_ms", t.tap_tolerance_ms, 0.0, 60'000.0);
    if (const auto caps = root["capabilities"]) {
      for (const auto& c : r.strings(caps, "\"capabilities\"")) {
        if (!capability_names().count(c))
          r.fail(caps, "unknown capability \"" + c +
                           "\" (expected one of: " + joined(capability_names()) + ")");
        t.capabilities.insert(c);
      }
      if (t.capabilities.empty()) r.fail(caps, "\"capabilities\" lists nothing");
    }
    read_hooks(root, r, t);
    read_settings(root, r, t);
    opt_str(r, root, "profile", t.profile);
    if (!t.profile.empty() && !find_profile(t.profile))
      r.fail(root["profile"],
             "unknown profile \"" + t.profile + "\" (expected one of: " + profile_names() + ")");
    if (const auto d = root["driver"]) {
      std::string list;
      for (const auto& v : r.strings(d, "\"driver\"")) list += (list.empty() ? "" : ",") + v;
      std::string error;
      if (!parse_driver_verbs(list, t.driver, error)) r.fail(d, error);
    }
    if (const auto xf = root["expected_failures"]) {
      if (!xf.IsNull()) {
        for (const auto& id : r.strings(xf, "\"expected_failures\""))
          t.expected_failures.insert(id);
      }
    }
  });
  if (out.error.empty()) out.target = std::move(t);
  return out;
}

TargetLoad load_target(const std::string& path, bool baseline_only) {
  std::string text, error;
  if (!read_text_file(path, text, error)) return TargetLoad{std::nullopt, error};
  return parse_target(text, path, baseline_only);
}

std::string baseline_text(const std::set<std::string>& ids, const std::string& origin) {
  std::string out = "# syncsim baseline: cases known to fail (" + origin +
                    ").\n# They are reported as XFAIL and do not fail the run; delete a line\n"
                    "# once the case passes (it then shows XPASS).\nexpected_failures:";
  if (ids.empty()) return out + " []\n";
  out += "\n";
  for (const auto& id : ids) out += "  - " + id + "\n";
  return out;
}

}  // namespace syncsim::conformance
