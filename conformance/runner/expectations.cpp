#include "conformance/runner/expectations.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "conformance/runner/scenario_client.hpp"
#include "protocol/json.hpp"

namespace syncsim::conformance {

namespace {

constexpr std::int64_t kSecondNs = 1'000'000'000;

// The value at a dotted path of a frame's JSON model, as text; nullopt if absent.
std::optional<std::string> json_text(const protocol::Json& value, const std::string& path) {
  const protocol::Json* at_path = &value;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!at_path->is_object() || !at_path->contains(key)) return std::nullopt;
    at_path = &(*at_path)[key];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (at_path->is_string()) return at_path->get<std::string>();
  if (at_path->is_boolean()) return at_path->get<bool>() ? "true" : "false";
  if (at_path->is_number()) return at_path->dump();
  return std::string("*");  // an object or array: present
}

bool matches(const FrameExpectation& e, const SeenFrame& f) {
  if (f.from_client != e.from_client) return false;
  if (protocol::message_name(f.message) != e.type) return false;
  if (e.where.empty()) return true;
  const protocol::Json j = protocol::message_to_json(f.message)["value"];
  for (const auto& [path, want] : e.where) {
    const auto got = json_text(j, path);
    if (!got || (want != "*" && *got != want)) return false;
  }
  return true;
}

std::string describe(const FrameExpectation& e) {
  std::string what = e.type;
  if (!e.where.empty()) {
    what += "{";
    bool first = true;
    for (const auto& [k, v] : e.where) {
      what += (first ? "" : ", ") + k + "=" + v;
      first = false;
    }
    what += "}";
  }
  std::string when;
  if (e.from_s > 0 || e.until_s < 1e17)
    when = " between " + seconds_text(e.from_s) + " and " + seconds_text(e.until_s);
  return (e.from_client ? e.client + " wrote " : "the server wrote to " + e.client + " ") + what +
         when;
}

void check_frames(const FrameExpectation& e, const std::vector<SeenFrame>& frames,
                  std::vector<std::string>& failures) {
  std::vector<std::int64_t> times;
  for (const auto& f : frames) {
    if (f.t < scenario_ns(e.from_s) || f.t > scenario_ns(e.until_s)) continue;
    if (matches(e, f)) times.push_back(f.t);
  }
  const std::uint64_t n = times.size();
  if (e.at_least && n < *e.at_least) {
    failures.push_back(e.rule + ": expected " + describe(e) + " at least " +
                       std::to_string(*e.at_least) + " time(s); it happened " + std::to_string(n) +
                       " time(s)");
  }
  if (e.at_most && n > *e.at_most) {
    failures.push_back(e.rule + ": expected " + describe(e) + " at most " +
                       std::to_string(*e.at_most) + " time(s); it happened " + std::to_string(n) +
                       " time(s), first at " + seconds_text(static_cast<double>(times[0]) / 1e9));
  }
  if (e.max_per_s) {
    std::size_t lo = 0, worst = 0;
    std::int64_t worst_at = 0;
    for (std::size_t hi = 0; hi < times.size(); ++hi) {
      while (times[hi] - times[lo] >= kSecondNs) ++lo;
      if (hi - lo + 1 > worst) {
        worst = hi - lo + 1;
        worst_at = times[lo];
      }
    }
    if (static_cast<double>(worst) > *e.max_per_s) {
      failures.push_back(e.rule + ": expected " + describe(e) + " at most " +
                         std::to_string(static_cast<std::uint64_t>(*e.max_per_s)) +
                         " per second; " + std::to_string(worst) + " within the second from " +
                         seconds_text(static_cast<double>(worst_at) / 1e9));
    }
  }
}

}  // namespace

std::string seconds_text(double s) {
  std::string t = std::to_string(s);
  t.erase(t.find_last_not_of('0') + 1);
  if (!t.empty() && t.back() == '.') t.pop_back();
  return t + " s";
}

