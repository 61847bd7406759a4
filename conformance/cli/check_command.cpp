// `syncsim check`: conformance cases against a running implementation
// nobody here wrote, each citing the rule it proves (h2spec-style).
//   --server URL: syncsim is the client, the target is a server;
//   --client --listen URL [--exec CMD]: syncsim is the server, the target a client.
#include <fmt/core.h>

#include <fstream>
#include <memory>

#include "conformance/cli/commands.hpp"
#include "conformance/live/client_check.hpp"
#include "conformance/live/server_check.hpp"
#include "conformance/live/target.hpp"
#include "conformance/report/markup.hpp"
#include "conformance/report/report.hpp"
#include "reference/jwt.hpp"

namespace syncsim::cli {

namespace {

using conformance::CaseResult;
using conformance::Verdict;

struct CheckOptions {
  std::string server;
  bool client = false;
  std::string listen = "tcp://127.0.0.1:0";
  std::string exec;
  std::string target_file, baseline_file, write_baseline_file, junit_file, html_file;
  std::string token, jwt_secret;
  int timeout_ms = 2000;
  int connect_timeout_ms = 10'000;
  double time_scale = 0;         // 0: the target file's, else 1
  double tap_tolerance_ms = -1;  // <0: the target file's, else 50 (D81, D118)
  std::string filter;
  std::string profile;  // a deviation profile (D140); else the target file's
  bool list = false;
  bool verbose = false;
  bool show_client_output = false;
};

void list_cases() {
  fmt::print("Server-facing cases (check --server URL):\n");
  for (const auto& c : conformance::server_cases())
    fmt::print("  {:<11} {:<34} [{}] {}\n", c.rule, c.id, c.capability, c.title);
  fmt::print("Client-facing cases (check --client --listen URL [--exec CMD]):\n");
  for (const auto& c : conformance::client_cases())
    fmt::print("  {:<11} {:<34} [{}] {}\n", c.rule, c.id, c.capability, c.title);
}

// Entries in the baseline that name no case or rule (a typo would silently
// XFAIL nothing): each with what is wrong.
std::vector<std::string> unknown_names(const std::set<std::string>& names,
                                       const std::vector<conformance::CaseInfo>& cases) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    const std::string why = conformance::unknown_expected_failure(n, cases);
    if (!why.empty()) out.push_back(n + " (" + why + ")");
  }
  return out;
}

bool write_junit(const std::string& path, const std::string& suite,
                 const std::vector<CaseResult>& results) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return false;
  std::size_t failures = 0, skipped = 0;
  for (const auto& r : results) {
    failures += conformance::counts_as_failure(r.verdict) || r.verdict == Verdict::Unreachable ||
                r.verdict == Verdict::Error;
    skipped += r.verdict == Verdict::Unsupported || r.verdict == Verdict::XFail ||
               r.verdict == Verdict::Deviation;
  }
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\""
      << conformance::report::escape_markup(suite) << "\" tests=\"" << results.size()
      << "\" failures=\"" << failures << "\" skipped=\"" << skipped << "\">\n";
  for (const auto& r : results) {
    out << "  <testcase classname=\"" << conformance::report::escape_markup(suite) << "\" name=\""
        << conformance::report::escape_markup(r.rule) << " "
        << conformance::report::escape_markup(r.id) << "\" time=\"" << r.seconds << "\">\n";
    std::string text = r.detail + "\n";
    for (const auto& f : r.frames) text += f + "\n";
    const std::string verdict(conformance::verdict_name(r.verdict));
    if (conformance::counts_as_failure(r.verdict) || r.verdict == Verdict::Unreachable ||
        r.verdict == Verdict::Error) {
      out << "    <failure message=\"" << verdict << ": "
          << conformance::report::escape_markup(r.detail) << "\">"
          << conformance::report::escape_markup(text) << "</failure>\n";
    } else if (r.verdict == Verdict::Unsupported || r.verdict == Verdict::XFail ||
               r.verdict == Verdict::Deviation) {
      // A DEVIATION is skipped as an XFAIL is: known, not a pass, not a failure (D141).
      out << "    <skipped message=\"" << verdict << ": "
          << conformance::report::escape_markup(r.detail) << "\"/>\n";
    }
    out << "  </testcase>\n";
  }
  out << "</testsuite>\n";
  return static_cast<bool>(out);
}

