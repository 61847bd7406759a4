// `syncsim serve`: the reference server on a real port, for trying a client
// by hand. Every frame it reads and writes is judged as it happens; findings
// print as they are made, and a summary at the end.
#include <fmt/core.h>

#include <fstream>
#include <memory>

#include "conformance/cli/commands.hpp"
#include "conformance/cli/live_loop.hpp"
#include "conformance/live/admin_port.hpp"
#include "conformance/live/live_server.hpp"
#include "reference/server_core.hpp"

namespace syncsim::cli {

namespace {

struct ServeOptions {
  std::string listen = "tcp://127.0.0.1:9091";
  std::string jwt_secret;
  bool no_trust_mode = false;
  double duration_s = 0;
  double idle_timeout_s = 300;
  std::string trace_file;
  bool must_only = false;
  std::vector<std::string> bugs;
  int admin_port = -1;  // -1: none; 0: any free port
};

int serve(const ServeOptions& o) {
  const auto parsed = conformance::parse_endpoint(o.listen);
  if (!parsed.endpoint) {
    fmt::print(stderr, "syncsim serve: --listen {}\n", parsed.error);
    return kExitInvalid;
  }
  std::ofstream trace;
  if (!o.trace_file.empty()) {
    trace.open(o.trace_file, std::ios::binary);
    if (!trace) {
      fmt::print(stderr, "syncsim serve: {}: cannot write\n", o.trace_file);
      return kExitInvalid;
    }
  }
  boost::asio::io_context ioc;
  conformance::LiveServer::Options options;
  options.listen = *parsed.endpoint;
  options.config.trust_mode = !o.no_trust_mode;
  options.config.idle_timeout_ms = static_cast<std::int64_t>(o.idle_timeout_s * 1000);
  if (!o.jwt_secret.empty()) options.config.jwt.hs256_secret = o.jwt_secret;
  for (const auto& b : o.bugs) {
    const auto bug = reference::server_bug_from_name(b);
    if (!bug) {
      std::string names;
      for (const auto n : reference::server_bug_names()) names += " " + std::string(n);
      fmt::print(stderr, "syncsim serve: unknown --bug \"{}\" (one of:{})\n", b, names);
      return kExitInvalid;
    }
    options.config.bugs.insert(*bug);
  }
  if (trace.is_open()) options.trace = &trace;
  options.on_finding = [&o](const conformance::CheckFinding& f) {
    if (o.must_only && f.finding.level != protocol::Level::Must) return;
    fmt::print("{}\n", conformance::format_check_finding(f));
    if (!f.frame.empty()) fmt::print("    frame:  {}\n", f.frame);
    for (const auto& c : f.context) fmt::print("    before: {}\n", c);
    std::fflush(stdout);
  };
  conformance::LiveServer server(ioc, options);
  boost::system::error_code ec;
  if (!server.start(ec)) {
    fmt::print(stderr, "syncsim serve: cannot listen on {}: {}\n", options.listen.text(),
               ec.message());
    return kExitInvalid;
  }
  conformance::AdminPort admin(ioc, [&server](const std::string& line) {
    const std::string answer = server.admin(line);
    fmt::print("syncsim serve: admin: {} -> {}\n", line, answer);
    std::fflush(stdout);
    return answer;
  });
  if (o.admin_port >= 0 &&
      !admin.start(options.listen.host, static_cast<std::uint16_t>(o.admin_port), ec)) {
    fmt::print(stderr, "syncsim serve: cannot listen for admin commands on port {}: {}\n",
               o.admin_port, ec.message());
    return kExitInvalid;
  }
  auto shown = options.listen;
  shown.port = server.port();
  fmt::print(
      "syncsim serve: the reference server listens on {} (trust mode {}, JWT {}); "
      "Ctrl-C ends it\n",
      shown.text(), options.config.trust_mode ? "on" : "off",
      options.config.jwt.hs256_secret ? "HS256 with the given secret" : "not configured");
  if (o.admin_port >= 0)
    fmt::print("syncsim serve: admin commands on tcp://{}:{} (purge, write, define)\n",
               options.listen.host, admin.port());
  std::fflush(stdout);

  run_until_stopped(ioc, o.duration_s, [&] {
    admin.stop();
    server.stop();
  });
  server.finish();
  const auto& checker = server.checker();
  fmt::print("syncsim serve: {} connection(s), {} frames judged, {} MUST findings, {} in all\n",
             server.connections(), checker.frames(), checker.must_count(),
             checker.findings().size());
  fmt::print("  {}\n", server.tap_tolerance_text());  // D118
  return checker.must_count() > 0 ? kExitFindings : kExitOk;
}

}  // namespace

Runner add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the reference server on a real port, so you can point your client\n"
      "at it by hand. Every frame the server reads and writes is judged by the\n"
      "conformance checker as it happens (your client's frames and the\n"
      "reference server's alike); findings print as they are made.\n\n"
      "Examples:\n"
      "  syncsim serve                                   # tcp://127.0.0.1:9091\n"
      "  syncsim serve --listen ws://127.0.0.1:9090/sync # WebSocket, any path\n"
      "  syncsim serve --jwt-secret s3cret --no-trust-mode --trace t.jsonl\n\n"
      "Exit (after Ctrl-C or --duration): 0 no MUST finding, 1 MUST findings,\n"
      "2 bad options or an address it cannot listen on.");
  cmd->add_option("--listen", o->listen, "tcp://HOST:PORT or ws://HOST:PORT/PATH (port 0: any)")
      ->capture_default_str();
  cmd->add_option("--jwt-secret", o->jwt_secret, "HS256 key tokens are verified with (AUTH-2)");
  cmd->add_flag("--no-trust-mode", o->no_trust_mode,
                "refuse empty tokens (AUTH-1 trust mode is on by default)");
  cmd->add_option("--duration", o->duration_s, "stop after this many seconds (default: Ctrl-C)")
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--idle-timeout", o->idle_timeout_s,
                  "close a connection that has sent no whole frame for this many seconds\n"
                  "(SESSION-3; also sheds a peer stalled mid-frame, D71)")
      ->check(CLI::Range(0.1, 1e7))
      ->capture_default_str();
  cmd->add_option("--admin-port", o->admin_port,
                  "also take operator commands, one a line, on this port (0: any): \"purge\n"
                  "<tenant> <collection>\", \"write <tenant> <collection> <doc> <hex>\",\n"
                  "\"define <tenant> <type> <name> put <json>|delete\"; the hooks of a target\n"
                  "file drive them (docs/live.md)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--trace", o->trace_file,
                  "record every frame read and written as JSON lines (check-trace reads them)");
  cmd->add_flag("--must-only", o->must_only, "print MUST findings only");
  cmd->add_option("--bug", o->bugs,
                  "break the reference server on purpose (the harness's own tests; names as\n"
                  "in scenarios: SkipDedup, WrongLsnOrder, SkipCrcCheck, ...)");
  return [o] { return serve(*o); };
}

}  // namespace syncsim::cli
