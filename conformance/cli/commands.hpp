// The subcommands of `syncsim`. Each registers its options on the CLI11 app
// and returns the process exit code when run (each has --help; README.md
// lists them).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace syncsim::cli {

// Exit codes shared by every subcommand.
enum ExitCode : int {
  kExitOk = 0,        // everything conformed
  kExitFindings = 1,  // ran, and found violations (or a golden mismatch)
  kExitInvalid = 2,   // invalid input or usage: bad frame, bad file, bad option
  kExitInternal = 3,  // an exception escaped a command: a syncsim bug
};

using Runner = std::function<int()>;

Runner add_decode_command(CLI::App& app);
Runner add_encode_command(CLI::App& app);
Runner add_rules_command(CLI::App& app);
Runner add_schema_command(CLI::App& app);
Runner add_sim_demo_command(CLI::App& app);
Runner add_check_trace_command(CLI::App& app);
Runner add_run_command(CLI::App& app);
Runner add_merge_command(CLI::App& app);
Runner add_serve_command(CLI::App& app);
Runner add_admin_command(CLI::App& app);
Runner add_check_command(CLI::App& app);
Runner add_client_command(CLI::App& app);
Runner add_proxy_command(CLI::App& app);
Runner add_explore_command(CLI::App& app);
Runner add_hostile_command(CLI::App& app);

}  // namespace syncsim::cli
