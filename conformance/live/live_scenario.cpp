#include "conformance/live/live_scenario.hpp"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "conformance/live/child_process.hpp"
#include "conformance/live/driver_contract.hpp"
#include "conformance/live/hooks.hpp"
#include "conformance/live/live_server.hpp"
#include "conformance/live/proxy.hpp"
#include "conformance/runner/expectations.hpp"
#include "conformance/runner/link_spec.hpp"
#include "conformance/runner/scenario_client.hpp"
#include "protocol/codec.hpp"
#include "protocol/json.hpp"
#include "reference/client.hpp"
#include "reference/jwt.hpp"
#include "reference/runtime.hpp"

namespace syncsim::conformance {

using namespace reference;
using Clock = std::chrono::steady_clock;
using protocol::Sender;

namespace {

// The scenario's server options as settings (D185): name -> value, flags 1.
std::vector<std::pair<std::string, double>> server_settings(const ScenarioServer& sv) {
  std::vector<std::pair<std::string, double>> out;
  const auto add = [&out](const char* name, const auto& v) {
    if (v) out.emplace_back(name, static_cast<double>(*v));
  };
  add("trust_mode", sv.trust_mode);
  add("data_queue_limit", sv.data_queue_limit);
  add("default_throttle_rate", sv.default_throttle_rate);
  add("rate_per_s", sv.rate_per_s);
  add("rate_capacity", sv.rate_capacity);
  add("idle_timeout_s", sv.idle_timeout_s);
  add("max_sessions", sv.max_sessions);
  add("presence_max_channels", sv.presence_max_channels);
  if (sv.delta_push) out.emplace_back("delta_push", 1);
  if (sv.rate_limit_reject) out.emplace_back("rate_limit_reject", 1);
  return out;
}

std::string number_text(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// Why a real server cannot run the scenario's `server:` options: the
// reference's own switches never, the rest where the target declares the
// same value among its settings (D185). "" if it can.
std::string server_options_unsupported(const ScenarioServer& sv,
                                       const std::map<std::string, double>& settings) {
  if (!sv.bugs.empty()) return "sets the server option bugs (the reference server's bug switch)";
  if (!sv.constraints.empty())
    return "sets the server option constraints, which a real server has as configured";
  if (sv.clock_offset_ms != 0 || sv.drift_ppm != 0)
    return "sets the server's clock_offset_ms/drift_ppm, which are the simulator's";
  for (const auto& [name, v] : server_settings(sv)) {
    const auto it = settings.find(name);
    if (it == settings.end())
      return "sets the server option " + name + " = " + number_text(v) +
             ", which the target file's settings: do not declare";
    if (it->second != v)
      return "sets the server option " + name + " = " + number_text(v) +
             ", but the target's settings: say " + number_text(it->second);
  }
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

// A client step is a driver command of the same name (D150) for the client under test.
std::string needs_verb(const LiveScenarioOptions& o, StepKind k) {
  const std::string name(step(k).name);
  if (o.client_driver.count(name)) return "";
  return "it needs the driver command \"" + name +
         "\", which the client does not declare (--client-driver, the target's driver:)";
}

DriverCommand step_command(StepKind k) {
  DriverCommand c;
  c.verb = DriverVerb::Step;
  c.step = k;
  return c;
}

std::string step_unsupported(const Scenario& s, const ScenarioEvent& e,
                             const LiveScenarioOptions& o) {
  const StepSpec& spec = step(e.kind);
  const bool on_client = !e.nodes.empty() && is_client(s, e.nodes[0]);
  const bool exec = !o.client_exec.empty();
  if (e.kind == StepKind::Link) return e.link ? link_unsupported(*e.link) : "";
  if (spec.live == LiveMode::SimulatorOnly) return "it is simulator-only";
  if (exec && e.after && external_clients(s).count(e.after->client))
    return "it waits for the client under test's state, which the driver contract does not "
           "report (D152)";
  if (exec && spec.needs_client && external_clients(s).count(e.client))
    return needs_verb(o, e.kind);
  if (spec.live == LiveMode::Hook) {
    if (on_client) return "a client's " + std::string(spec.name) + " is not done live yet";
    if (exec) {  // the reference server is ours: purge, writes, definitions act on it
      if (e.kind == StepKind::Purge || e.kind == StepKind::ServerWrite ||
          e.kind == StepKind::Definition)
        return "";
      return "the reference server's " + std::string(spec.name) +
             " is not done with --client-exec yet";
    }
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

std::set<std::string> external_clients(const Scenario& s) {
  std::set<std::string> out;
  for (const auto& c : s.clients) {
    if (c.external) out.insert(c.name);
  }
  if (out.empty() && !s.clients.empty()) out.insert(s.clients.front().name);
  return out;
}

namespace {

// The reference client's own settings a scenario gives a client ("" none):
// the client under test keeps its own (D152).
std::string reference_options(const ScenarioClient& c) {
  std::string out;
  const auto add = [&out](bool set, const char* name) {
    if (set) out += (out.empty() ? "" : ", ") + std::string(name);
  };
  add(c.throttle_high || c.throttle_low, "throttle_high/low");
  add(c.suggested_rate.has_value(), "suggested_rate");
  add(c.ping_interval_s.has_value(), "ping_interval_s");
  add(c.retransmit_ms.has_value(), "retransmit_ms");
  add(c.vclock_interval_s.has_value(), "vclock_interval_s");
  add(c.wire_version.has_value(), "wire_version");
  add(c.pending_limit.has_value(), "pending_limit");
  add(c.backoff_jitter_ms != 0, "backoff_jitter_ms");
  return out;
}

// What a --client-exec run cannot do with this scenario (D152), or "".
std::string exec_unsupported(const Scenario& s, const LiveScenarioOptions& o) {
  if (!s.expect.flagged.empty())
    return "a bug scenario: it demands that a defect planted in the reference be caught";
  if (!s.server.bugs.empty()) return "it breaks the reference server on purpose (bugs)";
  if (s.server.clock_offset_ms != 0 || s.server.drift_ppm != 0)
    return "the server's clock offset or drift is the simulator's";
  const auto external = external_clients(s);
  for (const auto& c : s.clients) {
    if (!external.count(c.name)) continue;
    const std::string who = "client " + c.name + " (under test): ";
    if (!c.bugs.empty()) return who + "bugs break the reference client, not yours";
    if (c.token && c.token->refresh != "ok")
      return who + "token refresh \"" + c.token->refresh +
             "\" is the reference client's token source";
    const bool judged = std::any_of(s.expect.frames.begin(), s.expect.frames.end(),
                                    [&](const FrameExpectation& f) { return f.client == c.name; });
    if (judged && !reference_options(c).empty())
      return who + "its frames are expected as the reference client's " + reference_options(c) +
             " make them; yours has its own";
    if (c.writes > 0) {
      if (const auto why = needs_verb(o, StepKind::Write); !why.empty())
        return who + "its writes: " + why;
    }
    if (c.apply_rate > 0) {
      if (const auto why = needs_verb(o, StepKind::ApplyRate); !why.empty())
        return who + "its apply_rate: " + why;
    }
  }
  // An expectation of its stats is not judged (a note says so, D179); the
  // checker still judges every frame of it.
  return "";
}

}  // namespace

bool live_exclusive(const Scenario& s) {
  return std::any_of(s.events.begin(), s.events.end(), [](const ScenarioEvent& e) {
    return e.kind == StepKind::Restart || e.kind == StepKind::Crash ||
           e.kind == StepKind::ClockJump;
  });
}

std::string live_unsupported(const Scenario& s, const LiveScenarioOptions& o) {
  if (!s.simulator_only.empty()) return "simulator-only: " + s.simulator_only;
  const bool exec = !o.client_exec.empty();
  if (exec) {
    if (const auto why = exec_unsupported(s, o); !why.empty()) return why;
  }
  if (const auto rule = flagged_not_judged_live(s); !rule.empty())
    return "it demands " + rule +
           " be caught, which is judged only from the reference's state notes or configured "
           "limits, not yet live";
  if (const auto why = server_options_unsupported(s.server, o.settings); !exec && !why.empty())
    return why;
  if (s.segment_loss_ppm != 0) return "segment_loss_ppm is the simulator's";
  for (const auto& l : s.links) {
    if (const auto why = link_unsupported(l); !why.empty()) return "a link: " + why;
  }
  for (const auto& c : s.clients) {
    if (c.drift_ppm != 0) return "client " + c.name + "'s clock drift is the simulator's";
    if (c.clock_offset_ms != 0 && exec && external_clients(s).count(c.name))
      return "client " + c.name + " (under test): its clock offset is the simulator's";
    if (c.token && o.jwt_secret.empty() && !exec)
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

// One scenario client: its proxy, its link parameters and the reference
// client, or (run --client-exec) the process of the client under test.
struct Slot {
  std::string name;
  bool external = false;                  // the user's client (D151)
  std::unique_ptr<ChildProcess> process;  // started at its start_s
  bool quit = false, exit_reported = false;
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
  bool exec() const { return !o_.client_exec.empty(); }
  bool start_server(std::string& error);
  void start_external(Slot& sl, const ScenarioClient& c);
  void watch_externals();
  void drive(Slot& sl, const DriverCommand& c, const std::string& why);
  void drive_step(Slot& sl, const ScenarioEvent& e, std::size_t index);
  void stop_external(Slot& sl, ScenarioResult& result);
  bool server_admin(const std::string& hook, const std::map<std::string, std::string>& v);
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
  std::uint32_t tenant_base_ = 0;       // D165: the run's tenants are base + the scenario's
  std::unique_ptr<LiveServer> server_;  // run --client-exec: the reference server
  Endpoint upstream_;                   // where the proxies connect
  std::string secret_;                  // the tokens' HS256 key
  std::unique_ptr<boost::asio::steady_timer> watch_timer_;
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
    // The client's identity is this run's own (D182): a server remembers
    // lite_ids and peer_ids, and other runs of the scenario share the seed.
    auto sl =
        std::make_unique<Slot>(sim::Prng::stream(o_.seed, "live/" + c.name + s_.live_tag).next());
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
    po.upstream = upstream_;
    po.faults = ProxyFaults{sl->to_server, sl->to_client};
    po.seed = o_.seed + i;
    po.sees_every_session = s_.clients.size() == 1;  // each client has its own proxy (D170)
    po.on_event = [this, name = c.name](const std::string& line) { say(name + ": " + line); };
    sl->external = exec() && external_clients(s_).count(c.name) > 0;
    if (sl->external) {
      // The frames of a client we cannot tap, as the proxy sees them: what it
      // wrote, and what it was handed (for the frame expectations).
      po.on_frame = [this, at = sl.get()](const protocol::Bytes& f, Sender from, Seen seen) {
        if ((from == Sender::Client) != (seen == Seen::Written)) return;
        auto d = protocol::decode_frame(f);
        if (d.message && at->frames.size() < 1'000'000)
          at->frames.push_back(SeenFrame{scenario_ns(), from == Sender::Client, *d.message});
      };
    }
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
  if (sl.external) return;
  TokenMint tm;
  tm.secret = secret_;
  const auto unix_s = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  tm.server_unix_s_at_start = [unix_s, scale = o_.time_scale](double start_s) {
    return unix_s() + static_cast<std::int64_t>(start_s * scale);
  };
  tm.server_unix_s_now = unix_s;
  tm.tenant_base = tenant_base_;
  ClientConfig cfg = scenario_client_config(c, i, tm);
  for (const auto& b : c.bugs) {
    if (const auto bug = client_bug_from_name(b)) cfg.bugs.insert(*bug);
  }
  const boost::asio::ip::tcp::endpoint at(boost::asio::ip::make_address("127.0.0.1"),
                                          sl.proxy->port());
  TcpRuntime rt{&ioc_, &sl.prng};
  rt.clock_offset_ms = c.clock_offset_ms;  // its wall clock; drift stays the simulator's
  sl.client = std::make_shared<Client<TcpRuntime>>(rt, at, cfg, ClientPersistent{});
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
        if (sl.external) {
          DriverCommand dc = step_command(StepKind::Write);
          dc.collection = ww.collection;
          dc.document = ww.document;
          dc.value = ww.value;
          return drive(sl, dc, "a write of its workload");
        }
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
    case StepKind::Unsubscribe:
      if (Slot* sl = slot(e.client); sl && sl->external) {
        drive_step(*sl, e, index);
      } else if (sl && sl->client) {
        perform_client_step(*sl->client, e, index, sl->refused);
      }
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
  const std::string tenant = std::to_string(tenant_base_);
  std::map<std::string, std::string> v{{"tenant", tenant}, {"collection", e.collection}};
  switch (e.kind) {
    case StepKind::Purge:
      return call_hook(hook, v, [this, coll = e.collection] {
        for (auto& sl : slots_) sl->proxy->purged(tenant_base_, coll);
      });
    case StepKind::ServerWrite:
      for (int i = 0; i < e.count; ++i) {
        v["document"] = e.document.empty() ? "srv-" + std::to_string(i % 50) : e.document;
        v["value_hex"] = protocol::to_hex(write_value(i, index, e.size));
        call_hook(hook, v, {});
      }
      return;
    case StepKind::Definition:
      v = {{"tenant", tenant},
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

// run --client-exec: the reference server on a free port of 127.0.0.1,
// configured as the scenario's `server:` says (it is ours, D151).
bool LiveRun::start_server(std::string& error) {
  LiveServer::Options so;
  so.listen = Endpoint{Endpoint::Transport::Tcp, "127.0.0.1", 0, "/"};
  so.config = scenario_server_config(s_, secret_);
  so.seed = o_.seed;
  server_ = std::make_unique<LiveServer>(ioc_, so);
  boost::system::error_code ec;
  if (!server_->start(ec)) {
    error = "cannot start the reference server: " + ec.message();
    return false;
  }
  upstream_ = Endpoint{Endpoint::Transport::Tcp, "127.0.0.1", server_->port(), "/"};
  return true;
}

// The environment `check --client --exec` sets, plus what a scenario adds
// (docs/live.md); with a driver, "hello 1" waits on its stdin first.
void LiveRun::start_external(Slot& sl, const ScenarioClient& c) {
  std::string shapes;
  for (const auto& coll : c.shapes) shapes += (shapes.empty() ? "" : ",") + coll;
  reference::JwtClaims claims;
  claims.sub = "syncsim-run-client";
  claims.tenant_id = c.token ? c.token->tenant : 0;
  claims.user_id = 1;
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  claims.exp = now_s + (c.token ? c.token->expires_in_s : 3600);
  const Endpoint at{Endpoint::Transport::Tcp, "127.0.0.1", sl.proxy->port(), "/"};
  const bool driven = !o_.client_driver.empty();
  std::vector<std::string> env{"SYNCSIM_TARGET=" + at.text(),
                               "SYNCSIM_CASE=" + s_.name,
                               "SYNCSIM_CLIENT=" + c.name,
                               "SYNCSIM_SHAPES=" + shapes,
                               "SYNCSIM_TOKEN=" + reference::mint_hs256(claims, secret_),
                               "SYNCSIM_JWT_SECRET=" + secret_,
                               "SYNCSIM_DRIVER=" + std::string(driven ? "1" : "")};
  sl.process = std::make_unique<ChildProcess>(o_.client_exec, env, o_.show_client_output, driven);
  say(sl.name + ": started `" + o_.client_exec + "` for " + at.text());
  if (!driven) return;
  DriverCommand hello;
  hello.verb = DriverVerb::Hello;
  hello.number = kDriverVersion;
  drive(sl, hello, "the greeting");
  if (c.apply_rate > 0) {
    DriverCommand rate = step_command(StepKind::ApplyRate);
    rate.number = c.apply_rate;
    drive(sl, rate, "its apply_rate");
  }
}

// One command of the driver contract to the client under test; one it
// cannot take (its stdin closed or full) is a failure of the run.
void LiveRun::drive(Slot& sl, const DriverCommand& c, const std::string& why) {
  if (!sl.process) return;  // not started yet: steps before start_s are lost (D152)
  const std::string line = driver_line(c);
  say(sl.name + ": driver> " + line);
  if (sl.process->write_line(line)) return;
  if (failures_.size() < 100)
    failures_.push_back(sl.name + ": the driver could not write \"" + line.substr(0, 80) + "\" (" +
                        why + ") to the client's stdin: it closed it, or left over 64 KiB unread");
}

void LiveRun::drive_step(Slot& sl, const ScenarioEvent& e, std::size_t index) {
  DriverCommand c = step_command(e.kind);
  const std::string why = "step " + std::to_string(index + 1) + " (" + e.action + ")";
  switch (e.kind) {
    case StepKind::Write:
      c.collection = e.collection.empty() ? "orders" : e.collection;
      for (int i = 0; i < e.count; ++i) {
        c.document = e.document.empty() ? "doc-" + std::to_string(i % 50) : e.document;
        c.value = write_value(i, index, e.size);
        drive(sl, c, why);
      }
      return;
    case StepKind::Presence:
      c.channel = e.channel;
      c.value = protocol::Bytes{'h', 'i'};
      break;
    case StepKind::Samples:
      c.collection = e.collection;
      c.number = static_cast<std::uint64_t>(e.count);
      break;
    case StepKind::ApplyRate: c.number = e.rate; break;
    case StepKind::Unsubscribe: c.collection = e.collection; break;
    default: break;
  }
  drive(sl, c, why);
}

// Every 20 ms: a client under test that ended before the scenario did.
void LiveRun::watch_externals() {
  for (auto& sl : slots_) {
    if (!sl->process || sl->exit_reported) continue;
    const auto status = sl->process->exited();
    if (!status) continue;
    sl->exit_reported = true;
    const bool connected = sl->proxy->stats().connections > 0;
    std::string said;
    for (const auto& line : sl->process->tail(3)) said += (said.empty() ? "" : " | ") + line;
    if ((*status == 126 || *status == 127) && !connected && o_.unstartable)
      *o_.unstartable = "the shell could not start `" + o_.client_exec + "` (exit " +
                        std::to_string(*status) + (said.empty() ? "" : ": " + said) + ")";
    failures_.push_back(sl->name + " (the client under test) exited with status " +
                        std::to_string(*status) + " at " +
                        seconds_text(static_cast<double>(scenario_ns()) / 1e9) +
                        ", before the scenario's end" + (said.empty() ? "" : ": " + said));
  }
  watch_timer_ = std::make_unique<boost::asio::steady_timer>(ioc_, std::chrono::milliseconds(20));
  watch_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) watch_externals();
  });
}

// At the end: "quit", a second to go, then stopped (its whole group);
// its last lines kept.
void LiveRun::stop_external(Slot& sl, ScenarioResult& result) {
  if (!sl.process) {
    result.failures.push_back(sl.name + " (the client under test) was never started");
    return;
  }
  if (sl.proxy->stats().connections == 0)
    result.failures.push_back(
        sl.name + " (the client under test) never connected to " +
        Endpoint{Endpoint::Transport::Tcp, "127.0.0.1", sl.proxy->port(), "/"}.text() +
        " (SYNCSIM_TARGET) within the scenario");
  if (!o_.client_driver.empty() && !sl.exit_reported) {
    sl.process->write_line(driver_line(DriverCommand{}));  // quit
    sl.process->close_stdin();
    const auto limit = Clock::now() + std::chrono::seconds(1);
    while (!sl.process->exited() && Clock::now() < limit)
      ioc_.run_one_for(std::chrono::milliseconds(10));
  }
  sl.process->stop();
  const auto tail = sl.process->tail(8);
  for (const auto& line : tail) result.notes.push_back(sl.name + "| " + line);
}

// run --client-exec: a server-side step on the reference server itself.
bool LiveRun::server_admin(const std::string& hook, const std::map<std::string, std::string>& v) {
  const auto get = [&v](const char* k) {
    const auto it = v.find(k);
    return it == v.end() ? std::string() : it->second;
  };
  std::string line;
  if (hook == "purge") line = "purge 0 " + get("collection");
  if (hook == "server_write") {
    const auto hex = get("value_hex");
    line = "write 0 " + get("collection") + " " + get("document") + " " + (hex.empty() ? "-" : hex);
  }
  if (hook == "define")
    line = "define 0 " + get("type") + " " + get("name") + " " + get("action") +
           (get("action") == "put" ? " " + get("json") : "");
  const std::string answer = line.empty() ? "error no such server step" : server_->admin(line);
  if (answer == "ok") return true;
  failures_.push_back("the reference server refused \"" + line + "\": " + answer +
                      " (an error of the run)");
  return false;
}

void LiveRun::call_hook(const std::string& name, const std::map<std::string, std::string>& values,
                        std::function<void()> on_ok) {
  if (server_) {  // run --client-exec: the reference server does it at once
    if (server_admin(name, values) && on_ok) on_ok();
    return;
  }
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
      if (server_) {  // --client-exec: the reference server's store is the truth
        const auto store = server_->documents(c.token ? c.token->tenant : 0, coll);
        if (*docs != store)
          out.failures.push_back(cite + c.name + "'s view of \"" + coll + "\" has " +
                                 std::to_string(docs->size()) + " documents, the server " +
                                 std::to_string(store.size()) + "; " +
                                 first_difference(*docs, store));
        continue;
      }
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
  if (watch_timer_) watch_timer_->cancel();
  for (auto& sl : slots_) {
    if (sl->client) sl->client->stop();
    if (sl->external) stop_external(*sl, result);
  }
  for (auto& sl : slots_) sl->proxy->stop();
  if (server_) server_->stop();
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
  secret_ = exec() ? "syncsim-run-client-exec" : o_.jwt_secret;
  upstream_ = o_.server;
  if ((exec() && !start_server(error)) || !start_proxies(error)) {
    result.failures.push_back(error);
    return result;
  }
  // D165: a server keeps its purges (and definitions) for good, so a run
  // whose clients all carry tokens gets tenants no earlier run used; a
  // trust-mode client is always tenant 0, and then so is the whole run.
  if (!o_.jwt_secret.empty() && std::all_of(s_.clients.begin(), s_.clients.end(),
                                            [](const ScenarioClient& c) { return c.token; })) {
    tenant_base_ = 1000 * (1 + static_cast<std::uint32_t>(std::random_device{}() % 2'000'000));
    notes_.push_back("tenants from " + std::to_string(tenant_base_) + " (this run's own)");
  }
  if (exec()) {
    result.notes.push_back("the client under test: " + o_.client_exec + " (driver: " +
                           (o_.client_driver.empty() ? std::string("none") : "contract v1") +
                           "); its view is not read: the driver contract reports no state (D152)");
    for (const auto& c : s_.clients) {
      const auto opts = reference_options(c);
      if (!opts.empty() && external_clients(s_).count(c.name))
        result.notes.push_back(c.name + "'s " + opts +
                               " set the reference client; the client under test keeps its own");
    }
    for (const auto& st : s_.expect.stats) {  // D179: the rest of the scenario still runs
      if (external_clients(s_).count(st.client))
        result.notes.push_back(st.rule + ": " + st.client + "'s " +
                               std::string(stat_name(st.stat)) +
                               " not judged: a stat of the client under test, which the driver "
                               "contract does not report");
    }
    watch_externals();
  }
  for (std::size_t i = 0; i < s_.clients.size(); ++i) {
    create_client(i);
    schedule(s_.clients[i].start_s, [this, i] {
      if (slots_[i]->external) return start_external(*slots_[i], s_.clients[i]);
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
