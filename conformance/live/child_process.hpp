// A shell command as a bounded child process (check --client --exec, hooks).
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
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
// Its output goes to a temporary log (or is shown, with `show`). With
// `stdin_pipe`, its stdin is a pipe that write_line feeds (run --client-exec's
// driver contract, D150); else /dev/null.
class ChildProcess {
 public:
  ChildProcess(const std::string& command, const std::vector<std::string>& env_extra, bool show,
               bool stdin_pipe = false)
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
    int in[2] = {-1, -1};
    if (stdin_pipe && pipe2(in, O_CLOEXEC) == 0) {
      posix_spawn_file_actions_adddup2(&files, in[0], 0);
      stdin_ = in[1];
      fcntl(stdin_, F_SETFL, fcntl(stdin_, F_GETFL) | O_NONBLOCK);
      std::signal(SIGPIPE, SIG_IGN);  // a client that closed its stdin must not end syncsim
    } else {
      posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    }
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
    if (in[0] >= 0) close(in[0]);
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attr);
  }
  ~ChildProcess() {
    stop();
    close_stdin();
    if (!log_path_.empty()) std::remove(log_path_.c_str());
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // Writes one line (a newline is added) to its stdin pipe, whole or not at
  // all: false when there is no pipe, the client closed it, or it holds
  // more unread bytes than fit (a client that does not read: never blocks).
  bool write_line(const std::string& line) {
    if (stdin_ < 0) return false;
    const std::string out = line + "\n";
    std::size_t done = 0;
    for (int tries = 0; done < out.size() && tries < 100; ++tries) {
      const ssize_t n = ::write(stdin_, out.data() + done, out.size() - done);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EAGAIN && done > 0) {
        usleep(1000);  // the rest of a line begun: finish it, bounded
      } else {
        break;
      }
    }
    return done == out.size();
  }
  // The client sees the end of its stdin.
  void close_stdin() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
  }
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
  int stdin_ = -1;  // the write end of its stdin pipe
  std::optional<int> status_;
};

}  // namespace syncsim::conformance
