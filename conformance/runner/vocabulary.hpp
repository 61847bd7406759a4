// The words of a scenario, each defined once: the steps (`action:`), the
// conditions an `after:` waits for, and the client stats an expectation
// reads. Each table entry carries its name, what it needs from the YAML, how
// a live run performs it, and a line for the docs. The parser, the simulated
// runner (an exhaustive switch: a new kind without an arm does not compile
// with -Werror), `explore`'s YAML writer and the docs test all read it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace syncsim::conformance {

enum class StepKind : std::uint8_t {
  Partition,
  PartitionOneWay,
  Heal,
  Clog,
  Reset,
  Restart,
  Crash,
  ClockJump,
  Drift,
  Link,
  Purge,
  ServerWrite,
  Definition,
  Write,
  Presence,
  Samples,
  ApplyRate,
  CorruptState,
  Resubscribe,
  Unsubscribe,
};

// How a step is done against a real implementation (issue 16): by the
// in-process proxy between client and server, by a reference client, by an
// operator hook of the target file, or not at all.
enum class LiveMode : std::uint8_t { Proxy, ReferenceClient, Hook, SimulatorOnly };

struct StepSpec {
  StepKind kind;
  std::string_view name;  // the YAML `action`
  int nodes;              // how many `nodes` it takes (0, 1 or 2)
  bool needs_client;      // a known `client`
  bool needs_collection;  // a non-empty `collection`
  LiveMode live;          // how a live run does it
  std::string_view hook;  // LiveMode::Hook: the target file's hook it needs
  std::string_view what;  // one line for the docs
};

std::span<const StepSpec> steps();
const StepSpec& step(StepKind kind);
const StepSpec* find_step(std::string_view name);
std::string step_names();  // "a, b, c", for error messages

enum class WaitCondition : std::uint8_t {
  Connected,
  Throttled,
  Unthrottled,
  Resynced,
  Purged,
  Refreshed,
};

struct ConditionSpec {
  WaitCondition kind;
  std::string_view name;
  std::string_view what;
};

std::span<const ConditionSpec> conditions();
std::optional<WaitCondition> find_condition(std::string_view name);
std::string condition_names();
std::string_view condition_name(WaitCondition c);

enum class ClientStat : std::uint8_t {
  Acked,
  Rejected,
  Resyncs,
  Throttles,
  Reconnects,
  Purges,
  Refreshes,
  Reauths,
  Pending,
  Backlog,
  Refused,
  Peers,
};

struct StatSpec {
  ClientStat kind;
  std::string_view name;
  std::string_view what;
};

std::span<const StatSpec> client_stats();
std::optional<ClientStat> find_stat(std::string_view name);
std::string stat_names();
std::string_view stat_name(ClientStat s);

}  // namespace syncsim::conformance
