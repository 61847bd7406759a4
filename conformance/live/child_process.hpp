// A shell command as a bounded child process (check --client --exec, hooks).
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace syncsim::conformance {

// A shell command run as a child process in its own process group, so the
// shell and whatever it started end together: a client under test
// (`check --client --exec`) or an operator hook (`run --server`, D132).
// Its output goes to a temporary log (or is shown, with `show`).
class ChildProcess {
 public:
  ChildProcess(const std::string& command, const std::vector<std::string>& env_extra, bool show)
      : log_path_(show ? "" : make_log()) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    env.insert(env.end(), env_extra.begin(), env_extra.end());
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    // Our sockets (the listener above all) must not live on in the client.
    posix_spawn_file_actions_addclosefrom_np(&files, 3);
    if (!log_path_.empty()) {
      posix_spawn_file_actions_addopen(&files, 1, log_path_.c_str(), O_WRONLY | O_TRUNC, 0600);
      posix_spawn_file_actions_adddup2(&files, 1, 2);
    }
    std::string cmd = command;
    char sh[] = "/bin/sh", dash_c[] = "-c";
    char* argv[] = {sh, dash_c, cmd.data(), nullptr};
    if (posix_spawn(&pid_, "/bin/sh", &files, &attr, argv, envp.data()) != 0) pid_ = -1;
    pgid_ = pid_;
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attr);
  }
  ~ChildProcess() {
    stop();
    if (!log_path_.empty()) std::remove(log_path_.c_str());
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // Its exit status once it has ended, else nullopt.
  std::optional<int> exited() {
    if (pid_ <= 0) return status_;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    return status_;
  }
  // SIGTERM to the group, SIGKILL after a second: bounded. The whole group
  // goes, not only the shell: whatever it started must be gone too.
  void stop() {
    if (pgid_ <= 0) return;
    kill(-pgid_, SIGTERM);
    for (int i = 0; i < 100 && group_alive(); ++i) usleep(10'000);
    if (group_alive()) {
      kill(-pgid_, SIGKILL);
      for (int i = 0; i < 100 && group_alive(); ++i) usleep(10'000);
    }
    if (pid_ > 0) {
      int st = 0;
      waitpid(pid_, &st, 0);
      pid_ = -1;
    }
    pgid_ = -1;
  }
  // The last lines it printed (when not shown as it ran).
  std::vector<std::string> tail(std::size_t lines) const {
    std::vector<std::string> out;
    if (log_path_.empty()) return out;
    std::ifstream in(log_path_);
    std::string line;
    while (std::getline(in, line) && out.size() < 10'000) out.push_back(line.substr(0, 300));
    if (out.size() > lines) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(lines));
    return out;
  }

 private:
  static std::string make_log() {
    char name[] = "/tmp/syncsim-client-XXXXXX";
    const int fd = mkstemp(name);
    if (fd < 0) return "";
    close(fd);
    return name;
  }
  // Reaps the shell when it has ended; true while any of the group lives
  // (a reaped shell's children keep the group id).
  bool group_alive() {
    exited();
    return kill(-pgid_, 0) == 0;
  }

  std::string log_path_;
  pid_t pid_ = -1, pgid_ = -1;
  std::optional<int> status_;
};

}  // namespace syncsim::conformance
