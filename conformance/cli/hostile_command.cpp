// `syncsim hostile`: the hostile-frame campaign against the reference server
// and client in the simulator (docs/explore.md).
#include <fmt/core.h>

#include <chrono>
#include <memory>

#include "conformance/cli/commands.hpp"
#include "conformance/explore/hostile.hpp"
#include "conformance/live/hostile_live.hpp"

namespace syncsim::cli {

namespace {

struct HostileCliOptions {
  conformance::HostileOptions hostile;
  std::string side = "both";
  std::string target;
  int wait_ms = 300;
};

bool run_side(const char* side, const HostileCliOptions& o) {
  auto options = o.hostile;
  options.progress = [side](const conformance::HostileStats& s) {
    fmt::print("  {}: {} frames, {} sessions ({} answered, {} closed, {} waiting for bytes)\n",
               side, s.frames, s.sessions, s.answered, s.closed, s.stalled);
    std::fflush(stdout);
  };
  const auto t0 = std::chrono::steady_clock::now();
  boost::asio::io_context ioc;
  const auto s = !o.target.empty()
                     ? conformance::hostile_live_server(
                           ioc, *conformance::parse_endpoint(o.target).endpoint, options, o.wait_ms)
                 : std::string(side) == "server" ? conformance::hostile_sim_server(options)
                                                 : conformance::hostile_sim_client(options);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print(
      "{}: {} frames in {} sessions, {:.2f} s ({:.0f} frames/s): {} answered, {} closed by "
      "it, {} waiting for bytes; {}\n",
      side, s.frames, s.sessions, secs, static_cast<double>(s.frames) / std::max(secs, 1e-9),
      s.answered, s.closed, s.stalled,
      s.alive && s.problem.empty() ? "alive and served afterwards" : "PROBLEM: " + s.problem);
  std::string mix;
  for (std::size_t i = 0; i < conformance::kMutationCount; ++i) {
    mix += (mix.empty() ? "" : ", ") +
           std::string(conformance::mutation_name(static_cast<conformance::Mutation>(i))) + " " +
           std::to_string(s.by_mutation[i]);
  }
  fmt::print("  mutations: {}\n", mix);
  return s.alive && s.problem.empty();
}

int hostile(const HostileCliOptions& o) {
  if (!o.target.empty()) {
    const auto parsed = conformance::parse_endpoint(o.target);
    if (!parsed.endpoint) {
      fmt::print(stderr, "syncsim hostile: --target {}\n", parsed.error);
      return kExitInvalid;
    }
    fmt::print(
        "syncsim hostile: {} frames at the server {}, seed {}, {} per connection, {} ms "
        "for each Pong\n",
        o.hostile.frames, parsed.endpoint->text(), o.hostile.seed, o.hostile.frames_per_session,
        o.wait_ms);
    return run_side(parsed.endpoint->text().c_str(), o) ? kExitOk : kExitFindings;
  }
  fmt::print("syncsim hostile: {} frames per side, seed {}, {} per session, side {}\n",
             o.hostile.frames, o.hostile.seed, o.hostile.frames_per_session, o.side);
  bool ok = true;
  if (o.side == "server" || o.side == "both") ok = run_side("server", o) && ok;
  if (o.side == "client" || o.side == "both") ok = run_side("client", o) && ok;
  return ok ? kExitOk : kExitFindings;
}

}  // namespace

Runner add_hostile_command(CLI::App& app) {
  auto o = std::make_shared<HostileCliOptions>();
  auto* cmd = app.add_subcommand(
      "hostile",
      "Feed structure-aware mutations of valid frames (type swaps, huge\n"
      "lengths and counts, deep nesting, wrong tags, truncation, random\n"
      "bodies, unknown codes, splices, bit flips) to the reference server and\n"
      "client in the simulator. Each session of frames ends with a Ping that\n"
      "must be answered, unless the target closed the connection or still\n"
      "waits for the bytes a length declared; afterwards a well-behaved peer\n"
      "must be served and nothing may be left behind.\n\n"
      "Examples:\n"
      "  syncsim hostile --frames 100000 --seed 7\n"
      "  syncsim hostile --side server --frames 10000000    # the long run\n"
      "  syncsim hostile --target tcp://127.0.0.1:9091 --frames 20000   # your server\n\n"
      "Exit: 0 both survived and serve, 1 a target crashed the check, hung\n"
      "or kept state, 2 bad options.");
  cmd->add_option("--frames", o->hostile.frames, "hostile frames per side")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000'000}))
      ->capture_default_str();
  cmd->add_option("--seed", o->hostile.seed, "seed of the mutations")->capture_default_str();
  cmd->add_option("--per-session", o->hostile.frames_per_session, "frames per connection")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  cmd->add_option("--target", o->target,
                  "a server on a real port instead (tcp://HOST:PORT or ws://HOST:PORT/PATH)");
  cmd->add_option("--wait-ms", o->wait_ms, "--target: how long to wait for each Pong")
      ->check(CLI::Range(1, 600'000))
      ->capture_default_str();
  cmd->add_option("--side", o->side, "server, client or both")
      ->check(CLI::IsMember({"server", "client", "both"}))
      ->capture_default_str();
  return [o] { return hostile(*o); };
}

}  // namespace syncsim::cli
