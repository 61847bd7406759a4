// The simulated world: nodes with their own clocks and io_contexts, the
// network between them, faults, crashes and restarts, all driven by one
// EventLoop over virtual time and one seed.
//
// Asio integration (see ../shared/notes/libraries.md, design B): each node
// boot has its own io_context, used only as an executor for completions.
// Simulated sockets and timers keep their state in the simulator; when an
// operation completes they post its handler to the node's io_context and the
// world polls that io_context right after the event. Simulator-internal
// events (segment arrival, faults, clock jumps) never touch Asio.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sim/detail/completion.hpp"
#include "sim/event_loop.hpp"
#include "sim/fail_plan.hpp"
#include "sim/link.hpp"
#include "sim/node_clock.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"

namespace syncsim::sim {

class World;
class Host;

using NodeId = std::uint32_t;

struct Address {
  std::string node;
  std::uint16_t port = 0;
  bool operator==(const Address&) const = default;
};

// A node's persistent storage: survives a crash unless the restart wipes it.
using Disk = std::map<std::string, std::string>;

// What runs on a node: called at each boot, returns the process object the
// world keeps alive until the node crashes.
using BootFn = std::function<std::shared_ptr<void>(Host&)>;

struct WorldOptions {
  std::uint64_t seed = 1;
  std::uint64_t max_events = 50'000'000;             // event budget of one run() call
  std::uint64_t max_events_per_instant = 1'000'000;  // more at one instant = stalled (livelock)
  Duration connect_timeout = 3 * kSecond;            // SYN into a partition
  std::uint32_t accept_backlog = 128;
  std::int64_t unix_epoch_ms = 1'750'000'000'000;  // system clock reading 0 as Unix ms
  std::ostream* trace_out = nullptr;               // JSON lines; nullptr = hash only
  // Called when the frame relay flips a bit of a frame, with the frame's
  // bytes before and after: a harness can then tell a corruption a check will
  // catch from one nothing can.
  std::function<void(const std::vector<std::uint8_t>& before,
                     const std::vector<std::uint8_t>& after)>
      on_frame_corrupted;
  // Called when the frame relay drops a frame (a drop fault, or a partition
  // of a relayed direction), with its bytes.
  std::function<void(const std::vector<std::uint8_t>& frame)> on_frame_dropped;
};

enum class StopReason { Quiescent, TimeReached, PredicateMet, BudgetExhausted, Stalled, Deadlock };
std::string_view stop_reason_name(StopReason r);

struct RunResult {
  StopReason reason = StopReason::Quiescent;
  Time now = 0;
  std::uint64_t events = 0;              // run by this call
  std::vector<std::string> pending_ops;  // I/O still waiting, when it stopped short of its goal
};

// The view a process has of its node.
class Host {
 public:
  World& world() { return *world_; }
  NodeId id() const { return id_; }
  const std::string& name() const;
  boost::asio::io_context& io_context() { return *life_->ioc; }
  boost::asio::io_context::executor_type get_executor() { return life_->ioc->get_executor(); }
  Time steady_now() const;             // ns, monotonic, drifts
  Time system_now() const;             // ns, skewed, jumps
  std::int64_t system_now_ms() const;  // Unix milliseconds by this node's clock
  Prng& rng(std::string_view label);   // per-node sub-stream, stable across boots
  Disk& disk();
  std::uint64_t boot() const { return life_->boot; }
  const detail::LifeRef& life() const { return life_; }

 private:
  friend class World;
  World* world_ = nullptr;
  NodeId id_ = 0;
  detail::LifeRef life_;
};

class World {
 public:
  explicit World(WorldOptions options = {});
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // ---- nodes -----------------------------------------------------------------
  // Names are [A-Za-z0-9._-]+ and unique. The node boots at the current time.
  NodeId add_node(const std::string& name, BootFn boot, ClockParams clock = {});
  std::optional<NodeId> find_node(std::string_view name) const;
  std::size_t node_count() const;
  Host& host(NodeId id);
  NodeClock& clock(NodeId id);
  bool is_up(NodeId id) const;
  // Kills the node's process: handlers never run again, its connections'
  // peers see end of stream after one-way latency, its listeners close.
  void crash(NodeId id);
  // Boots the node again (its disk kept, or wiped first).
  void restart(NodeId id, bool wipe_disk);
  void clock_jump(NodeId id, Duration delta);
  void set_drift(NodeId id, std::int32_t ppm);

  // ---- network ---------------------------------------------------------------
  LinkParams& link(NodeId from, NodeId to);  // one direction; created from defaults
  LinkParams& default_link() { return default_link_; }
  void partition(NodeId a, NodeId b, bool one_way = false);  // one_way: only a -> b blocked
  void heal(NodeId a, NodeId b);                             // both directions
  void heal_all();
  bool blocked(NodeId from, NodeId to) const;
  void clog(NodeId from, NodeId to, Duration for_how_long);  // the direction stalls
  bool reset_connection(std::uint64_t conn_id);              // both ends see connection_reset
  // Failure injection by count: socket reads and writes, connects, accepts
  // and timer waits are counted, and the plan's Nth one fails (fail_plan.hpp).
  FailPlan& fail_plan() { return fail_plan_; }
  std::vector<std::uint64_t> connection_ids() const;
  std::vector<std::uint64_t> connection_ids_of(NodeId node) const;  // open ones with an end on node
  // Random partitions between any two nodes: on average one every
  // mean_interval, lasting mean_duration; one_way with probability one_way.
  void random_partitions(Duration mean_interval, Duration mean_duration, Ratio one_way, Time until);

  // ---- time and running ------------------------------------------------------
  EventLoop& loop() { return loop_; }
  Time now() const { return loop_.now(); }
  EventId at(Time t, Task fn) { return loop_.at(t, std::move(fn)); }
  EventId after(Duration d, Task fn) { return loop_.after(d, std::move(fn)); }

  RunResult run();                                         // until nothing is pending
  RunResult run_until(Time t);                             // the clock ends at t
  RunResult run_until(const std::function<bool()>& done);  // Deadlock if it cannot happen

  // ---- observation -----------------------------------------------------------
  Trace& trace() { return trace_; }
  const WorldOptions& options() const { return options_; }
  std::uint64_t seed() const { return options_.seed; }
  // Human-readable description of every derived option, printed at the start of a run.
  std::string describe() const;

  // ---- internal: used by the simulated I/O objects ----------------------------
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  friend class Host;
  friend void detail::mark_ready(const detail::NodeLife& life);
  RunResult run_loop(Time until, const std::function<bool()>* done);
  void boot(NodeId id);
  void poll_ready();

  WorldOptions options_;
  EventLoop loop_;
  Trace trace_;
  LinkParams default_link_;
  FailPlan fail_plan_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace syncsim::sim
