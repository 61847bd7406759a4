#include "reference/server_core.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "protocol/crc32c.hpp"
#include "protocol/validate.hpp"
#include "reference/gorilla.hpp"
#include "reference/snapshot.hpp"
#include "sim/wide_int.hpp"

namespace syncsim::reference {

using namespace protocol;

namespace {

constexpr std::uint16_t kServerWireVersion = 4;      // HS-5
constexpr std::int64_t kSkewWarningMs = 86'400'000;  // DELTA-15
constexpr std::uint64_t kNoExpiryLifetimeS = 3600;   // TOKEN-3

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

bool is_graph(const ShapeDefinition& shape) {
  return std::holds_alternative<shape_type::Graph>(shape.shape_type);
}

}  // namespace

namespace {
constexpr std::pair<std::string_view, ServerBug> kServerBugNames[] = {
    {"SkipDedup", ServerBug::SkipDedup},
    {"AcceptExpiredToken", ServerBug::AcceptExpiredToken},
    {"IgnoreThrottle", ServerBug::IgnoreThrottle},
    {"ForgetPurgeBroadcast", ServerBug::ForgetPurgeBroadcast},
    {"WrongLsnOrder", ServerBug::WrongLsnOrder},
    {"SkipCrcCheck", ServerBug::SkipCrcCheck},
    {"ForkStaysAuthenticated", ServerBug::ForkStaysAuthenticated},
    {"WrongPushChecksum", ServerBug::WrongPushChecksum},
    {"IgnoreSessionCap", ServerBug::IgnoreSessionCap},
    {"NeverIdleClose", ServerBug::NeverIdleClose},
    {"PingNotActivity", ServerBug::PingNotActivity},
    {"SkipExpiryAtHandshake", ServerBug::SkipExpiryAtHandshake},
    {"TrustAlwaysOn", ServerBug::TrustAlwaysOn},
    {"DedupOutlivesSession", ServerBug::DedupOutlivesSession},
    {"RejectDuplicates", ServerBug::RejectDuplicates},
    {"RequireSeriesBlock", ServerBug::RequireSeriesBlock},
    {"AckGlobalClock", ServerBug::AckGlobalClock},
    {"NoRateLimit", ServerBug::NoRateLimit},
    {"RateLimitAll", ServerBug::RateLimitAll},
    {"PresenceAcrossTenants", ServerBug::PresenceAcrossTenants},
    {"NeverExpirePresence", ServerBug::NeverExpirePresence},
    {"DropThrottledData", ServerBug::DropThrottledData},
    {"PurgeBehindData", ServerBug::PurgeBehindData},
    {"AcceptNewerWireVersion", ServerBug::AcceptNewerWireVersion},
    {"LateTimeseriesAck", ServerBug::LateTimeseriesAck},
    {"ReverseDefinitionReplay", ServerBug::ReverseDefinitionReplay},
    {"SnapshotMissesDocument", ServerBug::SnapshotMissesDocument},
    {"DeltasAcrossTenants", ServerBug::DeltasAcrossTenants},
    {"FixedExpiresIn", ServerBug::FixedExpiresIn}};
}  // namespace

std::optional<ServerBug> server_bug_from_name(std::string_view name) {
  for (const auto& [n, b] : kServerBugNames) {
    if (n == name) return b;
  }
  return std::nullopt;
}

std::vector<std::string_view> server_bug_names() {
  std::vector<std::string_view> out;
  for (const auto& [n, b] : kServerBugNames) out.push_back(n);
  return out;
}

std::string incompatible_version_error(std::uint32_t version) {
  return "incompatible wire version: version compatibility: remote wire version " +
         std::to_string(version) + " is newer than local 4; upgrade this node";
}

ServerCore::ServerCore(ServerConfig config) : config_(std::move(config)) {}

ServerCore::Session* ServerCore::find(SessionHandle s) {
  auto it = sessions_.find(s);
  return it == sessions_.end() ? nullptr : &it->second;
}

const std::string* ServerCore::wire_session_id(SessionHandle s) const {
  auto it = sessions_.find(s);
  return it == sessions_.end() ? nullptr : &it->second.id;
}

std::vector<ServerOutput> ServerCore::take_output() { return std::exchange(out_, {}); }
std::vector<SessionHandle> ServerCore::take_closes() { return std::exchange(closes_, {}); }

void ServerCore::send(Session& s, Message m) {
  out_.push_back(ServerOutput{s.handle, std::move(m)});
}

// ---- sessions -----------------------------------------------------------------

std::optional<SessionHandle> ServerCore::open_session(const std::string& peer, Now now) {
  if (sessions_.size() >= config_.max_sessions && !bug(ServerBug::IgnoreSessionCap))
    return std::nullopt;  // SESSION-2
  ++accepted_;
  Session s;
  s.handle = next_handle_++;
  s.id = "sync-" + peer + "-" + std::to_string(accepted_);  // SESSION-1
  s.bucket_milli = config_.rate_capacity * 1000;            // RATE-1: full at start
  s.bucket_at_ms = now.steady_ms;
  s.last_activity_ms = now.steady_ms;
  const SessionHandle h = s.handle;
  sessions_.emplace(h, std::move(s));
  return h;
}

void ServerCore::close_session(SessionHandle h, Now now) {
  Session* s = find(h);
  if (!s) return;
  // SESSION-9 / PRES-5: leave every channel; everything else is forgotten.
  const auto channels = s->channels;
  for (const auto& ch : channels) leave_channel(*s, ch, now);
  if (bug(ServerBug::DedupOutlivesSession)) {
    for (const auto& [peer, max_id] : s->dedup)
      kept_dedup_[peer] = std::max(kept_dedup_[peer], max_id);
  }
  sessions_.erase(h);
}

bool ServerCore::token_expired(const Session& s, Now now) const {
  if (bug(ServerBug::AcceptExpiredToken)) return false;
  const auto& id = s.identity;
  return !id.trust && id.exp > 0 &&
         floor_div(now.unix_ms, 1000) - 60 > id.exp;  // TOKEN-9 (no overflow)
}

void ServerCore::on_frame(SessionHandle h, const Message& m, Now now) {
  Session* sp = find(h);
  if (!sp) return;
  Session& s = *sp;
  const auto* ping = std::get_if<PingPong>(&m);
  if (!(ping && bug(ServerBug::PingNotActivity)))
    s.last_activity_ms = now.steady_ms;  // SESSION-3 (HC): every decodable frame is activity
  // FRAME-11: frames only a server sends are ignored, without answer.
  if (message_direction(m) == Direction::ServerToClient) return;
  if (bug(ServerBug::RateLimitAll) && s.authenticated && !std::holds_alternative<DeltaPush>(m) &&
      !take_token(s, now)) {
    return;
  }
  // ServerBug::LateTimeseriesAck: the ack held back goes out after this frame's answer.
  std::optional<Message> late = std::exchange(s.late_answer, std::nullopt);
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, Handshake>) {
          on_handshake(s, msg, now);
        } else if constexpr (std::is_same_v<T, PingPong>) {
          if (!msg.is_pong)
            send(s, PingPong{msg.timestamp_ms, true});  // PING-2; PING-3: no answer to Pong
        } else if constexpr (std::is_same_v<T, DeltaPush>) {
          on_delta_push(s, msg, now);
        } else if constexpr (std::is_same_v<T, TimeseriesPush>) {
          on_timeseries(s, msg, now);
        } else if (!s.authenticated) {
          return;  // SESSION-6 (HC): before the handshake only Handshake and Ping are answered
        } else if constexpr (std::is_same_v<T, ShapeSubscribe>) {
          on_shape_subscribe(s, msg, now);
        } else if constexpr (std::is_same_v<T, ShapeUnsubscribe>) {
          // SHAPE-6: no answer; no further deltas, queued ones included.
          s.shapes.erase(msg.shape_id);
          s.shape_lsn.erase(msg.shape_id);
          std::erase_if(s.data_queue, [&](const Message& q) {
            const auto* d = std::get_if<ShapeDelta>(&q);
            return d && d->shape_id == msg.shape_id;
          });
        } else if constexpr (std::is_same_v<T, VectorClockSync>) {
          for (const auto& [k, v] : msg.clocks) s.clock[k] = std::max(s.clock[k], v);  // VCLOCK-1
          send(s, VectorClockSync{s.clock, 0});
        } else if constexpr (std::is_same_v<T, ResyncRequest>) {
          on_resync(s, msg, now);
        } else if constexpr (std::is_same_v<T, Throttle>) {
          on_throttle(s, msg, now);
        } else if constexpr (std::is_same_v<T, TokenRefresh>) {
          on_token_refresh(s, msg, now);
        } else if constexpr (std::is_same_v<T, PresenceUpdate>) {
          on_presence(s, msg, now);
        }
      },
      m);
  if (Session* after = find(h); late && after) send(*after, std::move(*late));
}

