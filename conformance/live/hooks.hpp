// Operator hooks (D132): a target file's shell commands for what only the
// operator can do (purge, server-side write, definition...), with
// `{placeholders}`. `run --target` and `check --server` call them the same
// way: one at a time, each a child process in its own group, bounded by the
// target's hook_timeout_s. A hook that fails is an error of the run, never a
// finding about the target: the server never saw the step.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace syncsim::conformance {

class ChildProcess;

// `s` as one shell word: single-quoted, each quote inside written '\''.
std::string shell_quote(const std::string& s);

// `command` with each "{name}" replaced by its value, single-quoted for the shell.
std::string hook_command(std::string command, const std::map<std::string, std::string>& values);

// What a finished hook call says: ok, and one line for the report ("hook
// purge: ok (...)" or "hook \"purge\" failed (exit 1: ...): an error of the run...").
struct HookOutcome {
  bool ok = false;
  std::string report;
};

// One hook call as a bounded child process; poll() until it answers.
class HookProcess {
 public:
  HookProcess(std::string name, const std::string& command, double timeout_s);
  ~HookProcess();
  HookProcess(const HookProcess&) = delete;
  HookProcess& operator=(const HookProcess&) = delete;

  // Its outcome once it has ended (killed when over its time), else nullopt.
  std::optional<HookOutcome> poll();
  // Ends it now (the run is over): the failure to report.
  HookOutcome abandon(const std::string& why);
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  double timeout_s_;
  std::unique_ptr<ChildProcess> child_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace syncsim::conformance
