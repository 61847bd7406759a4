#include "conformance/live/live_scenario.hpp"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>

#include "conformance/live/hooks.hpp"
#include "conformance/live/proxy.hpp"
#include "conformance/runner/expectations.hpp"
#include "conformance/runner/link_spec.hpp"
#include "conformance/runner/scenario_client.hpp"
#include "protocol/json.hpp"
#include "reference/client.hpp"
#include "reference/runtime.hpp"

namespace syncsim::conformance {

using namespace reference;
using Clock = std::chrono::steady_clock;
using protocol::Sender;

namespace {

// The first server option the scenario sets, which a real server has as it
// is configured: such a scenario cannot be run against it (yet).
std::string server_option_set(const ScenarioServer& sv) {
  if (!sv.bugs.empty()) return "bugs (the reference server's bug switch)";
  if (sv.trust_mode) return "trust_mode";
  if (sv.data_queue_limit) return "data_queue_limit";
  if (sv.default_throttle_rate) return "default_throttle_rate";
  if (sv.rate_per_s || sv.rate_capacity) return "rate_per_s/rate_capacity";
  if (sv.idle_timeout_s) return "idle_timeout_s";
  if (sv.max_sessions) return "max_sessions";
  if (!sv.constraints.empty()) return "constraints";
  if (sv.clock_offset_ms != 0 || sv.drift_ppm != 0) return "clock_offset_ms/drift_ppm";
  if (sv.delta_push) return "delta_push";
  if (sv.rate_limit_reject) return "rate_limit_reject";
  if (sv.presence_max_channels) return "presence_max_channels";
  return "";
}

bool is_client(const Scenario& s, const std::string& node) {
  for (const auto& c : s.clients) {
    if (c.name == node) return true;
  }
  return false;
}

std::string link_unsupported(const LinkSpec& k) {
  if (k.segment_loss_ppm || k.segment_corrupt_ppm)
    return "segment loss and corruption are the simulator's (a real socket repairs or breaks)";
  if (k.bandwidth_kbps) return "bandwidth is the simulator's";
  return "";
}

std::string step_unsupported(const Scenario& s, const ScenarioEvent& e,
                             const LiveScenarioOptions& o) {
  const StepSpec& spec = step(e.kind);
  const bool on_client = !e.nodes.empty() && is_client(s, e.nodes[0]);
  if (e.kind == StepKind::Link) return e.link ? link_unsupported(*e.link) : "";
  if (spec.live == LiveMode::SimulatorOnly) return "it is simulator-only";
  if (spec.live == LiveMode::Hook) {
    if (on_client) return "a client's " + std::string(spec.name) + " is not done live yet";
    if (!o.hooks.count(std::string(spec.hook)))
      return "it needs the operator hook \"" + std::string(spec.hook) +
             "\", which the target file does not declare";
  }
  return "";
}

// A rule the scenario demands be caught that no live run can judge yet: no
// judge reads it from the wire alone (only from the reference's state notes,
// or with a configured limit the live checkers are not given), and no
// expectation of the scenario cites it.
std::string flagged_not_judged_live(const Scenario& s) {
  const auto declared = SessionChecker::declared_rules();
  for (const auto& rule : s.expect.flagged) {
    const bool on_wire = std::any_of(declared.begin(), declared.end(), [&](const DeclaredRule& d) {
      return d.rule == rule && (d.scope == Scope::Trace || d.scope == Scope::ServerClock);
    });
    const bool cited = std::any_of(s.expect.frames.begin(), s.expect.frames.end(),
                                   [&](const FrameExpectation& f) { return f.rule == rule; }) ||
                       std::any_of(s.expect.stats.begin(), s.expect.stats.end(),
                                   [&](const StatExpectation& st) { return st.rule == rule; });
    if (!on_wire && !cited) return rule;
  }
  return "";
}

}  // namespace

std::string live_unsupported(const Scenario& s, const LiveScenarioOptions& o) {
  if (!s.simulator_only.empty()) return "simulator-only: " + s.simulator_only;
  if (const auto rule = flagged_not_judged_live(s); !rule.empty())
    return "it demands " + rule +
           " be caught, which is judged only from the reference's state notes or configured "
           "limits, not yet live";
  if (const auto opt = server_option_set(s.server); !opt.empty())
    return "sets the server option " + opt + ", which a real server has as configured";
  if (s.segment_loss_ppm != 0) return "segment_loss_ppm is the simulator's";
  for (const auto& l : s.links) {
    if (const auto why = link_unsupported(l); !why.empty()) return "a link: " + why;
  }
  for (const auto& c : s.clients) {
    if (c.clock_offset_ms != 0 || c.drift_ppm != 0)
      return "client " + c.name + "'s clock offset or drift is the simulator's";
    if (c.token && o.jwt_secret.empty())
      return "client " + c.name + " needs tokens: give the target's jwt_secret";
  }
  for (std::size_t i = 0; i < s.events.size(); ++i) {
    const auto why = step_unsupported(s, s.events[i], o);
    if (!why.empty())
      return "step " + std::to_string(i + 1) + " (" + s.events[i].action + "): " + why;
  }
  return "";
}

namespace {

// One scenario client: its proxy, its link parameters and the reference client.
struct Slot {
  std::string name;
  std::unique_ptr<Proxy> proxy;
  sim::LinkParams to_server, to_client;
  sim::Prng prng;
  std::shared_ptr<Client<TcpRuntime>> client;
  std::vector<SeenFrame> frames;
  std::uint64_t refused = 0;
  // Per direction (0: client -> server, 1: server -> client): a partition
  // and a clog block it independently, as in the simulator.
  bool partitioned[2] = {false, false};
  std::chrono::steady_clock::time_point clogged_until[2]{};
  explicit Slot(std::uint64_t seed) : prng(seed) {}
};

class LiveRun {
 public:
  LiveRun(boost::asio::io_context& ioc, const Scenario& s, const LiveScenarioOptions& o)
      : ioc_(ioc), s_(s), o_(o), t0_(Clock::now()) {}

