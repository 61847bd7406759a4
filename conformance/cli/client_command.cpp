// `syncsim client`: the reference client on a real connection, to try a
// server by hand or to be the client `check --client --exec` starts. Every
// frame it writes and reads is judged by the checker as it happens.
#include <fmt/core.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "conformance/cli/commands.hpp"
#include "conformance/cli/live_loop.hpp"
#include "conformance/live/live_client.hpp"
#include "protocol/base64url.hpp"
#include "protocol/json.hpp"
#include "reference/jwt.hpp"

namespace syncsim::cli {

namespace {

struct ClientOptions {
  std::string connect;
  std::vector<std::string> shapes;
  int writes = 0;
  std::string collection;
  std::int64_t write_every_ms = 100;
  std::uint64_t apply_rate = 0;
  std::string token, jwt_secret;
  std::uint32_t tenant = 0;
  double ping_interval_s = 30;
  std::int64_t push_tick_ms = 100, refresh_tick_ms = 0;
  double duration_s = 0;
  std::string trace_file;
  bool verbose = false, must_only = false;
  std::vector<std::string> bugs;
  std::uint64_t seed = 0;
  bool driver = false;  // read the driver contract on stdin (D150)
};

// `client --driver`: stdin is read on a thread of its own (a pipe, a file
// or a terminal alike), bounded lines, each handed to the io_context.
struct DriverInput {
  std::mutex m;
  boost::asio::io_context* ioc = nullptr;                   // null once the client has finished
  std::function<void(std::optional<std::string>)> on_line;  // nullopt: end of input