// ---- handshake (§5.1, §5.2) ------------------------------------------------------

void ServerCore::on_handshake(Session& s, const Handshake& m, Now now) {
  HandshakeAck ack;
  ack.session_id = s.id;
  ack.server_wire_version = kServerWireVersion;  // HS-5
  s.authenticated = false;                       // SESSION-7: a second handshake starts over
  const std::uint32_t version = m.wire_version == 0 ? 1 : m.wire_version;
  if (version > kServerWireVersion && !bug(ServerBug::AcceptNewerWireVersion)) {  // HS-4
    ack.server_clock = s.clock;
    ack.error = incompatible_version_error(version);
    send(s, std::move(ack));
    return;
  }
  Identity identity;
  if (m.jwt_token.empty()) {
    if (!config_.trust_mode && !bug(ServerBug::TrustAlwaysOn)) {
      ack.error = "malformed JWT token";
      send(s, std::move(ack));  // HS-8: server_clock empty after a JWT failure
      return;
    }
    identity = Identity{"sync-client", 0, 0, 0, true};  // AUTH-1
  } else {
    auto r = verify_jwt(m.jwt_token, config_.jwt, floor_div(now.unix_ms, 1000));  // AUTH-2
    if (bug(ServerBug::SkipExpiryAtHandshake) && r.error == "JWT token expired")
      r = verify_jwt(m.jwt_token, config_.jwt, 0);  // as if the clock read the epoch
    if (!r.claims) {
      ack.error = r.error;
      send(s, std::move(ack));  // AUTH-5: the connection stays open
      return;
    }
    const auto& c = *r.claims;
    identity.username = c.sub.empty() ? "jwt_user_" + std::to_string(c.user_id) : c.sub;  // AUTH-4
    identity.tenant = c.tenant_id;
    identity.user_id = c.user_id;
    identity.exp = c.exp;
  }
  if (!m.lite_id.empty() && m.epoch != 0) {  // HS-9
    auto it = fork_table_.find(m.lite_id);
    if (it != fork_table_.end() && m.epoch <= it->second) {
      ack.server_clock = s.clock;
      ack.error = "FORK_DETECTED: regenerate LiteId and reconnect";
      ack.fork_detected = true;
      if (bug(ServerBug::ForkStaysAuthenticated)) {
        s.authenticated = true;
        s.identity = identity;
      }
      send(s, std::move(ack));  // HS-10: not authenticated
      return;
    }
    fork_table_[m.lite_id] = m.epoch;
  }
  s.authenticated = true;
  s.identity = identity;
  s.subscribed_shapes_info = m.subscribed_shapes;  // SHAPE-15: stored only
  note(s.handle, {"session_tenant", {{"tenant", std::to_string(identity.tenant)}}});  // SHAPE-8
  ack.success = true;
  ack.server_clock = s.clock;  // HS-7, VCLOCK-6
  if (bug(ServerBug::AckGlobalClock)) {
    for (const auto& [key, c] : collections_)
      if (key.first == identity.tenant) ack.server_clock[key.second] = c.lsn;
  }
  send(s, std::move(ack));
  // PURGE-5 (HC): replay the tenant's purges, increasing purge_lsn.
  if (auto it = purges_.find(identity.tenant);
      it != purges_.end() && !bug(ServerBug::ForgetPurgeBroadcast)) {
    std::vector<CollectionPurged> replay;
    for (const auto& [name, p] : it->second) replay.push_back(p);
    std::sort(replay.begin(), replay.end(),
              [](const auto& a, const auto& b) { return a.purge_lsn < b.purge_lsn; });
    for (auto& p : replay) {
      s.purged.insert(p.name);
      send(s, std::move(p));
    }
  }
  // DEF-4 (HC): every definition, by type then name (the map's order).
  if (auto it = definitions_.find(identity.tenant); it != definitions_.end()) {
    if (bug(ServerBug::ReverseDefinitionReplay)) {
      for (auto d = it->second.rbegin(); d != it->second.rend(); ++d) send(s, d->second);
    } else {
      for (const auto& [key, d] : it->second) send(s, d);
    }
  }
}