  ScenarioResult run();

 private:
  std::chrono::nanoseconds scaled(double seconds) const {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * o_.time_scale * 1e9));
  }
  std::int64_t scenario_ns() const {  // now, in the scenario's time
    return static_cast<std::int64_t>(
        static_cast<double>(std::chrono::nanoseconds(Clock::now() - t0_).count()) / o_.time_scale);
  }
  void say(const std::string& line) const {
    if (o_.on_event) o_.on_event(line);
  }
  bool start_proxies(std::string& error);
  void create_client(std::size_t i);
  void schedule(double at_s, std::function<void()> f);
  void schedule_workload();
  void schedule_steps();
  void wait_then_perform(const ScenarioEvent& e, std::size_t index, ClientCore::Stats base,
                         Clock::time_point deadline,
                         std::shared_ptr<boost::asio::steady_timer> poll);
  void perform(const ScenarioEvent& e, std::size_t index);
  void partition(const std::string& from, const std::string& to, bool on);
  void clog(const std::string& from, const std::string& to, double for_s);
  std::pair<Slot*, int> direction(const std::string& from, const std::string& to);
  void refresh(Slot& sl, int dir);
  void hook_step(const ScenarioEvent& e, std::size_t index);
  void call_hook(const std::string& name, const std::map<std::string, std::string>& values,
                 std::function<void()> on_ok);
  void next_hook();
  void poll_hook();
  void link(const LinkSpec& k);
  Slot* slot(const std::string& name);
  bool converged() const;
  void convergence(ScenarioResult& out) const;
  void finish(ScenarioResult& result);

  boost::asio::io_context& ioc_;
  const Scenario& s_;
  const LiveScenarioOptions& o_;
  Clock::time_point t0_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::unique_ptr<boost::asio::steady_timer>> timers_;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> waits_;  // `after:` polls
  std::vector<std::string> failures_;
  std::vector<std::string> notes_;
  // Operator hooks run one at a time, in the order their steps came (D132).
  struct HookCall {
    std::string name, command;
    std::function<void()> on_ok;
  };
  std::deque<HookCall> hook_queue_;
  std::unique_ptr<HookProcess> hook_;
  HookCall hook_call_;
  std::unique_ptr<boost::asio::steady_timer> hook_timer_;
};

Slot* LiveRun::slot(const std::string& name) {
  for (auto& sl : slots_) {
    if (sl->name == name) return sl.get();
  }
  return nullptr;
}