std::string first_difference(const std::map<std::string, protocol::Bytes>& client,
                             const std::map<std::string, protocol::Bytes>& server,
                             const std::string& client_side, const std::string& server_side) {
  const auto value = [](const std::map<std::string, protocol::Bytes>& docs, const std::string& id) {
    const auto it = docs.find(id);
    return it == docs.end() ? std::string("absent") : "0x" + protocol::to_hex(it->second);
  };
  auto c = client.begin();
  auto s = server.begin();
  while (c != client.end() && s != server.end() && *c == *s) ++c, ++s;
  std::string id;
  if (c == client.end())
    id = s->first;
  else if (s == server.end())
    id = c->first;
  else
    id = std::min(c->first, s->first);
  return "first difference: \"" + id + "\" is " + value(client, id) + " at " + client_side + ", " +
         value(server, id) + " at " + server_side;
}

void judge_expectations(const Scenario& s,
                        const std::map<std::string, std::vector<SeenFrame>>& frames,
                        const std::map<std::string, ClientAtEnd>& clients,
                        const std::function<void(ScenarioResult&)>& convergence,
                        ScenarioResult& result) {
  if (s.expect.max_must_findings &&
      result.must_findings > static_cast<std::size_t>(*s.expect.max_must_findings)) {
    // Every rule broken, not only the first finding's: a failure names them all.
    std::map<std::string, std::size_t> by_rule;
    for (const auto& f : result.findings) {
      if (f.finding.level == protocol::Level::Must) ++by_rule[std::string(f.finding.rule)];
    }
    std::string rules;
    for (const auto& [rule, n] : by_rule)
      rules += (rules.empty() ? "" : ", ") + rule + " x" + std::to_string(n);
    result.failures.push_back(
        std::to_string(result.must_findings) + " MUST findings (allowed " +
        std::to_string(*s.expect.max_must_findings) + "; " + rules + "); first: " +
        format_check_finding(
            *std::find_if(result.findings.begin(), result.findings.end(),
                          [](const auto& f) { return f.finding.level == protocol::Level::Must; })));
  }
  auto found = [&](const std::string& rule) {
    return std::find_if(result.findings.begin(), result.findings.end(),
                        [&](const CheckFinding& f) { return f.finding.rule == rule; });
  };
  for (const auto& rule : s.expect.absent) {
    if (auto it = found(rule); it != result.findings.end())
      result.failures.push_back(rule + ": expected no finding; " + format_check_finding(*it));
  }
  static const std::vector<SeenFrame> kNoFrames;
  for (const auto& fe : s.expect.frames) {
    auto it = frames.find(fe.client);
    check_frames(fe, it == frames.end() ? kNoFrames : it->second, result.failures);
  }
  for (const auto& se : s.expect.stats) {
    auto it = clients.find(se.client);
    if (it == clients.end() || !it->second.core) continue;
    const std::uint64_t v = stat_of(*it->second.core, se.stat, it->second.refused);
    const std::string stat(stat_name(se.stat));
    if ((se.at_least && v < *se.at_least) || (se.at_most && v > *se.at_most)) {
      result.failures.push_back(se.rule + ": expected " + se.client + "'s " + stat +
                                (se.at_least ? " >= " + std::to_string(*se.at_least) : "") +
                                (se.at_most ? " <= " + std::to_string(*se.at_most) : "") +
                                "; it is " + std::to_string(v));
    }
  }
  if (s.expect.converged) convergence(result);
  // A flagged rule must be caught, by the checker or by a failed expectation
  // citing it; those failures are then what the scenario demands.
  for (const auto& rule : s.expect.flagged) {
    const std::string prefix = rule + ": ";
    const auto cited = std::count_if(result.failures.begin(), result.failures.end(),
                                     [&](const std::string& f) { return f.starts_with(prefix); });
    std::erase_if(result.failures, [&](const std::string& f) { return f.starts_with(prefix); });
    if (found(rule) == result.findings.end() && cited == 0)
      result.failures.push_back(rule +
                                ": expected it to be caught; neither the checker nor an "
                                "expectation citing it failed");
  }
  result.passed = result.failures.empty();
}

}  // namespace syncsim::conformance