// The HTML report of a live suite: each case's frame lines as its wire log
// between syncsim and the target (times are not recorded live, order is).
bool write_html_report(const CheckOptions& o, const std::vector<CaseResult>& results,
                       const char* suite) {
  conformance::report::Report rep;
  const bool client_suite = std::string_view(suite) == "client";
  const std::string target = client_suite ? o.listen : o.server;
  rep.title = std::string("syncsim check --") + suite;
  rep.command = rep.title + " " + target;
  rep.facts = {{"target", target}, {"cases", std::to_string(results.size())}};
  for (const auto& r : results) {
    conformance::report::ReportCase c;
    c.id = r.id;
    c.title = r.id + ": " + r.title;
    c.rule = r.rule;
    c.verdict = std::string(conformance::verdict_name(r.verdict));
    if (!r.detail.empty()) c.notes.push_back(r.detail);
    c.findings = r.findings;
    conformance::report::rows_from_lines(c, r.frames, "syncsim",
                                         client_suite ? "client (target)" : "server (target)");
    rep.cases.push_back(std::move(c));
  }
  std::ofstream out(o.html_file, std::ios::binary);
  conformance::report::write_html(out, rep);
  if (out) fmt::print("HTML report: {}\n", o.html_file);
  return static_cast<bool>(out);
}

int report(const CheckOptions& o, const std::vector<CaseResult>& results, const char* suite) {
  std::map<Verdict, std::size_t> count;
  std::set<std::string> failing;
  for (const auto& r : results) {
    ++count[r.verdict];
    fmt::print("  {:<11} {:<11} {:<34} {}\n", conformance::verdict_name(r.verdict), r.rule, r.id,
               r.title);
    const bool bad = conformance::counts_as_failure(r.verdict) || r.verdict == Verdict::XFail ||
                     r.verdict == Verdict::Unreachable;
    if (bad) {
      const auto entries = conformance::baseline_entries(r);
      failing.insert(entries.begin(), entries.end());
    }
    if (bad || r.verdict == Verdict::Unsupported || r.verdict == Verdict::XPass ||
        r.verdict == Verdict::Deviation || r.verdict == Verdict::Error || o.verbose) {
      if (!r.detail.empty()) fmt::print("        {}\n", r.detail);
      if (r.verdict == Verdict::XPass)
        fmt::print("        (baselined as failing: remove it from the baseline)\n");
      if (bad || o.verbose) {
        for (const auto& f : r.frames) fmt::print("          {}\n", f);
        for (const auto& f : r.findings) {
          if (f.finding.level == protocol::Level::Must || o.verbose)
            fmt::print("        finding: {}\n", conformance::format_check_finding(f));
        }
      }
    }
  }
  fmt::print(
      "{} case(s): {} passed, {} failed, {} timed out, {} unsupported, {} expected failure(s), "
      "{} unexpected pass(es), {} deviation(s){}{}\n",
      results.size(), count[Verdict::Pass], count[Verdict::Fail], count[Verdict::Timeout],
      count[Verdict::Unsupported], count[Verdict::XFail], count[Verdict::XPass],
      count[Verdict::Deviation],
      count[Verdict::Unreachable] ? ", 1 unreachable (the run stopped there)" : "",
      count[Verdict::Error]
          ? fmt::format(", {} error(s) of the run (a hook failed)", count[Verdict::Error])
          : "");
  if (!o.junit_file.empty() && !write_junit(o.junit_file, suite, results)) {
    fmt::print(stderr, "syncsim check: {}: cannot write\n", o.junit_file);
    return kExitInvalid;
  }
  if (!o.html_file.empty() && !write_html_report(o, results, suite)) {
    fmt::print(stderr, "syncsim check: {}: cannot write\n", o.html_file);
    return kExitInvalid;
  }
  if (!o.write_baseline_file.empty()) {
    std::ofstream out(o.write_baseline_file, std::ios::binary);
    out << conformance::baseline_text(failing, std::string("syncsim check ") + suite);
    if (!out) {
      fmt::print(stderr, "syncsim check: {}: cannot write\n", o.write_baseline_file);
      return kExitInvalid;
    }
    fmt::print("baseline of {} failing case(s) written to {}\n", failing.size(),
               o.write_baseline_file);
  }
  if (count[Verdict::Unreachable] > 0) {
    fmt::print(stderr, "syncsim check: {}\n", results.back().detail);
    return kExitInvalid;
  }
  if (count[Verdict::Error] > 0) {  // a hook failed: the run is in error, not the target (D132)
    fmt::print(stderr, "syncsim check: {} case(s) could not run their operator hooks\n",
               count[Verdict::Error]);
    return kExitInvalid;
  }
  return count[Verdict::Fail] + count[Verdict::Timeout] > 0 ? kExitFindings : kExitOk;
}