bool LiveRun::start_proxies(std::string& error) {
  for (std::size_t i = 0; i < s_.clients.size(); ++i) {
    const auto& c = s_.clients[i];
    auto sl = std::make_unique<Slot>(sim::Prng::stream(o_.seed, "live/" + c.name).next());
    sl->name = c.name;
    sim::LinkParams base;
    base.latency = static_cast<sim::Time>(s_.latency_ms * 1e6);
    base.jitter = static_cast<sim::Time>(s_.jitter_ms * 1e6);
    sl->to_server = sl->to_client = base;
    for (const auto& l : s_.links) {
      if ((l.from == c.name || l.from == "*") && (l.to == "server" || l.to == "*"))
        apply_link(sl->to_server, l);
      if ((l.from == "server" || l.from == "*") && (l.to == c.name || l.to == "*"))
        apply_link(sl->to_client, l);
    }
    Proxy::Options po;
    po.listen = Endpoint{Endpoint::Transport::Tcp, "127.0.0.1", 0, "/"};
    po.upstream = o_.server;
    po.faults = ProxyFaults{sl->to_server, sl->to_client};
    po.seed = o_.seed + i;
    po.on_event = [this, name = c.name](const std::string& line) { say(name + ": " + line); };
    sl->proxy = std::make_unique<Proxy>(ioc_, po);
    boost::system::error_code ec;
    if (!sl->proxy->start(ec)) {
      error = "cannot start the proxy for " + c.name + ": " + ec.message();
      return false;
    }
    slots_.push_back(std::move(sl));
  }
  return true;
}

// The client exists from the start, so writes and steps before its start_s
// are queued, as in the simulator; it connects at start_s.
void LiveRun::create_client(std::size_t i) {
  const auto& c = s_.clients[i];
  Slot& sl = *slots_[i];
  TokenMint tm;
  tm.secret = o_.jwt_secret;
  const auto unix_s = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  tm.server_unix_s_at_start = [unix_s, scale = o_.time_scale](double start_s) {
    return unix_s() + static_cast<std::int64_t>(start_s * scale);
  };
  tm.server_unix_s_now = unix_s;
  ClientConfig cfg = scenario_client_config(c, i, tm);
  for (const auto& b : c.bugs) {
    if (const auto bug = client_bug_from_name(b)) cfg.bugs.insert(*bug);
  }
  const boost::asio::ip::tcp::endpoint at(boost::asio::ip::make_address("127.0.0.1"),
                                          sl.proxy->port());
  sl.client = std::make_shared<Client<TcpRuntime>>(TcpRuntime{&ioc_, &sl.prng}, at, cfg,
                                                   ClientPersistent{});
  sl.client->on_send = [this, &sl](const protocol::Message& m, std::uint64_t) {
    sl.frames.push_back(SeenFrame{scenario_ns(), true, m});
  };
  sl.client->on_receive = [this, &sl](const protocol::Message& m, std::uint64_t) {
    sl.frames.push_back(SeenFrame{scenario_ns(), false, m});
  };
}

void LiveRun::schedule(double at_s, std::function<void()> f) {
  auto timer = std::make_unique<boost::asio::steady_timer>(ioc_);
  timer->expires_at(t0_ + scaled(at_s));
  timer->async_wait([f = std::move(f)](const boost::system::error_code& ec) {
    if (!ec) f();
  });
  timers_.push_back(std::move(timer));
}

// Each client's `writes`, at times of the write window drawn from the seed,
// as in the simulator.
void LiveRun::schedule_workload() {
  for (std::size_t i = 0; i < s_.clients.size(); ++i) {
    const auto& c = s_.clients[i];
    auto rng = sim::Prng::stream(o_.seed, "live-workload/" + c.name);
    const double span = std::max(0.0, s_.write_until_s - s_.write_from_s);
    for (int w = 0; w < c.writes; ++w) {
      const double at_s = s_.write_from_s + span * static_cast<double>(rng.below(1'000'000)) / 1e6;
      const WorkloadWrite ww = workload_write(c, w, rng);
      schedule(at_s, [this, i, ww] {
        Slot& sl = *slots_[i];
        if (sl.client && !sl.client->write(ww.collection, ww.document, ww.value)) ++sl.refused;
      });
    }
  }
}

void LiveRun::schedule_steps() {
  for (std::size_t i = 0; i < s_.events.size(); ++i) {
    const ScenarioEvent& e = s_.events[i];
    for (int k = 0; k < e.times; ++k) {
      schedule(e.at_s + k * e.every_s, [this, &e, i] {
        if (!e.after) return perform(e, i);
        Slot* sl = slot(e.after->client);
        const ClientCore::Stats base =
            sl && sl->client ? sl->client->core().stats() : ClientCore::Stats{};
        const auto deadline = e.after->timeout_s > 0 ? Clock::now() + scaled(e.after->timeout_s)
                                                     : Clock::time_point::max();
        wait_then_perform(e, i, base, deadline, nullptr);
      });
    }
  }
}

