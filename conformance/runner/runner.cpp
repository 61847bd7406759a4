#include "conformance/runner/runner.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <ostream>
#include <set>

#include "conformance/checker/trace_writer.hpp"
#include "conformance/runner/expectations.hpp"
#include "conformance/runner/link_spec.hpp"
#include "conformance/runner/scenario_client.hpp"
#include "protocol/assert.hpp"
#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/json.hpp"
#include "reference/client.hpp"
#include "reference/jwt.hpp"
#include "reference/persistence.hpp"
#include "reference/runtime.hpp"
#include "reference/server.hpp"

namespace syncsim::conformance {

using namespace reference;

namespace {

constexpr std::uint16_t kPort = 9091;
constexpr const char* kSecret = "syncsim-scenario-secret";  // the server's HS256 key
constexpr std::int64_t kPollNs = 10'000'000;                // `after` conditions: every 10 ms

// Seconds to virtual ns, saturating (scenario_ns).
sim::Time at(double seconds) { return scenario_ns(seconds); }

// Relay faults that no side can notice or repair (D120). A frame that no
// longer decodes is skipped (FRAME-10), so its data is lost on a connection
// that stays up; one corrupted into another valid frame changes data no
// checksum covers; a dropped DeltaPush is acknowledged as a duplicate when it
// is sent again after a later one was accepted (DELTA-6), and a dropped
// request is never asked again on that connection. Only a DeltaPush whose
// checksum no longer matches its delta is caught (DELTA-4); a lost ShapeDelta
// shows as a gap (RESYNC-1), a lost DeltaAck draws a retransmission, and a
// Ping or Pong carries no data.
struct UnnoticeableFaults {
  std::uint64_t count = 0;
  std::string first;  // the first one, described

  void corrupted(const std::vector<std::uint8_t>& before, const std::vector<std::uint8_t>& after) {
    const auto was = protocol::decode_frame(before);
    if (!was.message || std::holds_alternative<protocol::PingPong>(*was.message)) return;
    const auto is = protocol::decode_frame(after);
    const std::string name(protocol::message_name(*was.message));
    if (!is.valid()) return add("a " + name + " corrupted so that it no longer decodes");
    const auto* push = std::get_if<protocol::DeltaPush>(&*is.message);
    // DELTA-4: a non-zero checksum that no longer matches is caught (0 is not checked).
    if (push && push->checksum != 0 && protocol::crc32c(push->delta) != push->checksum) return;
    add("a " + name + " corrupted into another valid one");
  }
  void dropped(const std::vector<std::uint8_t>& frame) {
    const auto was = protocol::decode_frame(frame);
    if (!was.message) return;  // a frame of an unknown code the relay made up
    if (std::holds_alternative<protocol::ShapeDelta>(*was.message) ||
        std::holds_alternative<protocol::DeltaAck>(*was.message) ||
        std::holds_alternative<protocol::PingPong>(*was.message))
      return;
    add("a " + std::string(protocol::message_name(*was.message)) + " dropped by the relay");
  }

 private:
  void add(std::string what) {
    if (count++ == 0) first = std::move(what);
  }
};

struct Run {
  sim::World* world = nullptr;
  SessionChecker checker;
  std::ostream* trace = nullptr;
  std::shared_ptr<Server<SimRuntime>> server;
  std::map<std::string, std::shared_ptr<Client<SimRuntime>>> clients;
  std::map<std::uint64_t, std::string> conn_client;  // connection -> client name
  std::map<std::string, std::vector<SeenFrame>> frames;
  bool keep_frames = false;
  std::uint64_t written = 0;                     // frames written (each is also recorded when read)
  std::map<std::string, std::uint64_t> refused;  // writes the client refused (FLOW-4)
  std::vector<std::string> failures;

  explicit Run(CheckerOptions o) : checker(o) {}

