#include "conformance/runner/runner.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <set>

#include "conformance/checker/trace_writer.hpp"
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

// Seconds to virtual ns, saturating (1e18 s stands for "forever").
sim::Time at(double seconds) {
  if (seconds >= 9e9) return std::numeric_limits<sim::Time>::max();
  return static_cast<sim::Time>(seconds * 1e9);
}

std::string seconds_text(double s) {
  std::string t = std::to_string(s);
  t.erase(t.find_last_not_of('0') + 1);
  if (!t.empty() && t.back() == '.') t.pop_back();
  return t + " s";
}

// The first document, by id, on which a client's view and the server differ.
std::string first_difference(const std::map<std::string, protocol::Bytes>& client,
                             const std::map<std::string, protocol::Bytes>& server) {
  const auto value = [](const std::map<std::string, protocol::Bytes>& docs, const std::string& id) {
    const auto it = docs.find(id);
    return it == docs.end() ? std::string("absent") : "0x" + protocol::to_hex(it->second);
  };
  auto c = client.begin();
  auto s = server.begin();
  while (c != client.end() && s != server.end() && *c == *s) ++c, ++s;
  std::string id;
  if (c == client.end())
    id = s->first;
  else if (s == server.end())
    id = c->first;
  else
    id = std::min(c->first, s->first);
  return "first difference: \"" + id + "\" is " + value(client, id) + " at the client, " +
         value(server, id) + " at the server";
}

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
    if (push && protocol::crc32c(push->delta) != push->checksum) return;
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

// A frame as the expectations see it: who wrote it on which client's connection.
struct SeenFrame {
  std::int64_t t = 0;
  bool from_client = true;
  protocol::Message message;
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

  // A frame read: judged as its re-encoding, which can differ from the bytes
  // on the wire only when a relay corrupted them into another valid frame.
  void judge(const protocol::Message& m, std::uint64_t conn, protocol::Sender from, Seen seen) {
    judge(m, protocol::encode_frame(m), conn, from, seen);
  }
  // A frame written: the bytes the writer encoded.
  void judge(const protocol::Message& m, protocol::Bytes frame, std::uint64_t conn,
             protocol::Sender from, Seen seen) {
    FrameRecord r{world->now(), conn, from, std::move(frame), seen};
    if (trace) write_trace_frame(*trace, r);
    checker.on_frame(r);