// ---- delta push (§5.3.2: the first deciding step ends handling) -----------------

bool ServerCore::take_token(Session& s, Now now) {
  const std::int64_t elapsed = std::max<std::int64_t>(0, now.steady_ms - s.bucket_at_ms);
  s.bucket_milli =
      std::min(config_.rate_capacity * 1000, s.bucket_milli + elapsed * config_.rate_per_s);
  s.bucket_at_ms = now.steady_ms;
  if (s.bucket_milli < 1000 && !bug(ServerBug::NoRateLimit)) return false;
  s.bucket_milli = std::max<std::int64_t>(0, s.bucket_milli - 1000);
  return true;
}

void ServerCore::on_delta_push(Session& s, const DeltaPush& m, Now now) {
  using namespace compensation;
  auto reject = [&](std::string reason, std::optional<CompensationHint> hint) {
    send(s, DeltaReject{m.mutation_id, std::move(reason), std::move(hint)});
  };
  if (!s.authenticated) return reject("not authenticated", PermissionDenied{});   // 1
  if (token_expired(s, now)) return reject("token expired", PermissionDenied{});  // 1b
  if (m.delta.empty()) return reject("empty delta", std::nullopt);                // 2
  if (m.checksum != 0 && !bug(ServerBug::SkipCrcCheck)) {                         // 3
    const std::uint32_t computed = crc32c(m.delta);
    if (computed != m.checksum)
      return reject(crc_mismatch_reason(m.checksum, computed), IntegrityViolation{});
  }
  auto dup = s.dedup.find(m.peer_id);             // 4
  const auto kept = kept_dedup_.find(m.peer_id);  // empty unless the bug is on
  const bool kept_dup = kept != kept_dedup_.end() && m.mutation_id <= kept->second;
  if (((dup != s.dedup.end() && m.mutation_id <= dup->second) || kept_dup) &&
      !bug(ServerBug::SkipDedup)) {
    if (bug(ServerBug::RejectDuplicates))
      return reject("duplicate mutation", Custom{"duplicate", std::to_string(m.mutation_id)});
    send(s, DeltaAck{m.mutation_id, 0, std::nullopt});
    return;
  }
  // 5 (identity) always holds here. PURGE-4 (HC, position spec-silent): after
  // the duplicate check, before the rate limit.
  if (s.purged.count(m.collection)) {
    return reject("collection purged", Custom{"collection_purged", m.collection});
  }
  // 6: token bucket, refilled continuously (thousandths of a token).
  if (!take_token(s, now)) {
    if (config_.rate_limit_reject) {  // RATE-3
      const std::int64_t missing = 1000 - s.bucket_milli;
      const auto retry = static_cast<std::uint64_t>(
          std::max<std::int64_t>(1, (missing + config_.rate_per_s - 1) / config_.rate_per_s));
      reject("rate limited", RateLimited{retry});
    }
    return;  // RATE-2: silent drop
  }
  // 7: the reference server has no write policies. 8: accepted.
  auto& max_id = s.dedup[m.peer_id];
  max_id = std::max(max_id, m.mutation_id);
  s.pushed_collections.insert(m.collection);
  for (const auto& rule : config_.constraints) {  // 9: a declared constraint replaces the ack
    if (rule.collection == m.collection &&
        (rule.document_id.empty() || rule.document_id == m.document_id)) {
      return reject(rule.reason, rule.hint);
    }
  }
  std::optional<std::int64_t> skew;
  if (m.device_valid_time_ms) {  // DELTA-15: signed, strictly beyond 24 h
    // The peer's value may be anything: subtract in 128 bits, saturate to i64.
    const sim::i128 wide = static_cast<sim::i128>(now.unix_ms) - *m.device_valid_time_ms;
    const std::int64_t d = wide > INT64_MAX   ? INT64_MAX
                           : wide < INT64_MIN ? INT64_MIN
                                              : static_cast<std::int64_t>(wide);
    if (d > kSkewWarningMs || d < -kSkewWarningMs) skew = d;
  }
  ++s.processed;  // TS-4 counts accepted pushes
  // The ack leaves before the ShapeDeltas the write produces (DELTA-9, SHAPE-7).
  const std::size_t ack_at = out_.size();
  send(s, DeltaAck{m.mutation_id, 0, skew});
  const std::uint64_t lsn =
      apply_write(s.identity.tenant, m.collection, m.document_id, m.delta, now, &m, s.handle);
  std::get<DeltaAck>(out_[ack_at].message).lsn = lsn;  // DELTA-8
}

