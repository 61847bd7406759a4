#include "conformance/live/hooks.hpp"

#include <cstdio>
#include <vector>

#include "conformance/live/child_process.hpp"

namespace syncsim::conformance {

std::string shell_quote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string hook_command(std::string command, const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values) {
    const std::string quoted = shell_quote(value);
    const std::string mark = "{" + key + "}";
    for (auto at = command.find(mark); at != std::string::npos;
         at = command.find(mark, at + quoted.size()))
      command.replace(at, mark.size(), quoted);
  }
  return command;
}

namespace {
std::string seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", s);
  return text;
}
}  // namespace

HookProcess::HookProcess(std::string name, const std::string& command, double timeout_s)
    : name_(std::move(name)),
      timeout_s_(timeout_s),
      child_(std::make_unique<ChildProcess>(command, std::vector<std::string>{}, false)),
      deadline_(std::chrono::steady_clock::now() +
                std::chrono::nanoseconds(static_cast<std::int64_t>(timeout_s * 1e9))) {}

HookProcess::~HookProcess() = default;

std::optional<HookOutcome> HookProcess::poll() {
  const auto status = child_->exited();
  const bool late = !status && std::chrono::steady_clock::now() >= deadline_;
  if (!status && !late) return std::nullopt;
  if (late) child_->stop();
  std::string said;
  for (const auto& line : child_->tail(3)) said += (said.empty() ? "" : " | ") + line;
  if (status && *status == 0)
    return HookOutcome{true, "hook " + name_ + ": ok" + (said.empty() ? "" : " (" + said + ")")};
  return HookOutcome{false, "hook \"" + name_ + "\" failed (" +
                                (late ? "no end within " + seconds(timeout_s_) + " s"
                                      : "exit " + std::to_string(*status)) +
                                (said.empty() ? "" : ": " + said) +
                                "): an error of the run, not a finding about the server"};
}

HookOutcome HookProcess::abandon(const std::string& why) {
  child_->stop();
  return HookOutcome{false, "hook \"" + name_ + "\" " + why};
}

}  // namespace syncsim::conformance
