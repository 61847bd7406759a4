// `syncsim check --server URL`: conformance cases against a running server
// over TCP or WebSocket, each citing the rule it proves (h2spec-style).
#include <fmt/core.h>

#include <memory>

#include "conformance/cli/commands.hpp"
#include "conformance/live/server_check.hpp"

namespace syncsim::cli {

namespace {

struct CheckOptions {
  std::string server;
  std::string token;
  int timeout_ms = 2000;
  std::string filter;
  bool list = false;
  bool verbose = false;
};

int check(const CheckOptions& o) {
  if (o.list) {
    for (const auto& c : conformance::server_cases())
      fmt::print("{:<11} {:<34} {}\n", c.rule, c.id, c.title);
    return kExitOk;
  }
  if (o.server.empty()) {
    fmt::print(stderr, "syncsim check: give --server URL (or --list)\n");
    return kExitInvalid;
  }
  const auto parsed = conformance::parse_endpoint(o.server);
  if (!parsed.endpoint) {
    fmt::print(stderr, "syncsim check: --server {}\n", parsed.error);
    return kExitInvalid;
  }
  conformance::ServerCheckOptions options;
  options.target = *parsed.endpoint;
  options.token = o.token;
  options.answer_timeout = std::chrono::milliseconds(o.timeout_ms);
  options.filter = o.filter;
  boost::asio::io_context ioc;
  fmt::print("syncsim check: server {} ({} ms per answer{})\n", options.target.text(), o.timeout_ms,
             o.token.empty() ? ", trust mode: empty token" : ", with --token");
  const auto results = conformance::check_server(ioc, options);
  std::size_t passed = 0, failed = 0, timed_out = 0;
  for (const auto& r : results) {
    fmt::print("  {:<11} {:<11} {:<34} {}\n", conformance::verdict_name(r.verdict), r.rule, r.id,
               r.title);
    if (r.verdict == conformance::Verdict::Unreachable) {
      fmt::print(stderr, "syncsim check: {}\n", r.detail);
      return kExitInvalid;
    }
    (r.verdict == conformance::Verdict::Pass      ? passed
     : r.verdict == conformance::Verdict::Timeout ? timed_out
                                                  : failed)++;
    if (r.verdict != conformance::Verdict::Pass || o.verbose) {
      if (!r.detail.empty()) fmt::print("        {}\n", r.detail);
      for (const auto& f : r.frames) fmt::print("          {}\n", f);
      for (const auto& f : r.findings) {
        if (f.finding.level == protocol::Level::Must || o.verbose)
          fmt::print("        finding: {}\n", conformance::format_check_finding(f));
      }
    }
  }
  fmt::print("{} case(s): {} passed, {} failed, {} timed out\n", results.size(), passed, failed,
             timed_out);
  return failed + timed_out > 0 ? kExitFindings : kExitOk;
}

}  // namespace

Runner add_check_command(CLI::App& app) {
  auto o = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand(
      "check",
      "Check a running server (yours) against the spec, case by case. Each\n"
      "case opens a connection, sends a short script, waits for the answers\n"
      "the cited rule requires, and has every frame judged by the checker. A\n"
      "failing case prints what was expected, what arrived, and its frames.\n\n"
      "Examples:\n"
      "  syncsim serve --listen tcp://127.0.0.1:9091 &   # or your own server\n"
      "  syncsim check --server tcp://127.0.0.1:9091\n"
      "  syncsim check --server ws://127.0.0.1:9090/sync --token \"$JWT\" --filter DELTA\n"
      "  syncsim check --list\n\n"
      "Exit: 0 every case passed, 1 a case failed or timed out, 2 bad options\n"
      "or an unreachable server (reported after the first case, never a hang).");
  cmd->add_option("--server", o->server, "tcp://HOST:PORT or ws://HOST:PORT/PATH");
  cmd->add_option("--token", o->token, "JWT sent in every Handshake (default: empty, trust mode)");
  cmd->add_option("--timeout-ms", o->timeout_ms, "how long to wait for each expected answer")
      ->check(CLI::Range(10, 600000))
      ->capture_default_str();
  cmd->add_option("--filter", o->filter, "only cases whose id or rule contains this");
  cmd->add_flag("--list", o->list, "list the cases and the rules they prove");
  cmd->add_flag("-v,--verbose", o->verbose, "show the frames of passing cases too");
  return [o] { return check(*o); };
}

}  // namespace syncsim::cli