void LiveRun::wait_then_perform(const ScenarioEvent& e, std::size_t index, ClientCore::Stats base,
                                Clock::time_point deadline,
                                std::shared_ptr<boost::asio::steady_timer> poll) {
  Slot* sl = slot(e.after->client);
  if (sl && sl->client && condition_met(*e.after, sl->client->core(), base)) {
    const double at_s = static_cast<double>(scenario_ns()) / 1e9 + e.delay_s;
    return schedule(at_s, [this, &e, index] { perform(e, index); });
  }
  if (Clock::now() >= deadline) {
    failures_.push_back("step " + std::to_string(index + 1) + " (" + e.action + ") waited for " +
                        e.after->client + " " + std::string(condition_name(e.after->condition)) +
                        " and timed out");
    return;
  }
  // One timer per wait, polled every 10 ms (not one more timer per poll).
  if (!poll) poll = waits_.emplace_back(std::make_shared<boost::asio::steady_timer>(ioc_));
  poll->expires_after(std::chrono::milliseconds(10));
  poll->async_wait([this, &e, index, base, deadline, poll](const boost::system::error_code& ec) {
    if (!ec) wait_then_perform(e, index, base, deadline, poll);
  });
}

// The proxy direction of from -> to (the client among them, and 0 for
// client -> server); none between two clients, which never talk directly.
std::pair<Slot*, int> LiveRun::direction(const std::string& from, const std::string& to) {
  if (Slot* sl = slot(from); sl && to == "server") return {sl, 0};
  if (Slot* sl = slot(to); sl && from == "server") return {sl, 1};
  return {nullptr, 0};
}

void LiveRun::refresh(Slot& sl, int dir) {
  const bool blocked = sl.partitioned[dir] || Clock::now() < sl.clogged_until[dir];
  sl.proxy->set_blocked(dir == 0 ? Sender::Client : Sender::Server, blocked);
}

void LiveRun::partition(const std::string& from, const std::string& to, bool on) {
  const auto [sl, dir] = direction(from, to);
  if (!sl) return;
  sl->partitioned[dir] = on;
  refresh(*sl, dir);
}

void LiveRun::clog(const std::string& from, const std::string& to, double for_s) {
  const auto [sl, dir] = direction(from, to);
  if (!sl) return;
  sl->clogged_until[dir] = std::max(sl->clogged_until[dir], Clock::now() + scaled(for_s));
  refresh(*sl, dir);
  const double until = static_cast<double>(scenario_ns()) / 1e9 + for_s;
  schedule(until, [this, sl = sl, dir = dir] { refresh(*sl, dir); });
}

void LiveRun::link(const LinkSpec& k) {
  for (auto& sl : slots_) {
    // From the proxy's parameters as they are: drop_next already used stays used.
    sl->to_server = sl->proxy->link(Sender::Client);
    sl->to_client = sl->proxy->link(Sender::Server);
    if ((k.from == sl->name || k.from == "*") && (k.to == "server" || k.to == "*")) {
      apply_link(sl->to_server, k);
      sl->proxy->set_link(Sender::Client, sl->to_server);
    }
    if ((k.from == "server" || k.from == "*") && (k.to == sl->name || k.to == "*")) {
      apply_link(sl->to_client, k);
      sl->proxy->set_link(Sender::Server, sl->to_client);
    }
  }
}

void LiveRun::perform(const ScenarioEvent& e, std::size_t index) {
  say("step " + std::to_string(index + 1) + ": " + e.action);
  const auto& n = e.nodes;
  switch (e.kind) {
    case StepKind::Partition:
      partition(n[0], n[1], true);
      partition(n[1], n[0], true);
      return;
    case StepKind::PartitionOneWay: partition(n[0], n[1], true); return;
    case StepKind::Heal:
      partition(n[0], n[1], false);
      partition(n[1], n[0], false);
      return;
    case StepKind::Clog: clog(n[0], n[1], e.for_s); return;
    case StepKind::Reset:
      for (auto& sl : slots_) {
        if (n[0] == "server" || n[0] == sl->name) sl->proxy->reset_connections();
      }
      return;
    case StepKind::Link: link(*e.link); return;
    case StepKind::Write:
    case StepKind::Presence:
    case StepKind::Samples:
    case StepKind::ApplyRate:
    case StepKind::CorruptState:
    case StepKind::Resubscribe:
      if (Slot* sl = slot(e.client); sl && sl->client)
        perform_client_step(*sl->client, e, index, sl->refused);
      return;
    case StepKind::Restart:
    case StepKind::Crash:
    case StepKind::ClockJump:
    case StepKind::Purge:
    case StepKind::ServerWrite:
    case StepKind::Definition: hook_step(e, index); return;
    case StepKind::Drift: return;  // refused before the run (live_unsupported)
  }
}

