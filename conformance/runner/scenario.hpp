// A scenario: a YAML file that sets up the reference pair in the simulator,
// schedules faults, and states what must hold (docs/scenarios.md). Parsing is
// strict: unknown keys and wrong types are errors naming file:line:column.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace syncsim::conformance {

struct ScenarioClient {
  std::string name;
  int writes = 0;                   // documents written at random times in the write window
  std::vector<std::string> shapes;  // collections subscribed (Document shapes)
  std::vector<std::string> bugs;    // reference ClientBug names
  std::int64_t clock_offset_ms = 0;
  std::int32_t drift_ppm = 0;
};

struct ScenarioEvent {
  double at_s = 0;
  std::string
      action;  // partition, partition-one-way, heal, reset, restart, crash, purge, clock-jump
  std::vector<std::string> nodes;
  std::string collection;     // purge
  std::int64_t delta_ms = 0;  // clock-jump
};

struct ScenarioExpect {
  bool converged = true;
  std::optional<int> max_must_findings = 0;  // nullopt: not checked
  std::vector<std::string> flagged;          // rule IDs that must be found (MUST level)
};

struct Scenario {
  std::string file;
  std::string name, description;
  std::vector<std::string> rules;
  double duration_s = 60;
  double write_from_s = 2, write_until_s = 20;
  // network
  double latency_ms = 5, jitter_ms = 0;
  std::uint32_t segment_loss_ppm = 0;
  std::vector<ScenarioClient> clients;
  std::vector<std::string> server_bugs;  // reference ServerBug names
  std::vector<ScenarioEvent> events;
  ScenarioExpect expect;
};

struct ScenarioLoad {
  std::optional<Scenario> scenario;
  std::string error;  // "file:line:col: what was expected"
};

ScenarioLoad load_scenario(const std::string& path);
ScenarioLoad parse_scenario(const std::string& text, const std::string& file);

}  // namespace syncsim::conformance