  // A frame written or read: the bytes the writer encoded, or the reader read.
  void judge(const protocol::Message& m, protocol::Bytes frame, std::uint64_t conn,
             protocol::Sender from, Seen seen) {
    const std::int64_t t = world->now();
    FrameRecord r{t, conn, from, std::move(frame), seen};
    if (trace) write_trace_frame(*trace, r);
    checker.on_frame(std::move(r));

    written += seen == Seen::Written;
    if (keep_frames && seen == Seen::Written) {
      auto it = conn_client.find(conn);
      if (it != conn_client.end())
        frames[it->second].push_back(SeenFrame{t, from == protocol::Sender::Client, m});
    }
  }
  // A frame the reader skipped (FRAME-3, FRAME-10): recorded as read.
  void ignored(const protocol::Bytes& frame, std::uint64_t conn, protocol::Sender from) {
    FrameRecord r{world->now(), conn, from, frame, Seen::Received};
    if (trace) write_trace_frame(*trace, r);
    checker.on_frame(r);
  }
  void hangup(std::uint64_t conn, protocol::Sender side) {
    if (trace) write_trace_hangup(*trace, world->now(), conn, side);
    checker.on_hangup(conn, side, world->now());
  }
  void closed(std::uint64_t conn) {
    if (trace) write_trace_close(*trace, world->now(), conn);
    checker.on_close(conn, world->now());
  }
  void purge(std::uint32_t tenant, const std::string& collection) {
    if (trace) write_trace_purge(*trace, world->now(), tenant, collection);
    checker.on_purge(tenant, collection, world->now());
    if (server) server->purge_collection(tenant, collection);
  }
  // A side's note on its own state (D84): into the trace and the checker.
  void note(protocol::Sender side, std::uint64_t conn, reference::StateNote n) {
    StateNote sn;
    sn.t = world->now();
    sn.conn = conn;
    sn.side = side;
    sn.kind = std::move(n.kind);
    sn.fields = NoteFields(std::move(n.fields));
    if (trace) write_trace_note(*trace, sn);
    checker.on_note(sn);
  }
  Client<SimRuntime>* client(const std::string& name) {
    auto it = clients.find(name);
    if (it == clients.end()) return nullptr;
    const auto id = world->find_node(name);
    return id && world->is_up(*id) ? it->second.get() : nullptr;
  }
};

// Adds the named bugs to `bugs`; false (with a failure recorded) on an
// unknown name.
template <class Bug, class FromName>
bool add_bugs(const std::vector<std::string>& names, FromName from_name, std::set<Bug>& bugs,
              const char* side, ScenarioResult& result) {
  for (const auto& b : names) {
    auto bug = from_name(b);
    if (!bug) {
      result.failures.push_back(std::string("invalid scenario: unknown ") + side + " bug \"" + b +
                                "\"");
      return false;
    }
    bugs.insert(*bug);
  }
  return true;
}

ServerConfig server_config(const Scenario& s) {
  ServerConfig c;
  c.jwt.hs256_secret = kSecret;
  const auto& sv = s.server;
  if (sv.trust_mode) c.trust_mode = *sv.trust_mode;
  if (sv.data_queue_limit) c.data_queue_limit = *sv.data_queue_limit;
  if (sv.default_throttle_rate) c.default_throttle_rate = *sv.default_throttle_rate;
  if (sv.rate_per_s) c.rate_per_s = *sv.rate_per_s;
  if (sv.rate_capacity) c.rate_capacity = *sv.rate_capacity;
  if (sv.idle_timeout_s) c.idle_timeout_ms = static_cast<std::int64_t>(*sv.idle_timeout_s * 1000);
  if (sv.max_sessions) c.max_sessions = *sv.max_sessions;
  c.push_deltas = sv.delta_push;
  c.rate_limit_reject = sv.rate_limit_reject;
  if (sv.presence_max_channels) c.presence_max_channels = *sv.presence_max_channels;
  for (const auto& k : sv.constraints) {
    ConstraintRule rule;
    rule.collection = k.collection;
    rule.document_id = k.document;
    rule.reason = k.reason;
    rule.hint = protocol::compensation::Custom{"scenario", k.reason};
    c.constraints.push_back(rule);
  }
  return c;
}

// The server's Unix seconds at true time t, as its own clock reads them
// (offset, drift and jumps): tokens are minted to expire on that clock.
std::int64_t server_unix_s(sim::World& w, sim::Time t) {
  const auto server = w.find_node("server");
  const sim::Time system = server ? w.clock(*server).system(t) : t;
  return (w.options().unix_epoch_ms + system / sim::kMillisecond) / 1000;
}

ClientConfig client_config(const ScenarioClient& c, std::size_t index, sim::World& w) {
  TokenMint tm;
  tm.secret = kSecret;
  tm.server_unix_s_at_start = [&w](double start_s) { return server_unix_s(w, at(start_s)); };
  tm.server_unix_s_now = [&w] { return server_unix_s(w, w.now()); };
  return scenario_client_config(c, index, tm);
}

// What the checker may know of the server's configuration (Scope::Profile).
constexpr std::int64_t kMs = 1'000'000;

ServerProfile server_profile(const ServerConfig& c) {
  ServerProfile p;
  p.max_sessions = c.max_sessions;
  p.idle_timeout_ns = c.idle_timeout_ms * kMs;
  p.trust_mode = c.trust_mode;
  p.presence_ttl_ns = c.presence_ttl_ms * kMs;
  p.presence_max_channels = c.presence_max_channels;
  p.presence_max_peers = c.presence_max_peers;
  p.rate_capacity = c.rate_capacity;
  p.rate_per_s = c.rate_per_s;
  p.rate_limit_reject = c.rate_limit_reject;
  p.default_throttle_rate = c.default_throttle_rate;
  p.data_queue_limit = c.data_queue_limit;
  return p;
}

// The most a node's clock drifts in a scenario (timing rules allow for it).
std::int32_t max_drift_ppm(const Scenario& s, bool server) {
  std::int32_t most = server ? std::abs(s.server.drift_ppm) : 0;
  for (const auto& c : s.clients) most = server ? most : std::max(most, std::abs(c.drift_ppm));
  for (const auto& e : s.events) {
    const bool on_server = !e.nodes.empty() && e.nodes[0] == "server";
    if (e.kind == StepKind::Drift && on_server == server) most = std::max(most, std::abs(e.ppm));
  }
  return most;
}

// A field of the clients' profile is known when every client has the same value.
template <class T>
void agree(std::optional<T>& field, T value, bool first) {
  if (first) {
    field = value;
  } else if (field && *field != value) {
    field.reset();
  }
}

ClientProfile client_profile(const Scenario& s, sim::World& w) {
  ClientProfile p;
  for (std::size_t i = 0; i < s.clients.size(); ++i) {
    const ClientConfig c = client_config(s.clients[i], i, w);
    const bool first = i == 0;
    agree(p.ping_interval_ns, c.ping_interval_ms * kMs, first);
    agree(p.dead_after_ns, c.dead_after_ms * kMs, first);
    agree(p.handshake_wait_ns, c.handshake_wait_ms * kMs, first);
    agree(p.push_tick_ns, c.push_tick_ms * kMs, first);
    agree(p.retransmit_ns, c.retransmit_ms * kMs, first);
    agree(p.presence_heartbeat_ns, c.presence_heartbeat_ms * kMs, first);
    agree(p.timeseries_interval_ns, c.timeseries_interval_ms * kMs, first);
    agree(p.pending_limit, c.pending_limit, first);
    agree(p.pending_bytes_limit, c.pending_bytes_limit, first);
  }
  p.backoff_base_ns = 1'000 * kMs;  // CONN-1: the reference client's fixed backoff
  p.backoff_max_ns = 60'000 * kMs;
  p.clock_drift_ppm = max_drift_ppm(s, false);
  // TOKEN-5/6/10: what every client that sends a token knows of tokens.
  bool first_token = true;
  for (std::size_t i = 0; i < s.clients.size(); ++i) {
    const auto& tk = s.clients[i].token;
    if (!tk) continue;
    agree(p.token_source, tk->refresh != "none", first_token);
    agree(p.token_lifetime_s, tk->lifetime_s, first_token);
    first_token = false;
  }
  return p;
}

void apply_link(sim::World& w, const LinkSpec& k) {
  for (std::size_t a = 0; a < w.node_count(); ++a) {
    for (std::size_t b = 0; b < w.node_count(); ++b) {
      if (a == b) continue;
      const auto from = static_cast<sim::NodeId>(a), to = static_cast<sim::NodeId>(b);
      const bool from_ok = k.from == "*" || w.find_node(k.from) == from;
      const bool to_ok = k.to == "*" || w.find_node(k.to) == to;
      if (from_ok && to_ok) apply_link(w.link(from, to), k);
    }
  }
}

// A step done on the server's side of the world (no client involved).
void perform_on_server(Run& run, const ScenarioEvent& e, std::size_t index) {
  if (!run.server) return;
  if (e.kind == StepKind::ServerWrite) {
    for (int i = 0; i < e.count; ++i) {
      const std::string doc = e.document.empty() ? "srv-" + std::to_string(i % 50) : e.document;
      run.server->inject_write(0, e.collection, doc, write_value(i, index, e.size));
    }
  } else if (e.kind == StepKind::Definition) {
    // DEF-1: a put carries the definition as a JSON object, a delete nothing.
    protocol::Bytes payload;
    if (e.definition_action != "delete") payload = {'{', '}'};
    run.server->put_definition(
        0, protocol::DefinitionSync{"function", e.name, e.definition_action, std::move(payload)});
  }
}

// A step a client's application does; a client that is down misses it, as
// an application's call would.
void perform_on_client(Run& run, const ScenarioEvent& e, std::size_t index) {
  Client<SimRuntime>* c = run.client(e.client);
  if (c) perform_client_step(*c, e, index, run.refused[e.client]);
}

void perform(Run& run, const ScenarioEvent& e, std::size_t index) {
  sim::World& w = *run.world;
  std::vector<sim::NodeId> ids;
  for (const auto& n : e.nodes) ids.push_back(*w.find_node(n));
  switch (e.kind) {
    case StepKind::Partition: w.partition(ids[0], ids[1]); return;
    case StepKind::PartitionOneWay: w.partition(ids[0], ids[1], true); return;
    case StepKind::Heal: w.heal(ids[0], ids[1]); return;
    case StepKind::Clog: w.clog(ids[0], ids[1], at(e.for_s)); return;
    case StepKind::Reset:
      for (const auto id : w.connection_ids_of(ids[0])) w.reset_connection(id);
      return;
    case StepKind::Restart: w.restart(ids[0], false); return;
    case StepKind::Crash: w.crash(ids[0]); return;
    case StepKind::ClockJump: w.clock_jump(ids[0], e.delta_ms * sim::kMillisecond); return;
    case StepKind::Drift: w.set_drift(ids[0], e.ppm); return;
    case StepKind::Link: apply_link(w, *e.link); return;
    case StepKind::Purge: run.purge(0, e.collection); return;
    case StepKind::ServerWrite:
    case StepKind::Definition: perform_on_server(run, e, index); return;
    case StepKind::Write:
    case StepKind::Presence:
    case StepKind::Samples:
    case StepKind::ApplyRate:
    case StepKind::CorruptState:
    case StepKind::Resubscribe:
    case StepKind::Unsubscribe: perform_on_client(run, e, index); return;
  }
}

// Polls for an `after` condition, then performs the step after its delay.
void wait_then_perform(Run& run, const ScenarioEvent& e, std::size_t index, ClientCore::Stats base,
                       sim::Time deadline) {
  sim::World& w = *run.world;
  Client<SimRuntime>* c = run.client(e.after->client);
  if (c && condition_met(*e.after, c->core(), base)) {
    w.after(at(e.delay_s), [&run, &e, index] { perform(run, e, index); });
    return;
  }
  if (deadline != 0 && w.now() >= deadline) {
    run.failures.push_back("step " + std::to_string(index + 1) + " (" + e.action + ") waited for " +
                           e.after->client + " " + std::string(condition_name(e.after->condition)) +
                           " and timed out at " + seconds_text(static_cast<double>(w.now()) / 1e9));
    return;
  }
  w.after(kPollNs,
          [&run, &e, index, base, deadline] { wait_then_perform(run, e, index, base, deadline); });
}

}  // namespace

void apply_link_spec(sim::LinkParams& p, const LinkSpec& k) { apply_link(p, k); }

ServerConfig scenario_server_config(const Scenario& s, const std::string& jwt_secret) {
  ServerConfig c = server_config(s);
  c.jwt.hs256_secret = jwt_secret;
  return c;
}

// `converged: true` in the simulator: every client that is up is in
// session, has nothing unacknowledged and sees what the server's store
// holds; unless the relay did what no side can repair (D120).
void converged_with_server(const Scenario& s, Run& run, const UnnoticeableFaults& unnoticeable,
                           ScenarioResult& out) {
  if (!run.server) return;
  if (unnoticeable.count > 0) {
    out.notes.push_back(
        s.expect.converged_rule + " not judged: " + std::to_string(unnoticeable.count) +
        " relay fault(s) that no side can notice or repair (the first: " + unnoticeable.first +
        "), so convergence cannot be demanded (D120)");
  } else {
    const std::string cite = s.expect.converged_rule + ": ";
    for (const auto& c : s.clients) {
      auto* cl = run.client(c.name);
      if (!cl) continue;
      auto& core = cl->core();
      if (!core.authenticated())
        out.failures.push_back(cite + c.name + " is not connected at the end");
      if (core.pending() > 0) {
        out.failures.push_back(cite + c.name + " still has " + std::to_string(core.pending()) +
                               " unacknowledged mutations");
      }
      const std::uint32_t tenant = c.token ? c.token->tenant : 0;
      for (const auto& coll : c.shapes) {
        const auto& store = run.server->core().collections();
        const auto sit = store.find({tenant, coll});
        const std::map<std::string, protocol::Bytes> empty;
        const auto& server_docs = sit == store.end() ? empty : sit->second.documents;
        const auto vit = core.view().find(coll);
        const auto& client_docs = vit == core.view().end() ? empty : vit->second;
        if (client_docs != server_docs) {
          out.failures.push_back(cite + c.name + "'s view of \"" + coll + "\" has " +
                                 std::to_string(client_docs.size()) + " documents, the server " +
                                 std::to_string(server_docs.size()) + "; " +
                                 first_difference(client_docs, server_docs));
        }
      }
    }
  }
}

ScenarioResult run_scenario(const Scenario& s, std::uint64_t seed) {
  return run_scenario(s, seed, RunOptions{});
}

ScenarioResult run_scenario(const Scenario& s, std::uint64_t seed, const RunOptions& options) {
  ScenarioResult result;
  result.name = s.name;
  result.file = s.file;
  result.seed = seed;

  // Bug names are the reference's; unknown ones make the scenario invalid.
  ServerConfig server_cfg = server_config(s);
  if (!add_bugs(s.server.bugs, server_bug_from_name, server_cfg.bugs, "server", result))
    return result;
  std::vector<std::set<ClientBug>> client_bugs(s.clients.size());
  for (std::size_t i = 0; i < s.clients.size(); ++i) {
    if (!add_bugs(s.clients[i].bugs, client_bug_from_name, client_bugs[i], "client", result))
      return result;
  }

  sim::WorldOptions wopts;
  wopts.seed = seed;
  wopts.max_events = s.max_events;
  wopts.trace_out = options.sim_trace;
  UnnoticeableFaults unnoticeable;
  wopts.on_frame_corrupted = [&unnoticeable](const auto& before, const auto& after) {
    unnoticeable.corrupted(before, after);
  };
  wopts.on_frame_dropped = [&unnoticeable](const auto& frame) { unnoticeable.dropped(frame); };
  sim::World w(wopts);
  CheckerOptions copts;
  copts.server_unix_ms = [&w](std::int64_t t) {  // the server's clock, jumps included
    const auto server = w.find_node("server");
    return w.options().unix_epoch_ms +
           (server ? w.clock(*server).system(t) : t) / sim::kMillisecond;
  };
  copts.server_profile = server_profile(server_cfg);
  copts.server_profile.clock_drift_ppm = max_drift_ppm(s, true);
  copts.client_profile = client_profile(s, w);
  // TOKEN-5/10: a client's own clock, jumps included, by its connection.
  auto conn_names = std::make_shared<const std::map<std::uint64_t, std::string>*>(nullptr);
  copts.client_unix_ms = [&w, conn_names](std::uint64_t conn,
                                          std::int64_t t) -> std::optional<std::int64_t> {
    if (!*conn_names) return std::nullopt;
    const auto it = (*conn_names)->find(conn);
    const auto node = it == (*conn_names)->end() ? std::nullopt : w.find_node(it->second);
    if (!node) return std::nullopt;
    return w.options().unix_epoch_ms + w.clock(*node).system(t) / sim::kMillisecond;
  };
  Run run(copts);
  *conn_names = &run.conn_client;
  run.world = &w;
  run.trace = options.frame_trace;
  run.keep_frames = !s.expect.frames.empty();
  w.default_link().latency = at(s.latency_ms / 1000);
  w.default_link().jitter = at(s.jitter_ms / 1000);
  w.default_link().segment_loss = sim::Ratio::ppm(s.segment_loss_ppm);

  w.add_node(
      "server",
      [&run, server_cfg](sim::Host& h) {
        run.server = std::make_shared<Server<SimRuntime>>(SimRuntime{&h}, server_cfg);
        run.server->on_send_frame = [&run](const protocol::Message& m, const protocol::Bytes& f,
                                           std::uint64_t conn) {
          run.judge(m, f, conn, protocol::Sender::Server, Seen::Written);
        };
        run.server->on_receive_frame = [&run](const protocol::Message& m,
                                              std::span<const std::uint8_t> f, std::uint64_t conn) {
          run.judge(m, protocol::Bytes(f.begin(), f.end()), conn, protocol::Sender::Client,
                    Seen::Received);
        };
        run.server->on_closed = [&run](std::uint64_t conn) { run.closed(conn); };
        run.server->on_note = [&run](std::uint64_t conn, reference::StateNote n) {
          run.note(protocol::Sender::Server, conn, std::move(n));
        };
        boost::system::error_code ec;
        run.server->start(kPort, ec);
        return std::shared_ptr<void>(run.server);
      },
      sim::ClockParams{s.server.clock_offset_ms * sim::kMillisecond, s.server.drift_ppm});
  for (std::size_t i = 0; i < s.clients.size(); ++i) {
    const ScenarioClient& c = s.clients[i];
    ClientConfig cfg = client_config(c, i, w);
    cfg.bugs = client_bugs[i];
    const std::string name = c.name;
    auto booted = std::make_shared<bool>(false);
    const sim::Time start = at(c.start_s);
    w.add_node(
        name,
        [&run, cfg, name, booted, start](sim::Host& h) {
          auto& disk = h.disk();
          const ClientPersistent p = load_persistent(disk);  // DELTA-1, HS-12
          auto client = std::make_shared<Client<SimRuntime>>(SimRuntime{&h},
                                                             sim::Address{"server", kPort}, cfg, p);
          // Saved only when it changed: the client persists after every flush.
          client->on_persist = [&disk, last = std::optional<ClientPersistent>()](
                                   const ClientPersistent& st) mutable {
            if (last && *last == st) return;
            save_persistent(disk, st);
            last = st;
          };
          client->on_send_frame = [&run, name](const protocol::Message& m, const protocol::Bytes& f,
                                               std::uint64_t conn) {
            run.conn_client[conn] = name;
            run.judge(m, f, conn, protocol::Sender::Client, Seen::Written);
          };
          client->on_receive_frame = [&run](const protocol::Message& m,
                                            std::span<const std::uint8_t> f, std::uint64_t conn) {
            run.judge(m, protocol::Bytes(f.begin(), f.end()), conn, protocol::Sender::Server,
                      Seen::Received);
          };
          client->on_closed = [&run](std::uint64_t conn) { run.closed(conn); };
          client->on_ignored = [&run](const protocol::Bytes& f, std::uint64_t conn) {
            run.ignored(f, conn, protocol::Sender::Server);
          };
          client->on_hangup = [&run](std::uint64_t conn) {
            run.hangup(conn, protocol::Sender::Client);
          };
          client->on_note = [&run](std::uint64_t conn, reference::StateNote n) {
            run.note(protocol::Sender::Client, conn, std::move(n));
          };
          run.clients[name] = client;
          if (*booted || start == 0) {
            client->start();
          } else {  // the first boot waits for start_s
            run.world->at(start, [client] { client->start(); });
          }
          *booted = true;
          return std::shared_ptr<void>(client);
        },
        sim::ClockParams{c.clock_offset_ms * sim::kMillisecond, c.drift_ppm});
  }
  for (const auto& link : s.links) apply_link(w, link);

  // Workload: each client writes its documents at random times of the window.
  for (const auto& c : s.clients) {
    auto& rng = w.host(*w.find_node(c.name)).rng("workload");
    for (int i = 0; i < c.writes; ++i) {
      const sim::Time t =
          rng.between(at(s.write_from_s), std::max(at(s.write_from_s), at(s.write_until_s)));
      const WorkloadWrite ww = workload_write(c, i, rng);
      const std::string name = c.name;
      w.at(t, [&run, name, ww] {
        if (auto* cl = run.client(name); cl && !cl->write(ww.collection, ww.document, ww.value))
          ++run.refused[name];
      });
    }
  }
  // Steps: at a time, or once a condition holds.
  for (std::size_t i = 0; i < s.events.size(); ++i) {
    const ScenarioEvent& e = s.events[i];
    for (int k = 0; k < e.times; ++k) {
      w.at(at(e.at_s + k * e.every_s), [&run, &e, i] {
        if (!e.after) return perform(run, e, i);
        ClientCore::Stats base;
        if (auto* c = run.client(e.after->client)) base = c->core().stats();
        const sim::Time deadline =
            e.after->timeout_s > 0 ? run.world->now() + at(e.after->timeout_s) : 0;
        wait_then_perform(run, e, i, base, deadline);
      });
    }
  }

  const auto r = w.run_until(at(s.duration_s));
  run.checker.finish(w.now());
  result.events = r.events;
  result.frames = run.written;
  result.findings = run.checker.findings();
  result.must_findings = run.checker.must_count();
  result.trace_hash = w.trace().hash();
  result.virtual_s = static_cast<double>(w.now()) / 1e9;
  result.failures = run.failures;
  for (const auto& e : run.checker.internal_errors())  // a bug of the checker (D73)
    result.failures.push_back("checker internal error: " + e);
  if (r.reason == sim::StopReason::BudgetExhausted || r.reason == sim::StopReason::Stalled) {
    result.failures.push_back(
        "the run stopped early (" + std::string(sim::stop_reason_name(r.reason)) + ") at " +
        seconds_text(result.virtual_s) + " after " + std::to_string(r.events) + " events");
  }

  std::map<std::string, ClientAtEnd> at_end;
  for (const auto& [name, c] : run.clients)
    at_end[name] = ClientAtEnd{&c->core(), run.refused[name]};
  judge_expectations(
      s, run.frames, at_end,
      [&](ScenarioResult& out) { converged_with_server(s, run, unnoticeable, out); }, result);
  if (options.conn_clients) *options.conn_clients = run.conn_client;
  return result;
}

}  // namespace syncsim::conformance