// A step the target's operator does (D132): the values its hook command
// gets, then what the checkers must know once it succeeded.
void LiveRun::hook_step(const ScenarioEvent& e, std::size_t index) {
  const std::string hook(step(e.kind).hook);
  std::map<std::string, std::string> v{{"tenant", "0"}, {"collection", e.collection}};
  switch (e.kind) {
    case StepKind::Purge:
      return call_hook(hook, v, [this, coll = e.collection] {
        for (auto& sl : slots_) sl->proxy->purged(0, coll);
      });
    case StepKind::ServerWrite:
      for (int i = 0; i < e.count; ++i) {
        v["document"] = e.document.empty() ? "srv-" + std::to_string(i % 50) : e.document;
        v["value_hex"] = protocol::to_hex(write_value(i, index, e.size));
        call_hook(hook, v, {});
      }
      return;
    case StepKind::Definition:
      v = {{"tenant", "0"},
           {"type", "function"},
           {"name", e.name},
           {"action", e.definition_action},
           {"json", e.definition_action == "delete" ? "" : "{}"}};
      return call_hook(hook, v, {});
    case StepKind::ClockJump: v["delta_ms"] = std::to_string(e.delta_ms); break;
    default: break;
  }
  call_hook(hook, v, {});
}

void LiveRun::call_hook(const std::string& name, const std::map<std::string, std::string>& values,
                        std::function<void()> on_ok) {
  if (hook_queue_.size() >= 1000) {
    failures_.push_back("hook \"" + name + "\": over 1000 calls queued (an error of the run)");
    return;
  }
  hook_queue_.push_back(HookCall{name, hook_command(o_.hooks.at(name), values), std::move(on_ok)});
  if (!hook_) next_hook();
}

void LiveRun::next_hook() {
  if (hook_queue_.empty()) return;
  hook_call_ = std::move(hook_queue_.front());
  hook_queue_.pop_front();
  say("hook " + hook_call_.name + ": " + hook_call_.command);
  hook_ = std::make_unique<HookProcess>(hook_call_.name, hook_call_.command, o_.hook_timeout_s);
  poll_hook();
}

// A hook that fails is an error of the run, not a finding about the target.
void LiveRun::poll_hook() {
  if (!hook_) return;
  const auto outcome = hook_->poll();
  if (!outcome) {
    hook_timer_ = std::make_unique<boost::asio::steady_timer>(ioc_, std::chrono::milliseconds(10));
    hook_timer_->async_wait([this](const boost::system::error_code& ec) {
      if (!ec) poll_hook();
    });
    return;
  }
  (outcome->ok ? notes_ : failures_).push_back(outcome->report);
  if (outcome->ok && hook_call_.on_ok) hook_call_.on_ok();
  hook_.reset();
  next_hook();
}

// Every client is in session with nothing unacknowledged, and the clients
// subscribed to a collection see the same documents.
bool LiveRun::converged() const {
  ScenarioResult probe;
  convergence(probe);
  return probe.failures.empty();
}

void LiveRun::convergence(ScenarioResult& out) const {
  const std::string cite = s_.expect.converged_rule + ": ";
  std::map<std::string, std::pair<std::string, const std::map<std::string, protocol::Bytes>*>>
      first_view;  // collection -> (client, view)
  static const std::map<std::string, protocol::Bytes> kEmpty;
  for (std::size_t i = 0; i < s_.clients.size(); ++i) {
    const auto& c = s_.clients[i];
    const auto& client = slots_[i]->client;
    if (!client) continue;
    const ClientCore& core = client->core();
    if (!core.authenticated())
      out.failures.push_back(cite + c.name + " is not connected at the end");
    if (core.pending() > 0)
      out.failures.push_back(cite + c.name + " still has " + std::to_string(core.pending()) +
                             " unacknowledged mutations");
    for (const auto& coll : c.shapes) {
      const auto v = core.view().find(coll);
      const auto* docs = v == core.view().end() ? &kEmpty : &v->second;
      const auto [it, first] = first_view.try_emplace(coll, c.name, docs);
      if (first || *it->second.second == *docs) continue;
      out.failures.push_back(cite + c.name + "'s view of \"" + coll + "\" has " +
                             std::to_string(docs->size()) + " documents, " + it->second.first +
                             "'s " + std::to_string(it->second.second->size()) + "; " +
                             first_difference(*docs, *it->second.second, c.name, it->second.first));
    }
  }
}