bool ServerCore::subscribes_to(const Session& s, const std::string& collection) const {
  for (const auto& [id, shape] : s.shapes) {
    if (!is_graph(shape) && shape_collection(shape) == collection) return true;
  }
  return false;
}

// §1.1: next LSN of (tenant, collection), last writer wins, ShapeDelta to every
// matching subscription of the tenant, the writer's own included.
std::uint64_t ServerCore::apply_write(std::uint32_t tenant, const std::string& collection,
                                      const std::string& doc, std::optional<Bytes> value, Now now,
                                      const DeltaPush* origin, SessionHandle from) {
  Collection& c = collections_[{tenant, collection}];
  std::uint64_t lsn = ++c.lsn;
  if (bug(ServerBug::WrongLsnOrder) && lsn % 2 == 0) lsn -= 1;  // 1, 1, 3, 3, ...: not increasing
  const bool existed = c.documents.count(doc) > 0;
  std::string operation = value ? (existed ? "UPDATE" : "INSERT") : "DELETE";  // SHAPE-7
  if (value) {
    c.documents[doc] = *value;
  } else {
    c.documents.erase(doc);
  }
  if (note_sink_) {  // SHAPE-8; built in place (a frequent note), its fields in key order
    StateNote n{"write_applied", {}};
    n.fields.reserve(4);
    n.fields.emplace_back("collection", collection);
    n.fields.emplace_back("document_id", doc);
    n.fields.emplace_back("lsn", std::to_string(lsn));
    n.fields.emplace_back("tenant", std::to_string(tenant));
    note(from, std::move(n));
  }
  for (auto& [h, s] : sessions_) {
    const bool other_tenant = s.identity.tenant != tenant && !bug(ServerBug::DeltasAcrossTenants);
    if (!s.authenticated || other_tenant || s.purged.count(collection))
      continue;  // SHAPE-8, PURGE-4
    for (const auto& [shape_id, shape] : s.shapes) {
      if (is_graph(shape) || shape_collection(shape) != collection) continue;
      send_data(s, ShapeDelta{shape_id, collection, doc, operation, value.value_or(Bytes{}), lsn});
    }
    // DELTA-17 (HC, off by default): the write also goes out as a DeltaPush to
    // the other sessions subscribed to the collection.
    if (config_.push_deltas && value && h != from && subscribes_to(s, collection)) {
      DeltaPush p;
      p.collection = collection;
      p.document_id = doc;
      p.delta = *value;
      p.peer_id = origin ? origin->peer_id : 0;
      p.mutation_id = origin ? origin->mutation_id : lsn;
      p.checksum = crc32c(p.delta) ^ (bug(ServerBug::WrongPushChecksum) ? 1u : 0u);
      p.device_valid_time_ms = origin ? origin->device_valid_time_ms : std::nullopt;
      send_data(s, std::move(p));
    }
  }
  release_all(now);
  return lsn;
}