  // Plain read(2), no stdio: a thread blocked in it must not hold a lock
  // that the exit path wants.
  static void start(const std::shared_ptr<DriverInput>& in) {
    std::thread([in] {
      std::string line;
      bool skipping = false;  // the rest of an over-long line
      char buf[4096];
      for (;;) {
        const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n <= 0) {
          if (n < 0 && errno == EINTR) continue;
          if (!line.empty() && !skipping) hand(in, line);  // a last line without its newline
          hand(in, std::nullopt);
          return;
        }
        for (ssize_t i = 0; i < n; ++i) {
          if (buf[i] == '\n') {
            if (!skipping && !hand(in, line)) return;
            line.clear();
            skipping = false;
          } else if (!skipping) {
            line += buf[i];
            if (line.size() > conformance::kDriverMaxLine) {  // reported, then skipped
              if (!hand(in, line)) return;
              line.clear();
              skipping = true;
            }
          }
        }
      }
    }).detach();
  }
  static bool hand(const std::shared_ptr<DriverInput>& in, std::optional<std::string> line) {
    std::lock_guard lock(in->m);
    if (!in->ioc) return false;
    boost::asio::post(*in->ioc, [in, line = std::move(line)] { in->on_line(line); });
    return true;
  }
};

int client(const ClientOptions& o) {
  const auto parsed = conformance::parse_endpoint(o.connect);
  if (!parsed.endpoint) {
    fmt::print(stderr, "syncsim client: --connect {}\n", parsed.error);
    return kExitInvalid;
  }
  std::ofstream trace;
  if (!o.trace_file.empty()) {
    trace.open(o.trace_file, std::ios::binary);
    if (!trace) {
      fmt::print(stderr, "syncsim client: {}: cannot write\n", o.trace_file);
      return kExitInvalid;
    }
  }
  conformance::LiveClient::Options options;
  options.connect = *parsed.endpoint;
  // The seed makes the lite_id (HS-10): two clients must not share one. A
  // live run is not reproducible anyway, so by default it comes from the
  // clock and the process id.
  options.seed = o.seed != 0 ? o.seed
                             : static_cast<std::uint64_t>(
                                   std::chrono::steady_clock::now().time_since_epoch().count()) ^
                                   (static_cast<std::uint64_t>(getpid()) << 32);
  auto& cfg = options.config;
  std::vector<std::string> shapes = o.shapes;
  if (o.driver && shapes.empty()) {  // the scenario's shapes, as run --client-exec sets them
    const char* env = std::getenv("SYNCSIM_SHAPES");
    for (std::string rest = env ? env : ""; !rest.empty();) {
      const auto comma = rest.find(',');
      if (comma != 0) shapes.push_back(rest.substr(0, comma));
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
  }
  for (const auto& coll : shapes) {
    protocol::ShapeDefinition shape;
    shape.shape_id = coll + "-all";
    shape.tenant_id = o.tenant;
    shape.shape_type = protocol::shape_type::Document{coll, {}};
    cfg.shapes.push_back(shape);
  }
  for (const auto& b : o.bugs) {
    const auto bug = reference::client_bug_from_name(b);
    if (!bug) {
      std::string names;
      for (const auto n : reference::client_bug_names()) names += " " + std::string(n);
      fmt::print(stderr, "syncsim client: unknown --bug \"{}\" (one of:{})\n", b, names);
      return kExitInvalid;
    }
    cfg.bugs.insert(*bug);
  }
  cfg.token = o.token;
  // TOKEN-5: the lifetime the token claims, so it is refreshed at 80 % of it.
  if (const auto claims = protocol::peek_token_claims(o.token); claims && claims->exp > 0) {
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    if (claims->exp > now_s) cfg.token_lifetime_s = claims->exp - now_s;
  }
  if (!o.jwt_secret.empty()) {
    // A token source: fresh hour-long tokens under the given key (TOKEN-6, TOKEN-10).
    cfg.new_token = [secret = o.jwt_secret, tenant = o.tenant]() -> std::optional<std::string> {
      reference::JwtClaims claims;
      claims.sub = "syncsim-client";
      claims.tenant_id = tenant;
      claims.user_id = 1;
      claims.exp = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() +
                   3600;
      return reference::mint_hs256(claims, secret);
    };
  }
  cfg.apply_rate_per_s = o.apply_rate;
  cfg.ping_interval_ms = static_cast<std::int64_t>(o.ping_interval_s * 1000);
  cfg.push_tick_ms = o.push_tick_ms;
  cfg.refresh_tick_ms = o.refresh_tick_ms;
  options.writes = o.writes;
  options.collection =
      !o.collection.empty() ? o.collection : (o.shapes.empty() ? "orders" : o.shapes.front());
  options.write_every_ms = o.write_every_ms;
  if (trace.is_open()) options.trace = &trace;
  options.on_finding = [&o](const conformance::CheckFinding& f) {
    if (o.must_only && f.finding.level != protocol::Level::Must) return;
    fmt::print("{}\n", conformance::format_check_finding(f));
    std::fflush(stdout);
  };
  if (o.verbose) {
    options.on_frame = [](const protocol::Message& m, bool from_client) {
      fmt::print("{} {}\n", from_client ? "->" : "<-",
                 protocol::dump_json(protocol::message_to_json(m)));
      std::fflush(stdout);
    };
  }
  boost::asio::io_context ioc;
  conformance::LiveClient live(ioc, options);
  fmt::print(
      "syncsim client: the reference client connects to {} ({} shape(s), {} write(s), seed {}{})\n",
      options.connect.text(), shapes.size(), o.writes, options.seed,
      o.token.empty() ? ", trust mode: empty token" : "");
  std::fflush(stdout);
  live.start();
  // The driver contract: "hello 1" first, then commands until quit or the end of stdin.
  auto input = std::make_shared<DriverInput>();
  std::uint64_t line_no = 0;
  bool driver_error = false;
  if (o.driver) {
    input->ioc = &ioc;
    const auto end = [&] {
      live.stop();
      ioc.stop();
    };
    input->on_line = [&, end](std::optional<std::string> line) {
      if (driver_error) return;
      if (!line) {
        fmt::print(stderr, "syncsim client: driver: end of stdin, stopping\n");
        return end();
      }
      ++line_no;
      auto read = conformance::parse_driver_line(*line);
      if (read.command && (line_no == 1) != (read.command->verb == conformance::DriverVerb::Hello))
        read = {std::nullopt, line_no == 1 ? "the first line must be \"hello 1\""
                                           : "hello again after the first line"};
      if (!read.command) {
        fmt::print(stderr, "syncsim client: driver: stdin line {}: {}\n", line_no, read.error);
        driver_error = true;
        return end();
      }
      if (read.command->verb == conformance::DriverVerb::Quit) return end();
      live.drive(*read.command);
    };
    DriverInput::start(input);
  }
  run_until_stopped(ioc, o.duration_s, [&] { live.stop(); });
  {
    std::lock_guard lock(input->m);
    input->ioc = nullptr;
  }
  live.finish();
  const auto& checker = live.checker();
  const auto& stats = live.core().stats();
  fmt::print(
      "syncsim client: {} write(s), {} acked, {} rejected, {} reconnect(s); {} frames judged, "
      "{} MUST findings, {} in all\n",
      live.writes_done(), stats.acked, stats.rejected, stats.reconnects, checker.frames(),
      checker.must_count(), checker.findings().size());
  fmt::print("  {}\n", live.tap_tolerance_text());  // D118
  if (driver_error) return kExitInvalid;
  return checker.must_count() > 0 ? kExitFindings : kExitOk;
}

}  // namespace

Runner add_client_command(CLI::App& app) {
  auto o = std::make_shared<ClientOptions>();
  auto* cmd = app.add_subcommand(
      "client",
      "Run the reference client against a server on a real port: yours, to try\n"
      "it by hand, or syncsim's own (`check --client --exec` starts it for each\n"
      "case). It subscribes to the given collections, writes, reconnects with\n"
      "backoff, and every frame is judged by the checker as it happens.\n\n"
      "Examples:\n"
      "  syncsim client --connect tcp://127.0.0.1:9091 --shape orders --writes 20 -v\n"
      "  syncsim client --connect ws://127.0.0.1:9090/sync --token \"$JWT\" --duration 30\n"
      "  syncsim check --client --listen tcp://127.0.0.1:0 --exec \\\n"
      "    'syncsim client --connect \"$SYNCSIM_TARGET\" --shape orders --writes 3 \\\n"
      "     --apply-rate 200 --token \"$SYNCSIM_TOKEN\" --jwt-secret \"$SYNCSIM_JWT_SECRET\"'\n\n"
      "Exit (after Ctrl-C, SIGTERM or --duration): 0 no MUST finding, 1 MUST\n"
      "findings, 2 bad options.");
  cmd->add_option("--connect", o->connect, "tcp://HOST:PORT or ws://HOST:PORT/PATH")->required();
  cmd->add_option("--shape", o->shapes, "subscribe to this collection (repeatable)");
  cmd->add_option("--writes", o->writes, "write this many documents, one per --write-every-ms")
      ->check(CLI::Range(0, 10'000'000));
  cmd->add_option("--collection", o->collection, "where writes go (default: the first --shape)");
  cmd->add_option("--write-every-ms", o->write_every_ms, "time between writes")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  cmd->add_option("--apply-rate", o->apply_rate,
                  "apply at most this many data frames per second (0: at once); a slow\n"
                  "applier builds a backlog and throttles (THROTTLE-2)");
  cmd->add_option("--token", o->token, "JWT for the Handshake (default: empty, trust mode)");
  cmd->add_option("--jwt-secret", o->jwt_secret,
                  "HS256 key to mint refreshed tokens with (a token source for TOKEN-6/10)");
  cmd->add_option("--tenant", o->tenant, "tenant_id of shapes and minted tokens");
  cmd->add_option("--ping-interval", o->ping_interval_s, "seconds between Pings (PING-1)")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  cmd->add_option("--push-tick-ms", o->push_tick_ms, "ms between push ticks (FLOW-2; Lite: 100)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{60'000}));
  cmd->add_option("--refresh-tick-ms", o->refresh_tick_ms,
                  "check every N ms whether 80 % of the token's lifetime passed (TOKEN-5); "
                  "0: wake at that instant")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{60'000}));
  cmd->add_option("--duration", o->duration_s, "stop after this many seconds (default: Ctrl-C)")
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--trace", o->trace_file,
                  "record every frame written and read as JSON lines (check-trace reads them)");
  cmd->add_flag("-v,--verbose", o->verbose, "print every frame");
  cmd->add_flag("--must-only", o->must_only, "print MUST findings only");
  cmd->add_option("--seed", o->seed, "seed of the client's PRNG (lite_id); default: clock and pid");
  cmd->add_flag("--driver", o->driver,
                "take commands on stdin (docs/live.md, \"Drive your client: the stdin\n"
                "contract\"): `run --client-exec` drives it; without --shape, the shapes\n"
                "are $SYNCSIM_SHAPES; quit or the end of stdin stops it");
  cmd->add_option("--bug", o->bugs,
                  "break the reference client on purpose (the harness's own tests; names as\n"
                  "in scenarios: NeverThrottle, NoResyncOnGap, WrongChecksum, ...)");
  return [o] { return client(*o); };
}

}  // namespace syncsim::cli
