// `syncsim proxy`: a frame-aware man-in-the-middle with seeded faults
// between a real client and a real server; every frame judged both ways.
#include <fmt/core.h>

#include <fstream>
#include <memory>

#include "conformance/cli/commands.hpp"
#include "conformance/cli/live_loop.hpp"
#include "conformance/live/proxy.hpp"

namespace syncsim::cli {

namespace {

struct ProxyOptions {
  std::string listen = "tcp://127.0.0.1:9092";
  std::string upstream;
  std::string faults_file;
  std::uint64_t seed = 1;
  double duration_s = 0;
  std::string trace_file;
  bool verbose = false, must_only = false;
  double tap_tolerance_ms = 50;  // D81/D118: the floor; measured round trips raise it
};

int proxy(const ProxyOptions& o) {
  const auto listen = conformance::parse_endpoint(o.listen);
  if (!listen.endpoint) {
    fmt::print(stderr, "syncsim proxy: --listen {}\n", listen.error);
    return kExitInvalid;
  }
  const auto upstream = conformance::parse_endpoint(o.upstream);
  if (!upstream.endpoint) {
    fmt::print(stderr, "syncsim proxy: --upstream {}\n", upstream.error);
    return kExitInvalid;
  }
  conformance::Proxy::Options options;
  options.listen = *listen.endpoint;
  options.upstream = *upstream.endpoint;
  options.seed = o.seed;
  options.tap_tolerance_floor_ns = static_cast<std::int64_t>(o.tap_tolerance_ms * 1e6);
  if (!o.faults_file.empty()) {
    const auto f = conformance::load_proxy_faults(o.faults_file);
    if (!f.faults) {
      fmt::print(stderr, "syncsim proxy: {}\n", f.error);
      return kExitInvalid;
    }
    options.faults = *f.faults;
  }
  std::ofstream trace;
  if (!o.trace_file.empty()) {
    trace.open(o.trace_file, std::ios::binary);
    if (!trace) {
      fmt::print(stderr, "syncsim proxy: {}: cannot write\n", o.trace_file);
      return kExitInvalid;
    }
    options.trace = &trace;
  }
  options.on_finding = [&o](const conformance::CheckFinding& f) {
    if (o.must_only && f.finding.level != protocol::Level::Must) return;
    fmt::print("{}\n", conformance::format_check_finding(f));
    if (!f.frame.empty()) fmt::print("    frame:  {}\n", f.frame);
    std::fflush(stdout);
  };
  if (o.verbose) {
    options.on_event = [](const std::string& line) {
      fmt::print("  {}\n", line);
      std::fflush(stdout);
    };
  }
  boost::asio::io_context ioc;
  conformance::Proxy proxy(ioc, options);
  boost::system::error_code ec;
  if (!proxy.start(ec)) {
    fmt::print(stderr, "syncsim proxy: cannot listen on {}: {}\n", options.listen.text(),
               ec.message());
    return kExitInvalid;
  }
  auto shown = options.listen;
  shown.port = proxy.port();
  fmt::print("syncsim proxy: {} -> {}, seed {}\n", shown.text(), options.upstream.text(), o.seed);
  fmt::print("  client->server: {}\n", conformance::describe_faults(options.faults.to_server));
  fmt::print("  server->client: {}\n", conformance::describe_faults(options.faults.to_client));
  fmt::print(
      "  at this tap a client frame within the tap tolerance of a server frame may precede its "
      "read\n  (RESYNC-2, TOKEN-6; D81): {} ms to start, raised to the largest measured round "
      "trip\n  plus half again (D118)\n",
      options.tap_tolerance_floor_ns / 1'000'000);
  fmt::print(
      "  (fault draws are seeded per connection and direction; real-time order still\n"
      "   varies, so a run is repeatable in its faults, not byte for byte)\n");
  std::fflush(stdout);

  run_until_stopped(ioc, o.duration_s, [&] { proxy.stop(); });
  proxy.finish();
  const auto& s = proxy.stats();
  const auto& checker = proxy.checker();
  fmt::print(
      "syncsim proxy: {} connection(s) ({} refused, {} upstream failure(s)); {} frames passed, "
      "{} dropped, {} duplicated, {} reordered, {} corrupted, {} injected; {} frame records "
      "judged, {} MUST findings, {} in all\n",
      s.connections, s.refused, s.upstream_failures, s.forwarded, s.dropped, s.duplicated,
      s.reordered, s.corrupted, s.injected, checker.frames(), checker.must_count(),
      checker.findings().size());
  fmt::print("  {}\n", proxy.tap_tolerance_text());
  return checker.must_count() > 0 ? kExitFindings : kExitOk;
}

}  // namespace

Runner add_proxy_command(CLI::App& app) {
  auto o = std::make_shared<ProxyOptions>();
  auto* cmd = app.add_subcommand(
      "proxy",
      "Stand between a real client and a real server as a frame-aware\n"
      "man-in-the-middle: each frame is passed on whole, or delayed, dropped,\n"
      "duplicated, reordered or corrupted as the fault file says (the\n"
      "simulator's fault model, drawn from --seed). Every frame is judged by\n"
      "the checker as its sender wrote it and as its receiver got it, both\n"
      "directions; --trace records them for check-trace.\n\n"
      "A fault file (YAML; docs/live.md):\n"
      "  client_to_server: {latency_ms: 20, jitter_ms: 10}\n"
      "  server_to_client:\n"
      "    frames: {drop_ppm: 50000, reorder_ppm: 100000, types: [ShapeDelta]}\n\n"
      "Examples:\n"
      "  syncsim serve --listen tcp://127.0.0.1:9091 &\n"
      "  syncsim proxy --listen tcp://127.0.0.1:9092 --upstream tcp://127.0.0.1:9091 \\\n"
      "      --faults lossy.yaml --seed 7 --trace t.jsonl -v &\n"
      "  syncsim client --connect tcp://127.0.0.1:9092 --shape orders --writes 50\n"
      "  syncsim check-trace t.jsonl\n\n"
      "Exit (after Ctrl-C, SIGTERM or --duration): 0 no MUST finding, 1 MUST\n"
      "findings, 2 bad options or files, or an address it cannot listen on.");
  cmd->add_option("--listen", o->listen, "where clients connect: tcp://HOST:PORT or ws://...")
      ->capture_default_str();
  cmd->add_option("--upstream", o->upstream, "the server: tcp://HOST:PORT or ws://HOST:PORT/PATH")
      ->required();
  cmd->add_option("--tap-tolerance-ms", o->tap_tolerance_ms,
                  "least tap tolerance (D81); raised to the largest measured round trip plus "
                  "half again (D118)")
      ->check(CLI::Range(0.0, 60'000.0))
      ->capture_default_str();
  cmd->add_option("--faults", o->faults_file, "fault file (YAML); default: no faults");
  cmd->add_option("--seed", o->seed, "seed of the fault draws")->capture_default_str();
  cmd->add_option("--duration", o->duration_s, "stop after this many seconds (default: Ctrl-C)")
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--trace", o->trace_file,
                  "record every frame as written and as received, JSON lines for check-trace");
  cmd->add_flag("-v,--verbose", o->verbose, "print connections and every fault applied");
  cmd->add_flag("--must-only", o->must_only, "print MUST findings only");
  return [o] { return proxy(*o); };
}

}  // namespace syncsim::cli
