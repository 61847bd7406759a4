// A scenario: a YAML file that sets up the reference pair in the simulator,
// schedules faults and workload steps, and states what must hold
// (docs/scenarios.md has the full reference). Parsing is strict: unknown
// keys, wrong types, unknown names and impossible values are errors naming
// file:line:column and what was expected.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conformance/runner/vocabulary.hpp"

namespace YAML {
class Node;
}

namespace syncsim::conformance {

// A scenario's seconds as ns, saturating: 1e18 s (an `until_s` left open)
// stands for "forever".
inline std::int64_t scenario_ns(double seconds) {
  if (seconds >= 9e9) return std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(seconds * 1e9);
}

// Frame-level faults of a lossy relay on one direction of a link.
struct FrameFaultSpec {
  std::uint32_t drop_ppm = 0, duplicate_ppm = 0, reorder_ppm = 0, corrupt_ppm = 0;
  double reorder_window_ms = 10;
  std::vector<std::string> types;            // message names; empty: every type
  std::uint32_t drop_next = 0;               // drop exactly the next N frames of those types
  std::uint32_t inject_unknown_ppm = 0;      // frames of an unknown code slipped in (FRAME-3)
  std::uint32_t inject_undecodable_ppm = 0;  // Pings whose body does not decode (FRAME-10)
};

// Parameters of a link direction; unset fields keep their value.
struct LinkSpec {
  std::string from, to;  // node names; "*" = every node
  std::optional<double> latency_ms, jitter_ms, bandwidth_kbps;
  std::optional<std::uint32_t> segment_loss_ppm, segment_corrupt_ppm;
  std::optional<FrameFaultSpec> frames;
  bool frames_off = false;  // `frames: off`: a byte stream again, as TCP carries it
};

struct TokenSpec {
  std::int64_t expires_in_s = 3600;  // relative to the client's boot, server clock; <0: expired
  std::int64_t lifetime_s = 0;       // what the client believes (TOKEN-5); 0: from the first ack
  std::uint32_t tenant = 0;
  std::string refresh =
      "ok";            // ok | fail (wrong signature) | flaky (bad_tokens bad, then ok) | none
  int bad_tokens = 3;  // flaky: how many bad tokens the source hands out first
  std::int64_t refresh_expires_in_s = 3600;
};

struct ScenarioClient {
  std::string name;
  int writes = 0;                   // documents written at random times in the write window
  std::string collection;           // where writes go; default: the first shape, else "orders"
  int docs = 10;                    // distinct document ids written
  std::vector<std::string> shapes;  // collections subscribed (Document shapes)
  std::vector<std::string> bugs;    // reference ClientBug names
  std::int64_t clock_offset_ms = 0;
  std::int32_t drift_ppm = 0;
  std::optional<TokenSpec> token;  // none: trust mode (empty token)
  std::uint64_t apply_rate = 0;    // data frames applied per second; 0: at once
  std::optional<std::uint64_t> throttle_high, throttle_low;
  std::optional<std::uint64_t> suggested_rate;  // in Throttle{true}; 0 = server default
  std::optional<double> ping_interval_s;
  std::optional<std::int64_t> retransmit_ms;
  std::int64_t backoff_jitter_ms = 0;
  double start_s = 0;                           // boots at this time
  std::optional<double> vclock_interval_s;      // sends VectorClockSync this often
  std::optional<double> timeseries_interval_s;  // TS-6: pushes recorded samples this often
  std::optional<std::uint16_t> wire_version;
  std::optional<std::size_t> pending_limit;  // FLOW-4
  // run --client-exec: this client is the one under test (D151); none
  // marked: the first client is.
  bool external = false;
};

struct ScenarioServer {
  std::vector<std::string> bugs;  // reference ServerBug names
  std::optional<bool> trust_mode;
  std::optional<std::size_t> data_queue_limit;
  std::optional<std::uint64_t> default_throttle_rate;
  std::optional<std::int64_t> rate_per_s, rate_capacity;
  std::optional<double> idle_timeout_s;
  std::optional<std::uint32_t> max_sessions;
  struct Constraint {
    std::string collection, document, reason;
  };
  std::vector<Constraint> constraints;
  std::int64_t clock_offset_ms = 0;
  std::int32_t drift_ppm = 0;
  bool delta_push = false;         // DELTA-17: writes also go out as DeltaPush to subscribers
  bool rate_limit_reject = false;  // RATE-3: reject with a RateLimited hint instead of dropping
  std::optional<std::size_t> presence_max_channels;  // PRES-4
};

// A condition a step can wait for (instead of a fixed time).
struct WaitFor {
  std::string client;
  WaitCondition condition = WaitCondition::Connected;  // vocabulary.hpp
  double timeout_s = 0;                                // 0: until the end of the run
};

struct ScenarioEvent {
  double at_s = 0;               // when; with `after`, the earliest time to start waiting
  std::optional<WaitFor> after;  // run once the condition holds, plus delay_s
  double delay_s = 0;
  double every_s = 0;  // repeat: every this long ...
  int times = 1;       // ... this many times in all
  std::string action;  // the step's name; `kind` says the same (vocabulary.hpp)
  StepKind kind = StepKind::Write;
  std::vector<std::string> nodes;  // partition, heal, reset, restart, crash, clock-jump, clog
  std::string client;              // write, presence, samples, apply-rate, corrupt-state
  std::string collection;          // purge, write, server-write, samples
  std::string document;            // write, server-write; empty: doc-<i>
  std::string channel;             // presence
  std::string name;                // definition
  std::string definition_action = "put";  // definition: put, delete, or anything (DEF-3)
  int count = 1;                          // write, server-write, samples
  int size = 3;                           // write, server-write: bytes per value
  std::int64_t delta_ms = 0;              // clock-jump
  std::int32_t ppm = 0;                   // drift
  std::uint64_t rate = 0;                 // apply-rate
  double for_s = 0;                       // clog
  std::optional<LinkSpec> link;           // link
};

// "client a writes at least one ResyncRequest with reason SequenceGap
// between 10 s and 12 s" -- counted over every connection of the client.
struct FrameExpectation {
  std::string rule;    // cited when it fails
  std::string client;  // whose connections
  bool from_client = true;
  std::string type;                          // message name, e.g. ResyncRequest, Pong
  std::map<std::string, std::string> where;  // dotted JSON-model path -> scalar text
  std::optional<std::uint64_t> at_least, at_most;
  double from_s = 0, until_s = 1e18;
  std::optional<double> max_per_s;  // rate: no 1-second window holds more
};

struct StatExpectation {
  std::string rule;
  std::string client;
  ClientStat stat = ClientStat::Acked;  // vocabulary.hpp
  std::optional<std::uint64_t> at_least, at_most;
};

struct ScenarioExpect {
  bool converged = true;
  std::string converged_rule = "CONVERGENCE";  // cited when views differ at the end
  std::optional<int> max_must_findings = 0;    // nullopt: not checked
  // Rule IDs that must be found, by the checker (any level) or by a failed
  // expectation citing them; failures citing them are then expected.
  std::vector<std::string> flagged;
  std::vector<std::string> absent;  // rule IDs that must not be found (any level)
  std::vector<FrameExpectation> frames;
  std::vector<StatExpectation> stats;
};

struct Scenario {
  std::string file;
  std::string name, description;
  std::vector<std::string> rules;
  double duration_s = 60;
  std::uint64_t max_events = 50'000'000;
  double write_from_s = 2, write_until_s = 20;
  // network defaults
  double latency_ms = 5, jitter_ms = 0;
  std::uint32_t segment_loss_ppm = 0;
  std::vector<LinkSpec> links;
  std::vector<ScenarioClient> clients;
  ScenarioServer server;
  std::vector<ScenarioEvent> events;
  ScenarioExpect expect;
  // The `live:` block (D133): present, the scenario is in the live subset
  // and `live_variant` is it with the block's keys in place of the top-level
  // ones (a shorter timeline, say); `simulator_only` says why it never runs
  // live. Neither: it runs live only with `run --live-all`, as it is.
  std::shared_ptr<const Scenario> live_variant;
  std::string simulator_only;
  // The suffix namespaced() gave its names: the run's own, also mixed into
  // its live clients' identities (lite_id, peer_id), which a server keeps
  // across sessions (HS-9 forks, DELTA-6 dedup) and so across runs (D182).
  std::string live_tag;
};

// What a live run runs: the scenario's live variant, or the scenario.
inline const Scenario& live_form(const Scenario& s) { return s.live_variant ? *s.live_variant : s; }

// `s` with every collection, presence channel and definition name it uses
// suffixed "_<tag>" (in clients, steps and the `where:` of expectations), so
// scenarios run one after another on one live server never meet each other's
// data, purges or definitions (D135).
Scenario namespaced(const Scenario& s, const std::string& tag);

struct ScenarioLoad {
  std::optional<Scenario> scenario;
  std::string error;  // "file:line:col: what was expected"
};

ScenarioLoad load_scenario(const std::string& path);
ScenarioLoad parse_scenario(const std::string& text, const std::string& file);
// A scenario built as a YAML node (explore's generated runs): read as
// parse_scenario reads the node it loads, without writing and loading text.
ScenarioLoad parse_scenario_node(const YAML::Node& root, const std::string& file);

// The .yaml files named by `paths` (files, or directories read one level
// deep), sorted; on a missing path, `error` says which.
std::vector<std::string> scenario_files(const std::vector<std::string>& paths, std::string& error);

// Every rule ID a scenario names: its `rules`, and those its expectations cite.
std::vector<std::string> rules_named(const Scenario& s);

}  // namespace syncsim::conformance