    written += seen == Seen::Written;
    if (keep_frames && seen == Seen::Written) {
      auto it = conn_client.find(conn);
      if (it != conn_client.end())
        frames[it->second].push_back(SeenFrame{r.t, from == protocol::Sender::Client, m});
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
  void note(protocol::Sender side, std::uint64_t conn, const reference::StateNote& n) {
    StateNote sn;
    sn.t = world->now();
    sn.conn = conn;
    sn.side = side;
    sn.kind = n.kind;
    for (const auto& [k, v] : n.fields) sn.fields[k] = v;
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

std::string mint(const ScenarioClient& c, std::size_t index, std::int64_t exp, bool good) {
  JwtClaims claims;
  claims.sub = c.name;
  claims.tenant_id = c.token ? c.token->tenant : 0;
  claims.user_id = index + 1;
  claims.exp = exp;
  return mint_hs256(claims, good ? kSecret : "not-the-server-secret");
}

ClientConfig client_config(const ScenarioClient& c, std::size_t index, sim::World& w) {
  ClientConfig cfg;
  for (const auto& coll : c.shapes) {
    protocol::ShapeDefinition shape;
    shape.shape_id = coll + "-all";
    shape.shape_type = protocol::shape_type::Document{coll, {}};
    cfg.shapes.push_back(shape);
  }
  if (c.token) {
    const TokenSpec tk = *c.token;
    cfg.token = mint(c, index, server_unix_s(w, at(c.start_s)) + tk.expires_in_s, true);
    cfg.token_lifetime_s = tk.lifetime_s;
    if (tk.refresh != "none") {
      // ok: every token valid; fail: none; flaky: the first bad_tokens are bad.
      auto handed_out = std::make_shared<int>(0);
      cfg.new_token = [&w, c, index, tk, handed_out]() -> std::optional<std::string> {
        const bool good =
            tk.refresh == "ok" || (tk.refresh == "flaky" && ++*handed_out > tk.bad_tokens);
        return mint(c, index, server_unix_s(w, w.now()) + tk.refresh_expires_in_s, good);
      };
    }
  }
  cfg.apply_rate_per_s = c.apply_rate;
  if (c.throttle_high) cfg.throttle_high = *c.throttle_high;
  if (c.throttle_low) cfg.throttle_low = *c.throttle_low;
  cfg.suggested_rate = c.suggested_rate;
  if (c.ping_interval_s)
    cfg.ping_interval_ms = static_cast<std::int64_t>(*c.ping_interval_s * 1000);
  if (c.retransmit_ms) cfg.retransmit_ms = *c.retransmit_ms;
  cfg.backoff_jitter_ms = c.backoff_jitter_ms;
  if (c.vclock_interval_s)
    cfg.vclock_interval_ms = static_cast<std::int64_t>(*c.vclock_interval_s * 1000);
  if (c.wire_version) cfg.wire_version = *c.wire_version;
  if (c.pending_limit) cfg.pending_limit = *c.pending_limit;
  return cfg;
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

std::uint8_t code_of(const std::string& name) {
  for (int code = 0; code < 256; ++code) {
    const auto n = protocol::code_name(static_cast<std::uint8_t>(code));
    if (n == name || (n == "Ping/Pong" && (name == "Ping" || name == "Pong")))
      return static_cast<std::uint8_t>(code);
  }
  return 0;
}

void apply_link(sim::LinkParams& p, const LinkSpec& k) {
  if (k.latency_ms) p.latency = at(*k.latency_ms / 1000);
  if (k.jitter_ms) p.jitter = at(*k.jitter_ms / 1000);
  if (k.bandwidth_kbps)
    p.bandwidth_bytes_per_s = static_cast<std::uint64_t>(*k.bandwidth_kbps * 125);
  if (k.segment_loss_ppm) p.segment_loss = sim::Ratio::ppm(*k.segment_loss_ppm);
  if (k.segment_corrupt_ppm) p.segment_corrupt = sim::Ratio::ppm(*k.segment_corrupt_ppm);
  if (k.frames_off) p.frame_faults = false;
  if (k.frames) {
    const FrameFaultSpec& f = *k.frames;
    p.frame_faults = true;
    p.frame_drop = sim::Ratio::ppm(f.drop_ppm);
    p.frame_duplicate = sim::Ratio::ppm(f.duplicate_ppm);
    p.frame_reorder = sim::Ratio::ppm(f.reorder_ppm);
    p.frame_corrupt = sim::Ratio::ppm(f.corrupt_ppm);
    p.frame_inject_unknown = sim::Ratio::ppm(f.inject_unknown_ppm);
    p.reorder_window = at(f.reorder_window_ms / 1000);
    p.drop_next = f.drop_next;
    if (f.types.empty()) {
      p.frame_types.set();
    } else {
      p.frame_types.reset();
      for (const auto& t : f.types) p.frame_types.set(code_of(t));
    }
  }
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

// The value at a dotted path of a frame's JSON model, as text; nullopt if absent.
std::optional<std::string> json_text(const protocol::Json& value, const std::string& path) {
  const protocol::Json* at_path = &value;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!at_path->is_object() || !at_path->contains(key)) return std::nullopt;
    at_path = &(*at_path)[key];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (at_path->is_string()) return at_path->get<std::string>();
  if (at_path->is_boolean()) return at_path->get<bool>() ? "true" : "false";
  if (at_path->is_number()) return at_path->dump();
  return std::string("*");  // an object or array: present
}

bool matches(const FrameExpectation& e, const SeenFrame& f) {
  if (f.from_client != e.from_client) return false;
  if (protocol::message_name(f.message) != e.type) return false;
  if (e.where.empty()) return true;
  const protocol::Json j = protocol::message_to_json(f.message)["value"];
  for (const auto& [path, want] : e.where) {
    const auto got = json_text(j, path);
    if (!got || (want != "*" && *got != want)) return false;
  }
  return true;
}

std::string describe(const FrameExpectation& e) {
  std::string what = e.type;
  if (!e.where.empty()) {
    what += "{";
    bool first = true;
    for (const auto& [k, v] : e.where) {
      what += (first ? "" : ", ") + k + "=" + v;
      first = false;
    }
    what += "}";
  }
  std::string when;
  if (e.from_s > 0 || e.until_s < 1e17)
    when = " between " + seconds_text(e.from_s) + " and " + seconds_text(e.until_s);
  return (e.from_client ? e.client + " wrote " : "the server wrote to " + e.client + " ") + what +
         when;
}

void check_frames(const FrameExpectation& e, const std::vector<SeenFrame>& frames,
                  std::vector<std::string>& failures) {
  std::vector<std::int64_t> times;
  for (const auto& f : frames) {
    if (f.t < at(e.from_s) || f.t > at(e.until_s)) continue;
    if (matches(e, f)) times.push_back(f.t);
  }
  const std::uint64_t n = times.size();
  if (e.at_least && n < *e.at_least) {
    failures.push_back(e.rule + ": expected " + describe(e) + " at least " +
                       std::to_string(*e.at_least) + " time(s); it happened " + std::to_string(n) +
                       " time(s)");
  }
  if (e.at_most && n > *e.at_most) {
    failures.push_back(e.rule + ": expected " + describe(e) + " at most " +
                       std::to_string(*e.at_most) + " time(s); it happened " + std::to_string(n) +
                       " time(s), first at " + seconds_text(static_cast<double>(times[0]) / 1e9));
  }
  if (e.max_per_s) {
    std::size_t lo = 0, worst = 0;
    std::int64_t worst_at = 0;
    for (std::size_t hi = 0; hi < times.size(); ++hi) {
      while (times[hi] - times[lo] >= sim::kSecond) ++lo;
      if (hi - lo + 1 > worst) {
        worst = hi - lo + 1;
        worst_at = times[lo];
      }
    }
    if (static_cast<double>(worst) > *e.max_per_s) {
      failures.push_back(e.rule + ": expected " + describe(e) + " at most " +
                         std::to_string(static_cast<std::uint64_t>(*e.max_per_s)) +
                         " per second; " + std::to_string(worst) + " within the second from " +
                         seconds_text(static_cast<double>(worst_at) / 1e9));
    }
  }
}

std::uint64_t stat_of(const ClientCore& core, ClientStat stat, std::uint64_t refused) {
  const auto& st = core.stats();
  switch (stat) {
    case ClientStat::Acked: return st.acked;
    case ClientStat::Rejected: return st.rejected;
    case ClientStat::Resyncs: return st.resyncs;
    case ClientStat::Throttles: return st.throttles;
    case ClientStat::Reconnects: return st.reconnects;
    case ClientStat::Purges: return st.purges;
    case ClientStat::Refreshes: return st.refreshes;
    case ClientStat::Reauths: return st.reauths;
    case ClientStat::Pending: return core.pending();
    case ClientStat::Backlog: return core.backlog();
    case ClientStat::Refused: return refused;
    case ClientStat::Peers: {
      std::uint64_t n = 0;
      for (const auto& [channel, peers] : core.presence()) n += peers.size();
      return n;
    }
  }
  return 0;
}

// True once the condition holds, judged against the stats when waiting began.
bool condition_met(const WaitFor& wf, const ClientCore& core, const ClientCore::Stats& base) {
  const auto& st = core.stats();
  switch (wf.condition) {
    case WaitCondition::Connected: return core.authenticated();
    case WaitCondition::Throttled: return core.throttled();
    case WaitCondition::Unthrottled: return st.throttles > 0 && !core.throttled();
    case WaitCondition::Resynced: return st.resyncs > base.resyncs;
    case WaitCondition::Purged: return st.purges > base.purges;
    case WaitCondition::Refreshed: return st.refreshes > base.refreshes;
  }
  return false;
}

// A value that differs per write and per step, `size` bytes long.
protocol::Bytes value_of(int i, std::size_t step, int size) {
  protocol::Bytes v(static_cast<std::size_t>(size), static_cast<std::uint8_t>(step));
  v[0] = static_cast<std::uint8_t>(i);
  if (size > 1) v[1] = static_cast<std::uint8_t>(i >> 8);
  return v;
}

// A step done on the server's side of the world (no client involved).
void perform_on_server(Run& run, const ScenarioEvent& e, std::size_t index) {
  if (!run.server) return;
  if (e.kind == StepKind::ServerWrite) {
    for (int i = 0; i < e.count; ++i) {
      const std::string doc = e.document.empty() ? "srv-" + std::to_string(i % 50) : e.document;
      run.server->inject_write(0, e.collection, doc, value_of(i, index, e.size));
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
  if (!c) return;
  switch (e.kind) {
    case StepKind::Write: {
      const std::string coll = e.collection.empty() ? "orders" : e.collection;
      for (int i = 0; i < e.count; ++i) {
        const std::string doc = e.document.empty() ? "doc-" + std::to_string(i % 50) : e.document;
        if (!c->write(coll, doc, value_of(i, index, e.size))) ++run.refused[e.client];
      }
      break;
    }
    case StepKind::Presence: c->update_presence(e.channel, protocol::Bytes{'h', 'i'}); break;
    case StepKind::Samples:
      c->act([&](ClientCore& core, Now now) {
        for (int i = 0; i < e.count; ++i)
          core.record_sample(e.collection, now.unix_ms + i, i * 0.5);
      });
      break;
    case StepKind::ApplyRate:
      c->act([&](ClientCore& core, Now) { core.set_apply_rate(e.rate); });
      break;
    case StepKind::CorruptState:
      c->act([](ClientCore& core, Now) { core.mark_state_corrupt(); });
      break;
    case StepKind::Resubscribe: c->act([](ClientCore& core, Now) { core.resubscribe(); }); break;
    default: SYNCSIM_ASSERT_MSG(false, "not a client step");
  }
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
    case StepKind::Resubscribe: perform_on_client(run, e, index); return;
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
        run.server->on_receive = [&run](const protocol::Message& m, std::uint64_t conn) {
          run.judge(m, conn, protocol::Sender::Client, Seen::Received);
        };
        run.server->on_closed = [&run](std::uint64_t conn) { run.closed(conn); };
        run.server->on_note = [&run](std::uint64_t conn, const reference::StateNote& n) {
          run.note(protocol::Sender::Server, conn, n);
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
          client->on_receive = [&run](const protocol::Message& m, std::uint64_t conn) {
            run.judge(m, conn, protocol::Sender::Server, Seen::Received);
          };
          client->on_closed = [&run](std::uint64_t conn) { run.closed(conn); };
          client->on_ignored = [&run](const protocol::Bytes& f, std::uint64_t conn) {
            run.ignored(f, conn, protocol::Sender::Server);
          };
          client->on_hangup = [&run](std::uint64_t conn) {
            run.hangup(conn, protocol::Sender::Client);
          };
          client->on_note = [&run](std::uint64_t conn, const reference::StateNote& n) {
            run.note(protocol::Sender::Client, conn, n);
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
    const std::string collection = !c.collection.empty() ? c.collection
                                   : c.shapes.empty()    ? "orders"
                                                         : c.shapes.front();
    for (int i = 0; i < c.writes; ++i) {
      const sim::Time t =
          rng.between(at(s.write_from_s), std::max(at(s.write_from_s), at(s.write_until_s)));
      const std::string doc =
          "doc-" + std::to_string(rng.below(static_cast<std::uint64_t>(c.docs)));
      protocol::Bytes value{static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8), 7};
      const std::string name = c.name;
      w.at(t, [&run, name, collection, doc, value] {
        if (auto* cl = run.client(name); cl && !cl->write(collection, doc, value))
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

  // Expectations.
  if (s.expect.max_must_findings &&
      result.must_findings > static_cast<std::size_t>(*s.expect.max_must_findings)) {
    result.failures.push_back(
        std::to_string(result.must_findings) + " MUST findings (allowed " +
        std::to_string(*s.expect.max_must_findings) + "); first: " +
        format_check_finding(
            *std::find_if(result.findings.begin(), result.findings.end(),
                          [](const auto& f) { return f.finding.level == protocol::Level::Must; })));
  }
  auto found = [&](const std::string& rule) {
    return std::find_if(result.findings.begin(), result.findings.end(),
                        [&](const CheckFinding& f) { return f.finding.rule == rule; });
  };
  for (const auto& rule : s.expect.absent) {
    if (auto it = found(rule); it != result.findings.end())
      result.failures.push_back(rule + ": expected no finding; " + format_check_finding(*it));
  }
  static const std::vector<SeenFrame> kNoFrames;
  for (const auto& fe : s.expect.frames) {
    auto it = run.frames.find(fe.client);
    check_frames(fe, it == run.frames.end() ? kNoFrames : it->second, result.failures);
  }
  for (const auto& se : s.expect.stats) {
    auto it = run.clients.find(se.client);
    if (it == run.clients.end()) continue;
    const std::uint64_t v = stat_of(it->second->core(), se.stat, run.refused[se.client]);
    const std::string stat(stat_name(se.stat));
    if ((se.at_least && v < *se.at_least) || (se.at_most && v > *se.at_most)) {
      result.failures.push_back(se.rule + ": expected " + se.client + "'s " + stat +
                                (se.at_least ? " >= " + std::to_string(*se.at_least) : "") +
                                (se.at_most ? " <= " + std::to_string(*se.at_most) : "") +
                                "; it is " + std::to_string(v));
    }
  }
  if (s.expect.converged && run.server && unnoticeable.count > 0) {
    result.notes.push_back(
        s.expect.converged_rule + " not judged: " + std::to_string(unnoticeable.count) +
        " relay fault(s) that no side can notice or repair (the first: " + unnoticeable.first +
        "), so convergence cannot be demanded (D120)");
  } else if (s.expect.converged && run.server) {
    const std::string cite = s.expect.converged_rule + ": ";
    for (const auto& c : s.clients) {
      auto* cl = run.client(c.name);
      if (!cl) continue;
      auto& core = cl->core();
      if (!core.authenticated())
        result.failures.push_back(cite + c.name + " is not connected at the end");
      if (core.pending() > 0) {
        result.failures.push_back(cite + c.name + " still has " + std::to_string(core.pending()) +
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
          result.failures.push_back(cite + c.name + "'s view of \"" + coll + "\" has " +
                                    std::to_string(client_docs.size()) + " documents, the server " +
                                    std::to_string(server_docs.size()) + "; " +
                                    first_difference(client_docs, server_docs));
        }
      }
    }
  }
  // A flagged rule must be caught, by the checker or by a failed expectation
  // citing it; those failures are then what the scenario demands.
  for (const auto& rule : s.expect.flagged) {
    const std::string prefix = rule + ": ";
    const auto cited = std::count_if(result.failures.begin(), result.failures.end(),
                                     [&](const std::string& f) { return f.starts_with(prefix); });
    std::erase_if(result.failures, [&](const std::string& f) { return f.starts_with(prefix); });
    if (found(rule) == result.findings.end() && cited == 0)
      result.failures.push_back(rule +
                                ": expected it to be caught; neither the checker nor an "
                                "expectation citing it failed");
  }
  result.passed = result.failures.empty();
  if (options.conn_clients) *options.conn_clients = run.conn_client;
  return result;
}

}  // namespace syncsim::conformance