int check(CheckOptions o) {
  if (o.list) {
    list_cases();
    return kExitOk;
  }
  conformance::LiveSuiteOptions suite;
  suite.filter = o.filter;
  suite.time_scale = 1;
  std::uint32_t tenant = 0;
  std::map<std::string, std::string> hooks;  // operator hooks the purge cases call (D132)
  double hook_timeout_s = 10;
  if (!o.target_file.empty()) {
    const auto t = conformance::load_target(o.target_file);
    if (!t.target) {
      fmt::print(stderr, "syncsim check: {}\n", t.error);
      return kExitInvalid;
    }
    if (o.server.empty() && !o.client) o.server = t.target->server;
    if (o.token.empty()) o.token = t.target->token;
    if (o.jwt_secret.empty()) o.jwt_secret = t.target->jwt_secret;
    suite.capabilities = t.target->capabilities;
    suite.expected_failures = t.target->expected_failures;
    if (t.target->time_scale) suite.time_scale = *t.target->time_scale;
    if (t.target->tap_tolerance_ms)
      suite.tap_tolerance_floor_ms = static_cast<std::int64_t>(*t.target->tap_tolerance_ms);
    if (o.jwt_secret.empty()) o.jwt_secret = t.target->jwt_secret;
    tenant = t.target->tenant;
    if (o.profile.empty()) o.profile = t.target->profile;
    hooks = t.target->hooks;
    hook_timeout_s = t.target->hook_timeout_s;
  }
  if (o.token.empty() && !o.jwt_secret.empty() && !o.client) {
    reference::JwtClaims claims;  // one token for the run, valid for an hour
    claims.sub = "syncsim-check";
    claims.tenant_id = tenant;
    claims.user_id = 1;
    claims.exp = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count() +
                 3600;
    o.token = reference::mint_hs256(claims, o.jwt_secret);
  }
  if (!o.baseline_file.empty()) {
    const auto b = conformance::load_target(o.baseline_file, /*baseline_only=*/true);
    if (!b.target) {
      fmt::print(stderr, "syncsim check: {}\n", b.error);
      return kExitInvalid;
    }
    suite.expected_failures.insert(b.target->expected_failures.begin(),
                                   b.target->expected_failures.end());
  }
  if (o.time_scale > 0) suite.time_scale = o.time_scale;
  if (o.tap_tolerance_ms >= 0)
    suite.tap_tolerance_floor_ms = static_cast<std::int64_t>(o.tap_tolerance_ms);
  if (o.client == !o.server.empty()) {
    fmt::print(stderr,
               "syncsim check: give --server URL (check a server) or --client (check a client), "
               "or --list\n");
    return kExitInvalid;
  }
  if (!o.profile.empty()) {
    suite.profile = conformance::find_profile(o.profile);
    if (!suite.profile) {
      fmt::print(stderr, "syncsim check: unknown profile \"{}\" (expected one of: {})\n", o.profile,
                 conformance::profile_names());
      return kExitInvalid;
    }
    if ((suite.profile->side == "client") != o.client) {
      fmt::print(stderr, "syncsim check: profile {} describes a {}, not a {}\n", o.profile,
                 suite.profile->side, o.client ? "client" : "server");
      return kExitInvalid;
    }
  }
  const auto unknown =
      unknown_names(suite.expected_failures,
                    o.client ? conformance::client_cases() : conformance::server_cases());
  if (!unknown.empty()) {
    fmt::print(stderr, "syncsim check: expected_failures names no case: {} (see --list)\n",
               unknown.front());
    return kExitInvalid;
  }
  boost::asio::io_context ioc;
  if (o.client) {
    const auto parsed = conformance::parse_endpoint(o.listen);
    if (!parsed.endpoint) {
      fmt::print(stderr, "syncsim check: --listen {}\n", parsed.error);
      return kExitInvalid;
    }
    conformance::ClientCheckOptions options;
    options.listen = *parsed.endpoint;
    options.exec = o.exec;
    options.connect_budget_ms = o.connect_timeout_ms;
    options.suite = suite;
    if (!o.jwt_secret.empty()) options.jwt_secret = o.jwt_secret;
    options.show_client_output = o.show_client_output;
    options.progress = [](const std::string& line) {
      fmt::print("  ... {}\n", line);
      std::fflush(stdout);
    };
    fmt::print("syncsim check: client on {} ({}; waits x{}; {} ms to connect)\n",
               options.listen.text(),
               o.exec.empty() ? "start your client; it must reconnect after each case"
                              : "each case runs: " + o.exec,
               suite.time_scale, o.connect_timeout_ms);
    fmt::print(
        "  tap tolerance (D81): at least {} ms, raised per case to the largest round trip it "
        "measures plus half again (D118)\n",
        suite.tap_tolerance_floor_ms);
    std::fflush(stdout);
    const auto run = conformance::check_client(ioc, options);
    if (!run.error.empty()) {
      fmt::print(stderr, "syncsim check: {}\n", run.error);
      return kExitInvalid;
    }
    fmt::print("  tap tolerance: at most {} ms in a case (largest round trip {} ms)\n",
               run.max_tap_tolerance_ns / 1'000'000, run.max_round_trip_ns / 1'000'000);
    return report(o, run.results, "client");
  }
  const auto parsed = conformance::parse_endpoint(o.server);
  if (!parsed.endpoint) {
    fmt::print(stderr, "syncsim check: --server {}\n", parsed.error);
    return kExitInvalid;
  }
  conformance::ServerCheckOptions options;
  options.target = *parsed.endpoint;
  options.token = o.token;
  options.jwt_secret = o.jwt_secret;
  options.tenant = tenant;
  options.hooks = hooks;
  options.hook_timeout_s = hook_timeout_s;
  options.answer_budget_ms = o.timeout_ms;
  options.suite = suite;
  fmt::print("syncsim check: server {} ({} ms per answer x{}{})\n", options.target.text(),
             o.timeout_ms, suite.time_scale,
             o.token.empty() ? ", trust mode: empty token" : ", with a token");
  std::fflush(stdout);
  return report(o, conformance::check_server(ioc, options), "server");
}

}  // namespace