// ---- shapes and resync (§5.4, §5.5) ------------------------------------------------

void ServerCore::send_snapshot(Session& s, const ShapeDefinition& shape) {
  ShapeSnapshot snap;
  snap.shape_id = shape.shape_id;
  Bytes held = encode_snapshot_data({});  // SHAPE-4 (HC): Graph -> 90, 0
  std::size_t held_count = 0;
  if (is_graph(shape)) {
    snap.data = held;
  } else {
    const auto it = collections_.find({s.identity.tenant, shape_collection(shape)});
    static const Collection kEmpty;
    const Collection& c = it == collections_.end() ? kEmpty : it->second;
    held = encode_snapshot_data(c.documents);
    held_count = c.documents.size();
    snap.data = held;
    snap.snapshot_lsn = c.lsn;
    snap.doc_count = c.documents.size();
    if (bug(ServerBug::SnapshotMissesDocument) && !c.documents.empty()) {
      std::map<std::string, Bytes> docs = c.documents;
      docs.erase(std::prev(docs.end()));
      snap.data = encode_snapshot_data(docs);
      snap.doc_count = docs.size();
    }
  }
  note(s.handle, {"snapshot_taken",  // SHAPE-4: the data it holds; fields in key order
                  {{"digest", snapshot_digest(held)},
                   {"docs", std::to_string(held_count)},
                   {"lsn", std::to_string(snap.snapshot_lsn)},
                   {"shape_id", shape.shape_id}}});
  // SHAPE-9: queued deltas at or below the new snapshot are dropped; SHAPE-5:
  // so are those of a definition this one replaces.
  const std::string collection = is_graph(shape) ? std::string() : shape_collection(shape);
  std::erase_if(s.data_queue, [&](const Message& q) {
    const auto* d = std::get_if<ShapeDelta>(&q);
    return d && d->shape_id == shape.shape_id &&
           (d->lsn <= snap.snapshot_lsn || d->collection != collection);
  });
  s.shape_lsn[shape.shape_id] = snap.snapshot_lsn;
  send(s, std::move(snap));
}

