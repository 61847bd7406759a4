// `syncsim serve`: the reference server on a real port, for trying a client
// by hand. Every frame it reads and writes is judged as it happens; findings
// print as they are made, and a summary at the end.
#include <fmt/core.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <istream>
#include <memory>
#include <optional>

#include "conformance/cli/commands.hpp"
#include "conformance/cli/live_loop.hpp"
#include "conformance/live/admin_port.hpp"
#include "conformance/live/hooks.hpp"
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
  int admin_port = -1;     // -1: none; 0: any free port
  std::string target_out;  // write a target file for this server (D134)
};

// The target file `run --target` needs to drive this server (D134): its
// address, its JWT secret, and hooks that reach its admin port through
// `syncsim admin` (this very binary).
bool write_target_file(const std::string& path, const conformance::Endpoint& server,
                       const std::string& jwt_secret, const std::string& admin_host,
                       std::uint16_t admin_port) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) self = "syncsim";
  const std::string admin = conformance::shell_quote(self) + " admin tcp://" + admin_host + ":" +
                            std::to_string(admin_port);
  std::ofstream out(path);
  out << "# Written by `syncsim serve --target-out`: how `syncsim run --target` drives\n"
         "# this server (docs/live.md). Valid while that server runs.\n"
      << "server: " << server.text() << "\n";
  if (!jwt_secret.empty()) out << "jwt_secret: \"" << jwt_secret << "\"\n";
  out << "hooks:\n"
      << "  purge: \"" << admin << " purge {tenant} {collection}\"\n"
      << "  server_write: \"" << admin << " write {tenant} {collection} {document} {value_hex}\"\n"
      << "  define: \"" << admin << " define {tenant} {type} {name} {action} {json}\"\n"
      << "hook_timeout_s: 10\n";
  return static_cast<bool>(out.flush());
}

int serve(ServeOptions o) {
  if (!o.target_out.empty() && o.admin_port < 0) o.admin_port = 0;  // its hooks need one
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
  if (!o.target_out.empty()) {
    if (!write_target_file(o.target_out, shown, o.jwt_secret, options.listen.host, admin.port())) {
      fmt::print(stderr, "syncsim serve: {}: cannot write the target file\n", o.target_out);
      return kExitInvalid;
    }
    fmt::print("syncsim serve: wrote the target file {} (syncsim run --target {})\n", o.target_out,
               o.target_out);
  }
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
  cmd->add_option("--target-out", o->target_out,
                  "write a target file for this server: its address, --jwt-secret and hooks\n"
                  "calling `syncsim admin` on its admin port (opened on any free port unless\n"
                  "--admin-port), so `syncsim run --target FILE` runs the live subset on it");
  cmd->add_option("--trace", o->trace_file,
                  "record every frame read and written as JSON lines (check-trace reads them)");
  cmd->add_flag("--must-only", o->must_only, "print MUST findings only");
  cmd->add_option("--bug", o->bugs,
                  "break the reference server on purpose (the harness's own tests; names as\n"
                  "in scenarios: SkipDedup, WrongLsnOrder, SkipCrcCheck, ...)");
  return [o] { return serve(*o); };
}

namespace {

struct AdminOptions {
  std::string address;
  std::vector<std::string> words;
  double timeout_s = 5;
};

// One command line to a `serve --admin-port` and its one-line answer.
int admin(const AdminOptions& o) {
  const auto parsed = conformance::parse_endpoint(o.address);
  if (!parsed.endpoint || parsed.endpoint->transport != conformance::Endpoint::Transport::Tcp) {
    fmt::print(stderr, "syncsim admin: {}: want tcp://HOST:PORT\n", o.address);
    return kExitInvalid;
  }
  std::string line;
  for (const auto& w : o.words) line += (line.empty() ? "" : " ") + w;
  if (line.find('\n') != std::string::npos || line.size() > 4000) {
    fmt::print(stderr, "syncsim admin: a command is one line of at most 4000 bytes\n");
    return kExitInvalid;
  }
  line += "\n";
  namespace asio = boost::asio;
  asio::io_context ioc;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(parsed.endpoint->host, ec);
  if (ec) {
    fmt::print(stderr, "syncsim admin: {}: {}\n", parsed.endpoint->host, ec.message());
    return kExitInvalid;
  }
  asio::ip::tcp::socket socket(ioc);
  asio::streambuf in(4096);
  std::optional<boost::system::error_code> done;
  socket.async_connect({address, parsed.endpoint->port}, [&](boost::system::error_code e) {
    if (e) return void(done = e);
    asio::async_write(socket, asio::buffer(line), [&](boost::system::error_code w, std::size_t) {
      if (w) return void(done = w);
      asio::async_read_until(socket, in, '\n',
                             [&](boost::system::error_code r, std::size_t) { done = r; });
    });
  });
  ioc.run_for(std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000)));
  if (!done || *done) {
    fmt::print(stderr, "syncsim admin: {}: {}\n", o.address,
               done ? done->message() : "no answer in time");
    return kExitInvalid;
  }
  std::istream lines(&in);
  std::string answer;
  std::getline(lines, answer);
  fmt::print("{}\n", answer);
  return answer.rfind("ok", 0) == 0 ? kExitOk : kExitFindings;
}

}  // namespace

Runner add_admin_command(CLI::App& app) {
  auto o = std::make_shared<AdminOptions>();
  auto* cmd = app.add_subcommand(
      "admin",
      "Send one operator command to a `syncsim serve --admin-port` and print its\n"
      "answer: the hooks `serve --target-out` writes call this.\n\n"
      "Examples:\n"
      "  syncsim admin tcp://127.0.0.1:9092 purge 0 orders\n"
      "  syncsim admin tcp://127.0.0.1:9092 write 0 orders doc-1 a1b2\n"
      "  syncsim admin tcp://127.0.0.1:9092 define 0 function f put '{}'\n\n"
      "Exit: 0 the server answered ok, 1 it answered an error, 2 bad usage or no\n"
      "answer within --timeout.");
  cmd->add_option("address", o->address, "tcp://HOST:PORT of the admin port")->required();
  cmd->add_option("command", o->words, "purge|write|define and its arguments")->required();
  cmd->add_option("--timeout", o->timeout_s, "seconds to wait for the answer")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  return [o] { return admin(*o); };
}

}  // namespace syncsim::cli