Runner add_check_command(CLI::App& app) {
  auto o = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand(
      "check",
      "Check a running implementation (yours) against the spec, case by case.\n"
      "Each case cites the rule it proves, runs a short script over its own\n"
      "connection, waits for what the rule requires, and has every frame\n"
      "judged by the checker; a failing case prints what was expected, what\n"
      "arrived, and its frames. Every wait is a budget times --time-scale.\n\n"
      "  --server URL             syncsim is the client; your server is checked\n"
      "  --client --listen URL    syncsim plays the server (gaps, floods, purges,\n"
      "                           refusals); your client is checked. With --exec\n"
      "                           CMD it is started for each case with\n"
      "                           SYNCSIM_TARGET (the URL), SYNCSIM_CASE,\n"
      "                           SYNCSIM_TOKEN and SYNCSIM_JWT_SECRET set; without,\n"
      "                           start it yourself: it must reconnect between cases.\n\n"
      "A target file (--target, YAML) declares the token or JWT secret, tenant,\n"
      "capabilities (cases needing others are UNSUPPORTED, not failed),\n"
      "expected failures and time scale; a baseline (--baseline) lists failures\n"
      "known by case and rule (case-id:RULE; RULE; or a case id, the whole case):\n"
      "they show XFAIL and do not fail the run, a rule broken anew still does.\n"
      "A deviation profile (--profile, or the target's `profile:`) lists an\n"
      "upstream's known deviations (spec §7): origin@19ed8a6a (a server),\n"
      "lite@b72df15f (a client). A failure it explains is DEVIATION, naming the\n"
      "rule and the §7 item; it is applied before the baseline.\n"
      "See docs/live.md.\n\n"
      "Examples:\n"
      "  syncsim serve --listen tcp://127.0.0.1:9091 &   # or your own server\n"
      "  syncsim check --server tcp://127.0.0.1:9091\n"
      "  syncsim check --server ws://127.0.0.1:9090/sync --target my-server.yaml --junit r.xml\n"
      "  syncsim check --client --listen tcp://127.0.0.1:0 \\\n"
      "      --exec 'my-client --url \"$SYNCSIM_TARGET\" --token \"$SYNCSIM_TOKEN\"'\n"
      "  syncsim check --server tcp://127.0.0.1:9091 --write-baseline known.yaml\n"
      "  syncsim check --list\n\n"
      "Verdicts: PASS, FAIL, TIMEOUT, UNSUPPORTED, XFAIL, XPASS, DEVIATION, UNREACHABLE.\n"
      "Exit: 0 no case failed or timed out (XFAIL, UNSUPPORTED, DEVIATION do not count),\n"
      "1 a case failed or timed out, 2 bad options or files, an unreachable\n"
      "server or a client that never connected (reported at once, never a hang).");
  cmd->add_option("--server", o->server,
                  "check the server at tcp://HOST:PORT or ws://HOST:PORT/PATH");
  cmd->add_flag("--client", o->client, "check a client: syncsim plays the server");
  cmd->add_option("--listen", o->listen, "--client: where to listen (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--exec", o->exec, "--client: shell command starting the client for each case");
  cmd->add_option("--target", o->target_file, "target file (YAML): token, capabilities, ...");
  cmd->add_option("--baseline", o->baseline_file, "YAML list of cases expected to fail");
  cmd->add_option("--write-baseline", o->write_baseline_file,
                  "write the failing cases as a baseline file");
  cmd->add_option("--junit", o->junit_file, "write a JUnit XML report");
  cmd->add_option("--html", o->html_file,
                  "write an HTML report: verdicts, filters, and per case its frames\n"
                  "(a wire log and a sequence diagram) with the findings");
  cmd->add_option("--token", o->token, "JWT sent in every Handshake (default: empty, trust mode)");
  cmd->add_option("--jwt-secret", o->jwt_secret,
                  "HS256 key: mint the token and the cases' own tokens (--server), or the\n"
                  "client's tokens (--client)");
  cmd->add_option("--timeout-ms", o->timeout_ms, "--server: budget for each expected answer")
      ->check(CLI::Range(10, 600000))
      ->capture_default_str();
  cmd->add_option("--connect-timeout-ms", o->connect_timeout_ms,
                  "--client: how long each case waits for the client to connect")
      ->check(CLI::Range(10, 3'600'000))
      ->capture_default_str();
  cmd->add_option("--tap-tolerance-ms", o->tap_tolerance_ms,
                  "check --client: least tap tolerance (D81), raised to the measured round trip "
                  "(D118); default: the target file's, else 50")
      ->check(CLI::Range(0.0, 60'000.0));
  cmd->add_option("--time-scale", o->time_scale,
                  "multiply every wait (default 1, or the target file's)")
      ->check(CLI::Range(0.01, 1000.0));
  cmd->add_option("--filter", o->filter, "only cases whose id or rule contains this");
  cmd->add_option("--profile", o->profile,
                  "deviation profile (spec §7): origin@19ed8a6a or lite@b72df15f; failures it\n"
                  "explains are DEVIATION (default: the target file's)");
  cmd->add_flag("--list", o->list, "list the cases, their rules and capabilities");
  cmd->add_flag("-v,--verbose", o->verbose, "show the frames of passing cases too");
  cmd->add_flag("--show-client-output", o->show_client_output,
                "--exec: let the client print as it runs (else its tail shows on failure)");
  return [o] { return check(*o); };
}

}  // namespace syncsim::cli