void ServerCore::on_shape_subscribe(Session& s, const ShapeSubscribe& m, Now) {
  // SHAPE-3: registered (here, synchronously) before snapshot_lsn is read;
  // SHAPE-5: a known shape_id is replaced and gets a new snapshot.
  s.shapes[m.shape.shape_id] = m.shape;
  send_snapshot(s, m.shape);  // SHAPE-2
}

void ServerCore::on_resync(Session& s, const ResyncRequest& m, Now) {
  // RESYNC-8 (HC): fresh snapshots of the matching shapes, shape_id order;
  // RESYNC-7: never an error or a close.
  for (const auto& [id, shape] : s.shapes) {
    if (!m.collection.empty() && (is_graph(shape) || shape_collection(shape) != m.collection))
      continue;
    send_snapshot(s, shape);
  }
}

// ---- throttle (§5.6) -----------------------------------------------------------------

void ServerCore::send_data(Session& s, Message m) {
  if (s.data_queue.size() >= config_.data_queue_limit) {  // THROTTLE-6: the newest is dropped
    note_dropped(s, 1);
    return;
  }
  s.data_queue.push_back(std::move(m));
}

void ServerCore::release_data(Session& s, Now now) {
  if (!s.throttled || bug(ServerBug::IgnoreThrottle)) {
    while (!s.data_queue.empty()) {
      Message m = std::move(s.data_queue.front());
      s.data_queue.pop_front();
      if (auto* d = std::get_if<ShapeDelta>(&m)) s.shape_lsn[d->shape_id] = d->lsn;
      send(s, std::move(m));
    }
    return;
  }
  // THROTTLE-4: at most R data frames in any 1000 ms window.
  while (!s.data_sent_at.empty() && s.data_sent_at.front() <= now.steady_ms - 1000)
    s.data_sent_at.pop_front();
  while (!s.data_queue.empty() && s.data_sent_at.size() < s.throttle_rate) {
    Message m = std::move(s.data_queue.front());
    s.data_queue.pop_front();
    if (auto* d = std::get_if<ShapeDelta>(&m)) s.shape_lsn[d->shape_id] = d->lsn;
    send(s, std::move(m));
    s.data_sent_at.push_back(now.steady_ms);
  }
  if (bug(ServerBug::DropThrottledData) && !s.data_queue.empty()) {
    note_dropped(s, s.data_queue.size());
    s.data_queue.clear();  // the excess is lost instead of waiting its turn
  }
}

// THROTTLE-4/6 (D84): frames dropped, and the queue they did not fit in.
void ServerCore::note_dropped(const Session& s, std::size_t dropped) const {
  note(s.handle, StateNote{"data_dropped",
                           {{"dropped", std::to_string(dropped)},
                            {"queued", std::to_string(s.data_queue.size())}}});
}

void ServerCore::release_all(Now now) {
  for (auto& [h, s] : sessions_) release_data(s, now);
}

void ServerCore::on_throttle(Session& s, const Throttle& m, Now now) {
  if (s.throttled && !m.throttle)  // THROTTLE-4 (D84): what the release owes at once
    note(s.handle,
         StateNote{"throttle_released", {{"queued", std::to_string(s.data_queue.size())}}});
  s.throttled = m.throttle;
  s.throttle_rate = m.suggested_rate == 0 ? config_.default_throttle_rate : m.suggested_rate;
  if (!m.throttle) s.data_sent_at.clear();  // the limit ends at once
  release_data(s, now);
}

