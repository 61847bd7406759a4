#include "conformance/runner/vocabulary.hpp"

#include <array>
#include <set>

namespace syncsim::conformance {

namespace {

using enum StepKind;
using enum LiveMode;

// In StepKind order (checked below and by a test).
constexpr std::array kSteps{
    StepSpec{Partition, "partition", 2, false, false, Proxy, "",
             "blocks both directions (byte streams wait, as TCP does)"},
    StepSpec{PartitionOneWay, "partition-one-way", 2, false, false, Proxy, "",
             "blocks a -> b only"},
    StepSpec{Heal, "heal", 2, false, false, Proxy, "", "unblocks both directions"},
    StepSpec{Clog, "clog", 2, false, false, Proxy, "", "a -> b stalls for `for_s`"},
    StepSpec{Reset, "reset", 1, false, false, Proxy, "", "resets every open connection of a"},
    StepSpec{Restart, "restart", 1, false, false, Hook, "restart_server",
             "crashes a and boots it again, disk kept"},
    StepSpec{Crash, "crash", 1, false, false, Hook, "crash_server", "crashes a for good"},
    StepSpec{ClockJump, "clock-jump", 1, false, false, Hook, "clock_jump_server",
             "steps a's system clock by `delta_ms`"},
    StepSpec{Drift, "drift", 1, false, false, SimulatorOnly, "",
             "changes a's clock drift to `ppm`"},
    StepSpec{Link, "link", 0, false, false, Proxy, "", "changes a link direction"},
    StepSpec{Purge, "purge", 0, false, true, Hook, "purge",
             "admin purge of `collection` (tenant 0)"},
    StepSpec{ServerWrite, "server-write", 0, false, true, Hook, "server_write",
             "writes made on the server (fan out as ShapeDeltas)"},
    StepSpec{Definition, "definition", 0, false, false, Hook, "define",
             "the server changes a definition (DEF-4)"},
    StepSpec{Write, "write", 0, true, false, ReferenceClient, "",
             "the client's application writes"},
    StepSpec{Presence, "presence", 0, true, false, ReferenceClient, "",
             "the client joins/updates presence on `channel`"},
    StepSpec{Samples, "samples", 0, true, true, ReferenceClient, "",
             "timeseries samples, pushed on the TS-1 schedule"},
    StepSpec{ApplyRate, "apply-rate", 0, true, false, ReferenceClient, "",
             "changes how fast the client applies data frames (0 = at once)"},
    StepSpec{CorruptState, "corrupt-state", 0, true, false, ReferenceClient, "",
             "the client's store is found corrupt: a full resync next (RESYNC-5)"},
    StepSpec{Resubscribe, "resubscribe", 0, true, false, ReferenceClient, "",
             "subscribes its shapes again on the same connection (SHAPE-5)"},
    StepSpec{Unsubscribe, "unsubscribe", 0, true, true, ReferenceClient, "",
             "ends its subscriptions to `collection`, for good (ShapeUnsubscribe, SHAPE-6)"},
};

// Each table lists its enum in order, so an entry is found by its value.
template <class Table>
constexpr bool in_order(const Table& table) {
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (static_cast<std::size_t>(table[i].kind) != i) return false;
  }
  return true;
}
static_assert(in_order(kSteps), "kSteps must list StepKind in order");
static_assert(kSteps.size() == static_cast<std::size_t>(Unsubscribe) + 1,
              "a StepKind has no entry");

constexpr std::array kConditions{
    ConditionSpec{WaitCondition::Connected, "connected", "the client is in session"},
    ConditionSpec{WaitCondition::Throttled, "throttled", "the client has asked to be throttled"},
    ConditionSpec{WaitCondition::Unthrottled, "unthrottled",
                  "the client was throttled and has released it"},
    ConditionSpec{WaitCondition::Resynced, "resynced", "the client's resync count rose"},
    ConditionSpec{WaitCondition::Purged, "purged", "the client's purge count rose"},
    ConditionSpec{WaitCondition::Refreshed, "refreshed", "the client's token refresh count rose"},
};
static_assert(kConditions.size() == static_cast<std::size_t>(WaitCondition::Refreshed) + 1);
static_assert(in_order(kConditions), "kConditions must list WaitCondition in order");

constexpr std::array kStats{
    StatSpec{ClientStat::Acked, "acked", "mutations acknowledged"},
    StatSpec{ClientStat::Rejected, "rejected", "DeltaRejects read"},
    StatSpec{ClientStat::Resyncs, "resyncs", "ResyncRequests sent"},
    StatSpec{ClientStat::Throttles, "throttles", "Throttle{true} sent"},
    StatSpec{ClientStat::Reconnects, "reconnects", "connections after the first"},
    StatSpec{ClientStat::Purges, "purges", "CollectionPurged processed"},
    StatSpec{ClientStat::Refreshes, "refreshes", "successful token refreshes"},
    StatSpec{ClientStat::Reauths, "reauths", "handshakes again after a failed refresh"},
    StatSpec{ClientStat::Pending, "pending", "mutations not yet acknowledged, at the end"},
    StatSpec{ClientStat::Backlog, "backlog", "data frames read and not yet applied, at the end"},
    StatSpec{ClientStat::Refused, "refused", "writes the client refused (FLOW-4)"},
    StatSpec{ClientStat::Peers, "peers", "presence peers the client knows, at the end"},
};
static_assert(kStats.size() == static_cast<std::size_t>(ClientStat::Peers) + 1);
static_assert(in_order(kStats), "kStats must list ClientStat in order");

// Sorted, like every other "expected one of" list of the parser.
template <class Spec>
std::string names_of(std::span<const Spec> specs) {
  std::set<std::string_view> sorted;
  for (const auto& s : specs) sorted.insert(s.name);
  std::string out;
  for (const auto n : sorted) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

}  // namespace

std::span<const StepSpec> steps() { return kSteps; }
const StepSpec& step(StepKind kind) { return kSteps[static_cast<std::size_t>(kind)]; }
const StepSpec* find_step(std::string_view name) {
  for (const auto& s : kSteps) {
    if (s.name == name) return &s;
  }
  return nullptr;
}
std::string step_names() { return names_of(steps()); }

std::span<const ConditionSpec> conditions() { return kConditions; }
std::optional<WaitCondition> find_condition(std::string_view name) {
  for (const auto& c : kConditions) {
    if (c.name == name) return c.kind;
  }
  return std::nullopt;
}
std::string condition_names() { return names_of(conditions()); }
std::string_view condition_name(WaitCondition c) {
  return kConditions[static_cast<std::size_t>(c)].name;
}

std::span<const StatSpec> client_stats() { return kStats; }
std::optional<ClientStat> find_stat(std::string_view name) {
  for (const auto& s : kStats) {
    if (s.name == name) return s.kind;
  }
  return std::nullopt;
}
std::string stat_names() { return names_of(client_stats()); }
std::string_view stat_name(ClientStat s) { return kStats[static_cast<std::size_t>(s)].name; }

}  // namespace syncsim::conformance
