#include "conformance/explore/explore.hpp"

#include <rapidcheck.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "conformance/runner/runner.hpp"
#include "conformance/runner/scenario.hpp"
#include "conformance/runner/workers.hpp"
#include "conformance/runner/yaml_reader.hpp"
#include "protocol/rules.hpp"

namespace syncsim::conformance {

using Kind = ExploreStep::Kind;

std::string_view step_kind_name(Kind k) {
  switch (k) {
    case Kind::Partition: return "partition";
    case Kind::Reset: return "reset";
    case Kind::Restart: return "restart";
    case Kind::DropNext: return "drop";
    case Kind::Reorder: return "reorder";
    case Kind::Duplicate: return "duplicate";
    case Kind::ServerWrite: return "server-write";
    case Kind::Write: return "write";
    case Kind::Purge: return "purge";
    case Kind::Corrupt: return "corrupt";
    case Kind::ClockJump: return "clock-jump";
  }
  return "?";
}

namespace {

// The fault window: steps start 2 s to 22 s in and last at most 5 s; one
// last server write at 28 s reveals any gap a lost delta left; the run goes
// on long enough after it for liveness to be judged (the checker's 10 s).
constexpr double kWindowFrom = 2, kFinalWrite = 28, kMinDuration = 45;
constexpr double kDropWindowS = 5;  // how long a DropNext relay stays on

// Purge only with --purges: after a purge the clients end their
// subscriptions (PURGE-6) while later writes fill the server again, so
// "every view equals the server's" stops being the oracle; a schedule with
// a purge is judged by the checker alone (PURGE-1/2/4/7 among its rules).
rc::Gen<Kind> gen_kind(bool purges) {
  if (purges) {
    return rc::gen::element(Kind::DropNext, Kind::Partition, Kind::Reset, Kind::Reorder,
                            Kind::Duplicate, Kind::Restart, Kind::ServerWrite, Kind::Write,
                            Kind::Corrupt, Kind::ClockJump, Kind::Purge, Kind::Purge);
  }
  return rc::gen::element(Kind::DropNext, Kind::Partition, Kind::Reset, Kind::Reorder,
                          Kind::Duplicate, Kind::Restart, Kind::ServerWrite, Kind::Write,
                          Kind::Corrupt, Kind::ClockJump);
}

rc::Gen<ExploreStep> gen_step(int clients, bool purges) {
  return rc::gen::build<ExploreStep>(
      rc::gen::set(&ExploreStep::kind, gen_kind(purges)),
      rc::gen::set(&ExploreStep::at_ds, rc::gen::inRange(0, 201)),
      rc::gen::set(&ExploreStep::client, rc::gen::inRange(0, clients)),
      rc::gen::set(&ExploreStep::amount, rc::gen::inRange(1, 51)),
      rc::gen::set(&ExploreStep::types, rc::gen::inRange(0, 3)));
}

rc::Gen<std::vector<ExploreStep>> gen_schedule(int clients, int max_steps, bool purges) {
  return rc::gen::mapcat(rc::gen::inRange(1, max_steps + 1), [clients, purges](int n) {
    return rc::gen::container<std::vector<ExploreStep>>(static_cast<std::size_t>(n),
                                                        gen_step(clients, purges));
  });
}

YAML::Node flow(YAML::Node n) {
  n.SetStyle(YAML::EmitterStyle::Flow);
  return n;
}

// A step of the scenario vocabulary at a time, in YAML.
YAML::Node event(double at_s, StepKind kind) {
  YAML::Node e;
  char tenths[32];  // "3.1", not 3.1000000000000001
  std::snprintf(tenths, sizeof tenths, "%.1f", std::round(at_s * 10) / 10);
  e["at_s"] = tenths;
  e["action"] = std::string(step(kind).name);
  return e;
}

YAML::Node names(std::initializer_list<std::string> ns) {
  YAML::Node n;
  for (const auto& s : ns) n.push_back(s);
  return flow(n);
}

YAML::Node frames(std::initializer_list<std::string> types) {
  YAML::Node f;
  YAML::Node t;
  for (const auto& s : types) t.push_back(s);
  f["types"] = flow(t);
  return f;
}

// The events one step stands for.
std::vector<YAML::Node> events_of(const ExploreStep& s, const std::vector<std::string>& clients,
                                  const std::string& collection) {
  const std::string& c = clients[static_cast<std::size_t>(s.client) % clients.size()];
  const double t = kWindowFrom + s.at_ds / 10.0, until = t + s.amount / 10.0;
  std::vector<YAML::Node> out;
  auto link = [&](double at, const std::string& from, const std::string& to, YAML::Node f) {
    YAML::Node e = event(at, StepKind::Link);
    e["from"] = from;
    e["to"] = to;
    e["frames"] = f.IsScalar() ? f : flow(f);
    out.push_back(flow(e));
  };
  // Each relay window ends with the relay off: a partition of a relayed
  // direction drops frames, which a TCP connection never does (D120).
  const YAML::Node off("off");
  switch (s.kind) {
    case Kind::Partition: {
      YAML::Node p = event(t, StepKind::Partition), h = event(until, StepKind::Heal);
      p["nodes"] = names({c, "server"});
      h["nodes"] = names({c, "server"});
      out = {flow(p), flow(h)};
      break;
    }
    case Kind::Reset:
    case Kind::Restart: {
      YAML::Node e = event(t, s.kind == Kind::Reset ? StepKind::Reset : StepKind::Restart);
      e["nodes"] = names({c});
      out = {flow(e)};
      break;
    }
    case Kind::DropNext: {
      // Losses the protocol recovers from: deltas (a later lsn shows the
      // gap) and acks (the push is sent again). A lost DeltaPush is not one
      // of them (DELTA-6 drops its retransmission once a later id was
      // accepted; D63, D120).
      const std::string type = s.types % 2 == 0 ? "ShapeDelta" : "DeltaAck";
      YAML::Node f = frames({type});
      f["drop_next"] = std::min(s.amount, 5);
      link(t, "server", c, f);
      link(t + kDropWindowS, "server", c, off);  // those not seen by then stay
      break;
    }
    case Kind::Reorder: {
      YAML::Node f = frames({"ShapeDelta", "DeltaAck"});
      f["reorder_ppm"] = 300000;
      f["reorder_window_ms"] = 50;
      link(t, "server", c, f);
      link(until, "server", c, off);
      break;
    }
    case Kind::Duplicate: {
      YAML::Node f = frames({"DeltaPush"});
      f["duplicate_ppm"] = 300000;
      link(t, c, "server", f);
      link(until, c, "server", off);
      break;
    }
    case Kind::Purge: {
      if (collection.empty()) break;
      YAML::Node e = event(t, StepKind::Purge);
      e["collection"] = collection;
      out = {flow(e)};
      break;
    }
    case Kind::Corrupt: {
      YAML::Node f = frames({"DeltaPush"});
      f["corrupt_ppm"] = 1000000;
      link(t, c, "server", f);
      link(until, c, "server", off);
      break;
    }
    case Kind::ClockJump: {
      YAML::Node e = event(t, StepKind::ClockJump);
      e["nodes"] = names({c});
      e["delta_ms"] = (s.amount - 25) * 1000;
      out = {flow(e)};
      break;
    }
    case Kind::ServerWrite:
    case Kind::Write: {
      if (collection.empty()) break;
      YAML::Node e = event(t, s.kind == Kind::Write ? StepKind::Write : StepKind::ServerWrite);
      if (s.kind == Kind::Write) e["client"] = c;
      e["collection"] = collection;
      e["count"] = std::min(s.amount, 20);
      out = {flow(e)};
      break;
    }
  }
  return out;
}

const std::string kExplored = "<explored>";  // the file name of generated scenarios

struct Base {
  std::string file, text;
  YAML::Node root;  // the text, loaded once
  Scenario scenario;
  std::vector<std::string> clients;
  std::string collection;  // the first subscribed collection, if any
};

// The base with the steps, the injected bugs and the plain expectations
// (converge, no MUST finding), as a YAML node; scenario_text() writes it.
YAML::Node scenario_root(const Base& b, const std::vector<ExploreStep>& steps,
                         const ExploreOptions& o, const std::string& absent_rule = "") {
  YAML::Node root = YAML::Clone(b.root);
  root["name"] = b.scenario.name + "-explored";
  root["description"] = "Found by syncsim explore on " + b.file + "; see the comment above.";
  root["duration_s"] = std::max(b.scenario.duration_s, kMinDuration);
  if (!o.client_bugs.empty()) {
    for (auto c : root["clients"]) {
      YAML::Node bugs;
      for (const auto& bug : o.client_bugs) bugs.push_back(bug);
      c["bugs"] = flow(bugs);
    }
  }
  if (!o.server_bugs.empty()) {
    YAML::Node bugs;
    for (const auto& bug : o.server_bugs) bugs.push_back(bug);
    root["server"]["bugs"] = flow(bugs);
  }
  YAML::Node events = root["events"] ? root["events"] : YAML::Node(YAML::NodeType::Sequence);
  for (const auto& s : steps) {
    for (const auto& e : events_of(s, b.clients, b.collection)) events.push_back(e);
  }
  if (!b.collection.empty()) {
    YAML::Node last = event(kFinalWrite, StepKind::ServerWrite);
    last["collection"] = b.collection;
    last["count"] = 3;
    events.push_back(flow(last));
  }
  root["events"] = events;
  root.remove("expect");  // the defaults: converge, no MUST finding
  root.remove("rules");
  const bool purged = std::any_of(steps.begin(), steps.end(),
                                  [](const ExploreStep& s) { return s.kind == Kind::Purge; });
  if (purged && !b.collection.empty()) root["expect"]["converged"] = false;  // see gen_kind
  if (!absent_rule.empty()) {  // --strict found a SHOULD rule broken
    YAML::Node absent;
    absent.push_back(absent_rule);
    root["expect"]["absent"] = flow(absent);
  }
  return root;
}

// The same scenario as standalone YAML, after `header`.
std::string scenario_text(const Base& b, const std::vector<ExploreStep>& steps,
                          const ExploreOptions& o, const std::string& header,
                          const std::string& absent_rule = "") {
  YAML::Emitter out;
  out.SetDoublePrecision(6);  // at_s: 2.1, not 2.1000000000000001
  out << scenario_root(b, steps, o, absent_rule);
  return header + out.c_str() + "\n";
}

struct Verdict {
  bool failed = false;
  std::string rule, detail;
  std::string unjudged;  // an expectation the run could not judge (D120)
};

// A run's verdict. Runs read the generated node directly (writing it as
// text and loading that back was nearly half of explore's time); the
// scenario a failure is written as is run again from its text.
Verdict judge(const ScenarioLoad& load, std::uint64_t seed, bool strict) {
  if (!load.scenario) return Verdict{true, "INVALID", load.error};
  const ScenarioResult r = run_scenario(*load.scenario, seed);
  if (r.passed) {
    if (!strict || r.findings.empty()) return {false, "", "", r.notes.empty() ? "" : r.notes[0]};
    const auto& first = r.findings.front();  // passed: no MUST among them
    return Verdict{true, std::string(first.finding.rule), format_check_finding(first)};
  }
  Verdict v{true, "", r.failures.empty() ? "" : r.failures.front()};
  const auto must = std::find_if(r.findings.begin(), r.findings.end(), [](const CheckFinding& f) {
    return f.finding.level == protocol::Level::Must;
  });
  if (must != r.findings.end()) {
    v.rule = must->finding.rule;
  } else if (!r.failures.empty()) {
    v.rule = r.failures.front().substr(0, r.failures.front().find(':'));
  }
  return v;
}

// A verdict travels from a worker process as a run record: failures holds
// the rule and the detail, notes the unjudged expectation. A worker that
// died mid-run leaves one failure line, which names how it died.
RunRecord record_of_verdict(const Verdict& v) {
  RunRecord r;
  if (v.failed) r.failures = {v.rule, v.detail};
  if (!v.unjudged.empty()) r.notes = {v.unjudged};
  return r;
}

Verdict verdict_of_record(const RunRecord& r) {
  Verdict v;
  v.failed = !r.failures.empty();
  if (r.failures.size() == 2) {
    v.rule = r.failures[0];
    v.detail = r.failures[1];
  } else if (v.failed) {
    v.rule = "CRASH";
    v.detail = r.failures.front();
  }
  if (!r.notes.empty()) v.unjudged = r.notes.front();
  return v;
}

std::string header_of(const ExploreOptions& o, const ExploreFailure& f, const std::string& file) {
  std::ostringstream h;
  h << "# Found by: syncsim explore --scenario " << o.base_file << " --seed " << o.seed
    << " --runs " << o.runs;
  for (const auto& b : o.client_bugs) h << " --client-bug " << b;
  for (const auto& b : o.server_bugs) h << " --server-bug " << b;
  if (o.strict) h << " --strict";
  if (o.purges) h << " --purges";
  h << "\n# Fails " << f.rule << " (run " << f.found_at_run << ", " << f.steps_found
    << " generated steps shrunk to " << f.steps_shrunk << " in " << f.shrink_runs << " runs).\n"
    << "# Reproduce: syncsim run " << file << " --seed " << f.run_seed << "\n";
  return h.str();
}

}  // namespace

ExploreResult explore(const ExploreOptions& o) {
  ExploreResult result;
  Base b;
  b.file = o.base_file;
  if (!yaml::read_text_file(o.base_file, b.text, result.error)) return result;
  const auto load = parse_scenario(b.text, o.base_file);
  if (!load.scenario) {
    result.error = load.error;
    return result;
  }
  b.scenario = *load.scenario;
  b.root = YAML::Load(b.text);
  for (const auto& c : b.scenario.clients) {
    b.clients.push_back(c.name);
    if (b.collection.empty() && !c.shapes.empty()) b.collection = c.shapes.front();
  }
  if (b.clients.empty()) {
    result.error = o.base_file + ": the base scenario has no clients to explore with";
    return result;
  }
  const auto say = [&](const std::string& line) {
    if (o.progress) o.progress(line);
  };
  const auto gen = gen_schedule(static_cast<int>(b.clients.size()), o.max_steps, o.purges);
  // Run i's schedule comes from its seed alone; run 1 (i = 0) is the base
  // alone, so a bug that needs no fault is found at once.
  const auto schedule_of = [&](std::size_t i) {
    std::optional<rc::Shrinkable<std::vector<ExploreStep>>> schedule;
    if (i > 0) schedule = gen(rc::Random(o.seed + i), 50);
    return schedule;
  };
  const auto steps_of = [](const auto& schedule) {
    return schedule ? schedule->value() : std::vector<ExploreStep>{};
  };
  const auto verdict = [&](const std::vector<ExploreStep>& steps, std::uint64_t run_seed) {
    return judge(parse_scenario_node(scenario_root(b, steps, o), kExplored), run_seed, o.strict);
  };
  // The runs go to o.jobs worker processes, each run single-threaded and
  // deterministic as ever; verdicts come back in run order and the search
  // stops at the first failure in that order, so what is said and found is
  // what one process says and finds (D189).
  std::vector<SweepItem> items;
  for (int i = 0; i < o.runs; ++i) items.push_back(SweepItem{0, static_cast<std::uint64_t>(i)});
  std::optional<std::pair<std::size_t, Verdict>> found;
  WorkerCallbacks cb;
  cb.run = [&](const SweepItem& item) {
    return record_of_verdict(verdict(steps_of(schedule_of(item.seed)), o.seed + item.seed));
  };
  cb.stop = [&found] { return found.has_value(); };
  cb.on_record = [&](std::size_t i, RunRecord&& r) {
    if (found) return;  // runs past the first failure were already under way: not counted
    const Verdict v = verdict_of_record(r);
    result.runs_done = static_cast<int>(i) + 1;
    if (!v.unjudged.empty() && result.runs_unjudged++ == 0)
      result.first_unjudged = "run " + std::to_string(i + 1) + ": " + v.unjudged;
    if ((i + 1) % 10 == 0 || i + 1 == items.size())
      say("explore: " + std::to_string(i + 1) + "/" + std::to_string(o.runs) + " runs, " +
          (v.failed ? "1 failure" : "0 failures"));
    if (v.failed) found.emplace(i, v);
  };
  if (auto error = run_items({b.scenario}, items, o.jobs, cb); !error.empty()) {
    result.error = "explore: " + error;
    return result;
  }
  if (found) {
    const auto [i, v] = *found;
    const std::uint64_t run_seed = o.seed + i;
    auto schedule = schedule_of(i);
    std::vector<ExploreStep> steps = steps_of(schedule);
    ExploreFailure f;
    f.rule = v.rule;
    f.detail = v.detail;
    f.run_seed = run_seed;
    f.found_at_run = static_cast<int>(i) + 1;
    f.steps_found = steps.size();
    say("explore: run " + std::to_string(i + 1) + " fails " + v.rule + " with " +
        std::to_string(steps.size()) + " steps; shrinking");
    const auto fails_same = [&](const std::vector<ExploreStep>& candidate) {
      ++f.shrink_runs;
      const Verdict c = verdict(candidate, run_seed);
      return c.failed && c.rule == f.rule;
    };
    // 1. RapidCheck's shrinks of the generated schedule: take the first
    //    that still fails the same rule, and shrink that, until none does.
    if (schedule) {
      bool shrunk = true;
      while (shrunk && f.shrink_runs < o.max_shrink_runs) {
        shrunk = false;
        auto shrinks = schedule->shrinks();
        while (auto next = shrinks.next()) {
          if (f.shrink_runs >= o.max_shrink_runs) break;
          if (fails_same(next->value())) {
            schedule = *next;
            shrunk = true;
            break;
          }
        }
        if (shrunk && f.shrink_runs % 10 == 0)
          say("shrink: " + std::to_string(f.shrink_runs) + " runs, " +
              std::to_string(schedule->value().size()) + " steps left");
      }
      steps = schedule->value();
    }
    // 2. Delta debugging, one step at a time: drop any step the failure
    //    does not need.
    for (std::size_t k = steps.size(); k-- > 0 && f.shrink_runs < o.max_shrink_runs;) {
      auto without = steps;
      without.erase(without.begin() + static_cast<std::ptrdiff_t>(k));
      if (fails_same(without)) steps = std::move(without);
    }
    f.steps_shrunk = steps.size();
    say("shrink: done after " + std::to_string(f.shrink_runs) + " runs: " +
        std::to_string(f.steps_shrunk) + " of " + std::to_string(f.steps_found) + " steps left");
    // A SHOULD rule (--strict) fails `syncsim run` only when the scenario
    // says it must be absent.
    const bool should_rule = o.strict && protocol::find_rule(f.rule) &&
                             protocol::find_rule(f.rule)->level != protocol::Level::Must;
    f.yaml = scenario_text(b, steps, o, header_of(o, f, "FILE"), should_rule ? f.rule : "");
    const Verdict again =
        judge(parse_scenario(scenario_text(b, steps, o, ""), kExplored), run_seed, o.strict);
    if (!again.failed || again.rule != f.rule)
      f.detail += " (run again from the written scenario, it gave " +
                  (again.failed ? again.rule : std::string("no failure")) + ")";
    result.failure = std::move(f);
  }
  return result;
}

}  // namespace syncsim::conformance