// ---- tokens (§5.2) ----------------------------------------------------------------------

void ServerCore::on_token_refresh(Session& s, const TokenRefresh& m, Now now) {
  // TOKEN-1: exactly one answer, never a close.
  if (m.new_token.empty()) return send(s, TokenRefreshAck{false, "empty token", 0});
  const std::int64_t now_s = floor_div(now.unix_ms, 1000);
  const auto r = verify_jwt(m.new_token, config_.jwt, now_s);
  if (!r.claims) return send(s, TokenRefreshAck{false, r.error, 0});
  if (r.claims->tenant_id != s.identity.tenant)
    return send(s, TokenRefreshAck{false, "tenant mismatch", 0});
  const auto& c = *r.claims;
  s.identity = Identity{c.sub.empty() ? "jwt_user_" + std::to_string(c.user_id) : c.sub,
                        c.tenant_id, c.user_id, c.exp, false};
  const std::uint64_t expires =
      c.exp > 0 && !bug(ServerBug::FixedExpiresIn)
          ? static_cast<std::uint64_t>(std::max<std::int64_t>(0, c.exp - now_s))
          : kNoExpiryLifetimeS;  // TOKEN-3
  send(s, TokenRefreshAck{true, std::nullopt, expires});
}

// ---- timeseries (§5.10) -----------------------------------------------------------------

void ServerCore::on_timeseries(Session& s, const TimeseriesPush& m, Now now) {
  TimeseriesAck ack{m.collection, 0, m.sample_count, 0};
  if (!s.authenticated || token_expired(s, now)) return send(s, std::move(ack));  // SESSION-5, TS-2
  if (bug(ServerBug::RequireSeriesBlock) && m.series_block.empty()) return send(s, std::move(ack));
  const std::size_t k =
      std::min(gorilla_decode(m.ts_block).size(), gorilla_decode(m.val_block).size());  // TS-3
  if (k > 0) {
    s.processed += k;  // TS-4: the session's running count
    ack.accepted = k;
    ack.rejected = m.sample_count > k ? m.sample_count - k : 0;
    ack.lsn = s.processed;
  }
  if (bug(ServerBug::LateTimeseriesAck)) {
    s.late_answer = std::move(ack);
    return;
  }
  send(s, std::move(ack));  // TS-5
}

// ---- presence (§5.8) ----------------------------------------------------------------------

void ServerCore::on_presence(Session& s, const PresenceUpdate& m, Now now) {
  const ChannelKey key = channel_key(s, m.channel);
  auto& peers = channels_[key];
  const bool member = peers.count(s.handle) > 0;
  if (!member && (s.channels.size() >= config_.presence_max_channels ||
                  peers.size() >= config_.presence_max_peers)) {
    if (peers.empty()) channels_.erase(key);
    return;  // PRES-4: ignored, no answer
  }
  peers[s.handle] = Peer{s.identity.username, m.state, now.steady_ms};  // PRES-2
  s.channels.insert(m.channel);
  broadcast_presence(key, s.handle, now);
}

