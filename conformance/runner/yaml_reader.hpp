// Strict YAML reading shared by scenario, target and fault files: unknown
// keys, duplicate keys, wrong types and out-of-range values are errors that
// name file:line:column and what was expected. Readers throw ParseError
// inside; parse_yaml() turns it (and yaml-cpp's own errors) into text, so
// nothing escapes a parse.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "conformance/runner/scenario.hpp"
#include "protocol/rules.hpp"

namespace syncsim::conformance::yaml {

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

// Optional scalar fields, range-checked, with a message naming the key.
template <class T>
void opt(const Reader& r, const YAML::Node& map, const char* key, T& out, T lo, T hi) {
  const auto n = map[key];
  if (!n) return;
  auto text = [](T v) {
    std::ostringstream o;
    o << v;
    return o.str();
  };
  const std::string range = "\"" + std::string(key) + "\" must be " +
                            (std::is_integral_v<T> ? "an integer" : "a number") + " in [" +
                            text(lo) + ", " + text(hi) + "]";
  const T v = r.get<T>(n, range);
  if (v < lo || v > hi) r.fail(n, range);
  out = v;
}
template <class T>
void opt(const Reader& r, const YAML::Node& map, const char* key, std::optional<T>& out, T lo,
         T hi) {
  if (!map[key]) return;
  T v{};
  opt(r, map, key, v, lo, hi);
  out = v;
}
inline void opt_str(const Reader& r, const YAML::Node& map, const char* key, std::string& out) {
  if (const auto n = map[key])
    out = r.get<std::string>(n, "\"" + std::string(key) + "\" must be a string");
}
inline void opt_bool(const Reader& r, const YAML::Node& map, const char* key, bool& out) {
  if (const auto n = map[key])
    out = r.get<bool>(n, "\"" + std::string(key) + "\" must be true or false");
}

inline constexpr std::uint32_t kPpm = 1'000'000;

inline const std::set<std::string>& message_names() {
  static const std::set<std::string> kNames = {"Handshake",
                                               "HandshakeAck",
                                               "DeltaPush",
                                               "DeltaAck",
                                               "DeltaReject",
                                               "CollectionPurged",
                                               "ShapeSubscribe",
                                               "ShapeSnapshot",
                                               "ShapeDelta",
                                               "ShapeUnsubscribe",
                                               "VectorClockSync",
                                               "TimeseriesPush",
                                               "TimeseriesAck",
                                               "ResyncRequest",
                                               "Throttle",
                                               "TokenRefresh",
                                               "TokenRefreshAck",
                                               "DefinitionSync",
                                               "PresenceUpdate",
                                               "PresenceBroadcast",
                                               "PresenceLeave",
                                               "Ping",
                                               "Pong"};
  return kNames;
}

inline std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// A rule ID the spec defines (Appendix F); anything else is a typo.
inline std::string rule_id(const Reader& r, const YAML::Node& n) {
  const auto id = r.get<std::string>(n, "a rule ID must be a string");
  if (!protocol::find_rule(id))
    r.fail(n, "\"" + id + "\" is not a rule of the spec (see `syncsim rules`)");
  return id;
}
inline std::vector<std::string> rule_ids(const Reader& r, const YAML::Node& n,
                                         const std::string& what) {
  if (!n.IsSequence()) r.fail(n, what + " must be a list of rule IDs");
  std::vector<std::string> out;
  for (const auto& e : n) out.push_back(rule_id(r, e));
  return out;
}

// The "frames" block of a link or of a proxy's fault file.
FrameFaultSpec read_frame_faults(const YAML::Node& f, const Reader& r);

// Reads `path` (at most 1 MiB) into `text`; false with `error` set otherwise.
bool read_text_file(const std::string& path, std::string& text, std::string& error);

// Parses `text` and hands the root to `read`; returns "" or the error,
// "file:line:col: what was expected".
std::string parse_yaml(const std::string& text, const std::string& file,
                       const std::function<void(const YAML::Node&, const Reader&)>& read);

}  // namespace syncsim::conformance::yaml
