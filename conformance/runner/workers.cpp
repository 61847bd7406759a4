#include "conformance/runner/workers.hpp"

#include <fmt/core.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>

namespace syncsim::conformance {
namespace {

using protocol::Json;

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// The worker's side: positions in, one JSON line per record out; ends at EOF.
[[noreturn]] void worker_main(const std::vector<SweepItem>& items, const WorkerCallbacks& cb,
                              int in_fd, int out_fd) {
  std::string buffer;
  char chunk[256];
  for (;;) {
    const auto nl = buffer.find('\n');
    if (nl == std::string::npos) {
      const ssize_t n = ::read(in_fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ::_exit(0);
      buffer.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    const std::size_t position = std::stoull(buffer.substr(0, nl));
    buffer.erase(0, nl + 1);
    const RunRecord r = cb.run(items.at(position));
    const Json line{{"position", position}, {"record", record_to_json(r)}};
    if (!write_all(out_fd, protocol::dump_json(line) + "\n")) ::_exit(1);
  }
}

struct Worker {
  pid_t pid = -1;
  int to = -1, from = -1;  // pipes: positions to it, records from it
  std::string buffer;      // a record line not yet complete
  std::deque<std::size_t> held;
};

class Pool {
 public:
  Pool(const std::vector<Scenario>& scenarios, const std::vector<SweepItem>& items,
       const WorkerCallbacks& cb)
      : scenarios_(scenarios), items_(items), cb_(cb) {}

  std::string run(unsigned jobs) {
    const std::size_t n = std::min<std::size_t>(jobs, items_.size());
    for (std::size_t i = 0; i < n; ++i) {
      Worker w;
      if (!spawn(w)) return error_;
      workers_.push_back(std::move(w));
    }
    for (auto& w : workers_) fill(w);
    while (busy()) {
      if (!wait_and_read()) break;
      deliver();
    }
    for (auto& w : workers_) retire(w);
    return error_;
  }

 private:
  bool spawn(Worker& w) {
    int down[2], up[2];
    if (::pipe(down) != 0 || ::pipe(up) != 0) return fail("pipe");
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) return fail("fork");
    if (pid == 0) {
      ::close(down[1]);
      ::close(up[0]);
      for (auto& other : workers_) ::close(other.to), ::close(other.from);
      worker_main(items_, cb_, down[0], up[1]);
    }
    ::close(down[0]);
    ::close(up[1]);
    w = Worker{pid, down[1], up[0], {}, {}};
    return true;
  }

  bool fail(const char* what) {
    error_ = fmt::format("cannot start a worker: {} failed: {}", what, std::strerror(errno));
    return false;
  }

  // Hands the worker items until it holds cb_.depth, unless told to stop.
  void fill(Worker& w) {
    while (w.pid > 0 && w.held.size() < std::max<std::size_t>(cb_.depth, 1) &&
           next_ < items_.size() && !cb_.stop()) {
      if (!write_all(w.to, std::to_string(next_) + "\n")) return;
      w.held.push_back(next_++);
    }
  }

  bool busy() const {
    for (const auto& w : workers_) {
      if (!w.held.empty()) return true;
    }
    return false;
  }

  bool wait_and_read() {
    std::vector<pollfd> fds;
    for (const auto& w : workers_) fds.push_back({w.held.empty() ? -1 : w.from, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return fail("poll");
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) read_from(workers_[i]);
    }
    return true;
  }

  void read_from(Worker& w) {
    char chunk[65536];
    const ssize_t n = ::read(w.from, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) return replace(w);
    w.buffer.append(chunk, static_cast<std::size_t>(n));
    for (auto nl = w.buffer.find('\n'); nl != std::string::npos; nl = w.buffer.find('\n')) {
      take(w, w.buffer.substr(0, nl));
      w.buffer.erase(0, nl + 1);
    }
    fill(w);
  }

  void take(Worker& w, const std::string& line) {
    const Json j = Json::parse(line, nullptr, false);
    std::string error;
    std::optional<RunRecord> r;
    if (w.held.empty()) return;  // a line for no item given: nothing to place
    const std::size_t position = w.held.front();
    w.held.pop_front();
    // A worker answers its items in the order it was given them.
    const bool in_order = !j.is_discarded() && j.is_object() && j.contains("position") &&
                          j["position"].is_number_unsigned() &&
                          j["position"].get<std::size_t>() == position;
    if (in_order && j.contains("record")) r = record_from_json(j["record"], error);
    if (!r) r = lost(position, "a worker sent an unreadable record: " + error);
    done_.emplace(position, std::move(*r));
  }

  // The worker ended with items in hand: each becomes a failed record, and a
  // new worker takes its place.
  void replace(Worker& w) {
    int status = 0;
    ::waitpid(w.pid, &status, 0);
    const std::string how =
        WIFSIGNALED(status)
            ? fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)))
            : fmt::format("exit status {}", WEXITSTATUS(status));
    for (const auto position : w.held)
      done_.emplace(position, lost(position, "the run crashed: worker " + how));
    ::close(w.to);
    ::close(w.from);
    w = Worker{};
    if (next_ < items_.size() && spawn(w)) fill(w);
  }

  RunRecord lost(std::size_t position, const std::string& why) const {
    const auto& item = items_[position];
    const auto& s = scenarios_[item.scenario];
    RunRecord r;
    r.name = s.name;
    r.file = s.file;
    r.seed = item.seed;
    r.injects_bugs = injects_bugs(s);
    r.failures.push_back(why);
    return r;
  }

  void deliver() {
    for (auto it = done_.find(delivered_); it != done_.end(); it = done_.find(delivered_)) {
      cb_.on_record(delivered_++, std::move(it->second));
      done_.erase(it);
    }
  }

  void retire(Worker& w) {
    if (w.pid <= 0) return;
    ::close(w.to);  // EOF: the worker exits
    ::close(w.from);
    ::waitpid(w.pid, nullptr, 0);
    w.pid = -1;
  }

  const std::vector<Scenario>& scenarios_;
  const std::vector<SweepItem>& items_;
  const WorkerCallbacks& cb_;
  std::vector<Worker> workers_;
  std::map<std::size_t, RunRecord> done_;  // finished, waiting for earlier items
  std::size_t next_ = 0, delivered_ = 0;
  std::string error_;
};

}  // namespace

unsigned jobs_or_cores(unsigned jobs) {
  return jobs > 0 ? jobs : std::max(1u, static_cast<unsigned>(::sysconf(_SC_NPROCESSORS_ONLN)));
}

std::string run_items(const std::vector<Scenario>& scenarios, const std::vector<SweepItem>& items,
                      unsigned jobs, const WorkerCallbacks& given) {
  WorkerCallbacks callbacks = given;
  if (!callbacks.run)
    callbacks.run = [&scenarios](const SweepItem& item) {
      return run_item(scenarios.at(item.scenario), item.seed);
    };
  if (jobs <= 1) {
    for (std::size_t i = 0; i < items.size() && !callbacks.stop(); ++i) {
      callbacks.on_record(i, callbacks.run(items[i]));
    }
    return "";
  }
  // A worker that dies must not take the parent with it through SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  Pool pool(scenarios, items, callbacks);
  return pool.run(jobs);
}

}  // namespace syncsim::conformance