void ServerCore::broadcast_presence(const ChannelKey& key, SessionHandle except, Now now) {
  const auto& peers = channels_[key];
  // PRES-11 (HC): peers listed in session-id byte order.
  std::vector<std::pair<std::string, PeerPresence>> listed;
  for (const auto& [h, p] : peers) {
    listed.emplace_back(
        sessions_.at(h).id,
        PeerPresence{p.user_id, p.state,
                     static_cast<std::uint64_t>(now.steady_ms - p.last_update_ms)});  // PRES-3
  }
  std::sort(listed.begin(), listed.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  PresenceBroadcast b{key.second, {}};
  for (auto& [id, p] : listed) b.peers.push_back(std::move(p));
  for (const auto& [h, p] : peers) {
    if (h != except) send(sessions_.at(h), b);  // PRES-2, PRES-7
  }
}

void ServerCore::leave_channel(Session& s, const std::string& channel, Now) {
  const ChannelKey key = channel_key(s, channel);
  auto it = channels_.find(key);
  s.channels.erase(channel);
  if (it == channels_.end()) return;
  auto p = it->second.find(s.handle);
  if (p == it->second.end()) return;
  const std::string user = p->second.user_id;
  it->second.erase(p);
  for (const auto& [h, peer] : it->second)
    send(sessions_.at(h), PresenceLeave{channel, user});  // PRES-5
  if (it->second.empty()) channels_.erase(it);
}

void ServerCore::sweep_presence(Now now) {
  // PRES-6: peers silent for more than the TTL leave.
  if (bug(ServerBug::NeverExpirePresence)) return;
  std::vector<std::pair<SessionHandle, std::string>> expired;
  for (const auto& [key, peers] : channels_) {
    for (const auto& [h, p] : peers) {
      if (now.steady_ms - p.last_update_ms > config_.presence_ttl_ms)
        expired.emplace_back(h, key.second);
    }
  }
  for (const auto& [h, channel] : expired) {
    if (Session* s = find(h)) leave_channel(*s, channel, now);
  }
}

// ---- time ---------------------------------------------------------------------------------

void ServerCore::advance(Now now) {
  // SESSION-3: idle sessions are closed.
  for (auto& [h, s] : sessions_) {
    if (now.steady_ms - s.last_activity_ms >= config_.idle_timeout_ms &&
        !bug(ServerBug::NeverIdleClose) &&
        std::find(closes_.begin(), closes_.end(), h) == closes_.end()) {
      closes_.push_back(h);
      // SESSION-3/4: the wire shows a close, not who closed or why.
      note(h, StateNote{"idle_close",
                        {{"idle_ms", std::to_string(now.steady_ms - s.last_activity_ms)}}});
    }
  }
  // PRES-6 (HC): sweeps at every multiple of the sweep period.
  if (now.steady_ms >= next_sweep_ms_) {
    sweep_presence(now);
    next_sweep_ms_ = (now.steady_ms / config_.presence_sweep_ms + 1) * config_.presence_sweep_ms;
  }
  release_all(now);
}

std::int64_t ServerCore::next_deadline() const {
  std::int64_t t = std::numeric_limits<std::int64_t>::max();
  bool any_presence = !channels_.empty();
  if (any_presence) t = std::min(t, next_sweep_ms_);
  for (const auto& [h, s] : sessions_) {
    if (!bug(ServerBug::NeverIdleClose))
      t = std::min(t, s.last_activity_ms + config_.idle_timeout_ms);
    if (s.throttled && !s.data_queue.empty() && !s.data_sent_at.empty())
      t = std::min(t, s.data_sent_at.front() + 1000);
  }
  return t;
}

// ---- admin --------------------------------------------------------------------------------

void ServerCore::purge_collection(std::uint32_t tenant, const std::string& collection, Now now) {
  Collection& c = collections_[{tenant, collection}];
  const std::uint64_t purge_lsn = ++c.lsn;  // PURGE-2: the counter's next value
  c.documents.clear();
  CollectionPurged msg{tenant, collection, purge_lsn};
  purges_[tenant][collection] = msg;
  if (bug(ServerBug::ForgetPurgeBroadcast)) return;
  for (auto& [h, s] : sessions_) {
    if (!s.authenticated || s.identity.tenant != tenant) continue;  // PURGE-1: all of the tenant
    if (bug(ServerBug::PurgeBehindData)) {                          // paced and queued like a delta
      s.purged.insert(collection);
      send_data(s, msg);
      release_data(s, now);
      continue;
    }
    // PURGE-3/4: ahead of queued data, and that collection's queued deltas go.
    std::erase_if(s.data_queue, [&](const Message& q) {
      const auto* d = std::get_if<ShapeDelta>(&q);
      const auto* p = std::get_if<DeltaPush>(&q);
      return (d && d->collection == collection) || (p && p->collection == collection);
    });
    s.purged.insert(collection);
    send(s, msg);
  }
}

void ServerCore::inject_write(std::uint32_t tenant, const std::string& collection,
                              const std::string& document_id, std::optional<Bytes> value, Now now) {
  apply_write(tenant, collection, document_id, std::move(value), now);
}

void ServerCore::put_definition(std::uint32_t tenant, const DefinitionSync& d, Now) {
  auto& defs = definitions_[tenant];
  const auto key = std::make_pair(d.definition_type, d.name);
  if (d.action == "delete") {
    defs.erase(key);
  } else {
    defs[key] = d;
  }
  for (auto& [h, s] : sessions_) {
    if (s.authenticated && s.identity.tenant == tenant) send(s, d);  // DEF-4
  }
}

}  // namespace syncsim::reference
