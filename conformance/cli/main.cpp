// syncsim: conformance harness and deterministic simulator for the NodeDB
// sync protocol. This file only wires subcommands; each lives in its own file.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <map>
#include <string>

#include "conformance/cli/commands.hpp"

int main(int argc, char** argv) {
  using namespace syncsim::cli;
  CLI::App app{
      "syncsim - conformance harness for the NodeDB sync wire protocol\n"
      "(frames [msg_type u8][length u32 LE][MessagePack body], PROTOCOL.md).\n\n"
      "Exit codes: 0 conforming, 1 violations found, 2 invalid input or usage,\n"
      "3 internal error (a syncsim bug: please report it).\n"
      "Run 'syncsim <command> --help' for a command's options and examples.",
      "syncsim"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "syncsim 0.1.0");

  std::map<std::string, Runner> runners;
  runners["run"] = add_run_command(app);
  runners["merge"] = add_merge_command(app);
  runners["decode"] = add_decode_command(app);
  runners["encode"] = add_encode_command(app);
  runners["rules"] = add_rules_command(app);
  runners["schema"] = add_schema_command(app);
  runners["sim-demo"] = add_sim_demo_command(app);
  runners["check-trace"] = add_check_trace_command(app);
  runners["serve"] = add_serve_command(app);
  runners["admin"] = add_admin_command(app);
  runners["check"] = add_check_command(app);
  runners["client"] = add_client_command(app);
  runners["proxy"] = add_proxy_command(app);
  runners["explore"] = add_explore_command(app);
  runners["hostile"] = add_hostile_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitInvalid;
  }
  for (auto* sub : app.get_subcommands()) {
    const auto it = runners.find(sub->get_name());
    if (it == runners.end()) continue;
    // Commands report bad input themselves (exit 2); an exception reaching
    // here is a syncsim bug, so it is named as one rather than aborting.
    try {
      return it->second();
    } catch (const std::exception& e) {
      fmt::print(stderr, "syncsim {}: internal error: {}\n", sub->get_name(), e.what());
      return kExitInternal;
    }
  }
  fmt::print(stderr, "syncsim: no command given (try --help)\n");
  return kExitInvalid;
}