// Waits for `done` on the io_context, at most `limit` of wall time.
void run_until(boost::asio::io_context& ioc, const std::function<bool()>& done,
               Clock::time_point limit) {
  while (!done() && Clock::now() < limit) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(10));
  }
}

void LiveRun::finish(ScenarioResult& result) {
  if (hook_) {
    failures_.push_back(
        hook_->abandon("still ran when the scenario ended: an error of the run").report);
    hook_.reset();
  }
  if (hook_timer_) hook_timer_->cancel();
  // What is owed is judged at the end of the timeline with the connections
  // still open, as in the simulator: a close forgets a connection's debts.
  for (auto& sl : slots_) sl->proxy->finish();
  for (auto& sl : slots_) {
    if (sl->client) sl->client->stop();
  }
  for (auto& sl : slots_) sl->proxy->stop();
  for (auto& t : timers_) t->cancel();
  for (auto& t : waits_) t->cancel();
  if (ioc_.stopped()) ioc_.restart();
  ioc_.run_for(std::chrono::milliseconds(100));  // the closes complete
  for (auto& sl : slots_) {
    const auto& found = sl->proxy->checker().findings();
    result.findings.insert(result.findings.end(), found.begin(), found.end());
    result.must_findings += sl->proxy->checker().must_count();
    result.frames += sl->frames.size();
    for (const auto& e : sl->proxy->checker().internal_errors())
      result.failures.push_back("checker internal error: " + e);
  }
}

ScenarioResult LiveRun::run() {
  ScenarioResult result;
  result.name = s_.name;
  result.file = s_.file;
  result.seed = o_.seed;
  std::string error;
  if (!start_proxies(error)) {
    result.failures.push_back(error);
    return result;
  }
  for (std::size_t i = 0; i < s_.clients.size(); ++i) {
    create_client(i);
    schedule(s_.clients[i].start_s, [this, i] {
      slots_[i]->client->start();
      say(slots_[i]->name + ": started, through the proxy on port " +
          std::to_string(slots_[i]->proxy->port()));
    });
  }
  schedule_workload();
  schedule_steps();
  const auto end = t0_ + scaled(s_.duration_s);
  run_until(
      ioc_, [] { return false; }, end);
  if (s_.expect.converged)
    run_until(
        ioc_, [this] { return converged(); }, Clock::now() + scaled(o_.settle_s));
  const double wall_s = std::chrono::duration<double>(Clock::now() - t0_).count();
  ScenarioResult settled;  // judged while the clients still run
  if (s_.expect.converged) convergence(settled);
  std::map<std::string, std::vector<SeenFrame>> frames;
  std::map<std::string, ClientAtEnd> at_end;
  for (auto& sl : slots_) {
    if (sl->client) at_end[sl->name] = ClientAtEnd{&sl->client->core(), sl->refused};
  }
  finish(result);  // the checkers judge what is still owed
  for (auto& sl : slots_) frames[sl->name] = sl->frames;
  result.failures.insert(result.failures.end(), failures_.begin(), failures_.end());
  result.notes.insert(result.notes.end(), notes_.begin(), notes_.end());
  result.virtual_s = wall_s;
  judge_expectations(
      s_, frames, at_end,
      [&settled](ScenarioResult& out) {
        out.failures.insert(out.failures.end(), settled.failures.begin(), settled.failures.end());
      },
      result);
  return result;
}

}  // namespace

std::string unreachable(boost::asio::io_context& ioc, const Endpoint& target) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(target.host, ec);
  if (ec) return target.host + ": " + ec.message();
  boost::asio::ip::tcp::socket socket(ioc);
  std::optional<boost::system::error_code> done;
  socket.async_connect({address, target.port}, [&](boost::system::error_code e) { done = e; });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(20));
  }
  if (!done) {
    socket.close(ec);
    ioc.restart();
    ioc.run_for(std::chrono::milliseconds(5));  // the aborted connect completes
    return "no answer within 3 s";
  }
  return *done ? done->message() : "";
}

ScenarioResult run_live_scenario(boost::asio::io_context& ioc, const Scenario& s,
                                 const LiveScenarioOptions& o) {
  LiveRun run(ioc, s, o);
  return run.run();
}

}  // namespace syncsim::conformance
