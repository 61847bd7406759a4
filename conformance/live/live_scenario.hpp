// A YAML scenario run against a real server (`syncsim run --server URL`,
// issue 16), or against a real client (`run --client-exec CMD`, D151). Each scenario client is a
// reference client on a real socket, connected through its own in-process proxy, which applies the
// scenario's network (latency, jitter, frame faults) and its link, partition, clog and reset steps
// live; client steps go to the reference clients. The timeline runs in real time, times the time
// scale. Every frame is judged by the proxies' checkers, and the scenario's `expect:` is judged as
// in the simulator, except that convergence compares the clients' views with each other (the
// server's store cannot be read). What a live run cannot do (an operator hook, a server option, a
// simulator-only fault) makes the scenario UNSUPPORTED, with the reason (docs/live.md, D131).
//
// With --client-exec the roles turn round: the scenario's external client
// (those marked `external: true`, else the first) is the user's process,
// started per scenario, connected through its proxy to the reference server
// running inside syncsim on a real socket; its client steps go over the
// driver contract on its stdin (driver_contract.hpp, D150). The other
// clients are reference clients, as with --server; server-side steps act on
// the reference server directly, and convergence reads its store.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "conformance/live/endpoint.hpp"
#include "conformance/live/profiles.hpp"
#include "conformance/runner/runner.hpp"
#include "conformance/runner/scenario.hpp"

namespace syncsim::conformance {

struct LiveScenarioOptions {
  Endpoint server;         // the implementation under test
  std::string jwt_secret;  // its HS256 key, to mint the scenario's tokens
  double time_scale = 1;   // every time of the timeline times this
  std::uint64_t seed = 1;  // the proxies' fault draws and the clients' PRNGs
  double settle_s = 10;    // after the timeline, how long convergence may take
  // Operator hooks (the target file's `hooks:`, D132): hook name -> shell
  // command with {placeholders}; each call is bounded by hook_timeout_s.
  std::map<std::string, std::string> hooks;
  double hook_timeout_s = 10;
  // The target's fixed server settings (D185): a scenario's `server:` option
  // runs only where the target declares the same value.
  std::map<std::string, double> settings;
  // Failures it explains make a run DEVIATION (the target's `profile:`, D144).
  const DeviationProfile* profile = nullptr;
  std::function<void(const std::string&)> on_event;  // -v: steps and proxy events
  // run --client-exec (D151): the shell command starting the client under
  // test for each scenario ("": run --server, against `server`).
  std::string client_exec;
  std::set<std::string> client_driver;  // the driver commands it takes (D150)
  bool show_client_output = false;      // else kept, its tail in the result
  // Set when the client cannot be started at all (the shell's exit 126 or
  // 127 before it connected): the run stops, exit 2, as for an unreachable server.
  std::string* unstartable = nullptr;
};

// The clients a --client-exec run hands to the user's process: those marked
// `external: true`, else the first.
std::set<std::string> external_clients(const Scenario& s);

// Why a TCP connection to `target` cannot be made within 3 s, or "" if it can.
std::string unreachable(boost::asio::io_context& ioc, const Endpoint& target);

// Why `s` cannot run against this target, or "" if it can.
std::string live_unsupported(const Scenario& s, const LiveScenarioOptions& o);

// True when `s` acts on the whole server (restart, crash, clock jump): with
// `run --jobs N` it runs alone, after the scenarios that share the server.
bool live_exclusive(const Scenario& s);

// Runs `s` (live_unsupported(s, o) must be ""); the result's trace_hash is 0
// (a live run is not reproducible) and `virtual_s` is the wall time taken.
ScenarioResult run_live_scenario(boost::asio::io_context& ioc, const Scenario& s,
                                 const LiveScenarioOptions& o);

}  // namespace syncsim::conformance
