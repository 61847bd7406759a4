#include "reference/client_core.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>

#include "protocol/assert.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/validate.hpp"
#include "reference/gorilla.hpp"
#include "reference/snapshot.hpp"

namespace syncsim::reference {

using namespace protocol;

namespace {
constexpr std::pair<std::string_view, ClientBug> kClientBugNames[] = {
    {"NeverThrottle", ClientBug::NeverThrottle},
    {"NoResyncOnGap", ClientBug::NoResyncOnGap},
    {"PushToPurged", ClientBug::PushToPurged},
    {"CumulativeAck", ClientBug::CumulativeAck},
    {"WrongChecksum", ClientBug::WrongChecksum},
    {"ReuseEpoch", ClientBug::ReuseEpoch},
    {"CloseOnUndecodable", ClientBug::CloseOnUndecodable},
    {"NoHandshakeTimeout", ClientBug::NoHandshakeTimeout},
    {"IgnoreFork", ClientBug::IgnoreFork},
    {"ResendAcked", ClientBug::ResendAcked},
    {"IgnoreRejects", ClientBug::IgnoreRejects},
    {"AnswerServerPush", ClientBug::AnswerServerPush},
    {"IgnoreServerClock", ClientBug::IgnoreServerClock},
    {"SkewAckNotAck", ClientBug::SkewAckNotAck},
    {"NeverPing", ClientBug::NeverPing},
    {"NoBackoff", ClientBug::NoBackoff},
    {"NeverRetransmit", ClientBug::NeverRetransmit},
    {"KeepPurgedData", ClientBug::KeepPurgedData},
    {"AccumulatePresence", ClientBug::AccumulatePresence},
    {"StoreBadDefinition", ClientBug::StoreBadDefinition},
    {"KeepDeletedDefinition", ClientBug::KeepDeletedDefinition},
    {"SubscribeOnce", ClientBug::SubscribeOnce},
    {"ResyncFromLastLsn", ClientBug::ResyncFromLastLsn},
    {"RefreshAfterExpiry", ClientBug::RefreshAfterExpiry},
    {"IgnoreRefreshFailure", ClientBug::IgnoreRefreshFailure},
    {"HandshakeStaleToken", ClientBug::HandshakeStaleToken},
    {"NoRefreshOnDenied", ClientBug::NoRefreshOnDenied},
    {"EmptyDelta", ClientBug::EmptyDelta},
    {"OverstateSamples", ClientBug::OverstateSamples}};

// A Document or Vector shape of `collection` (a Graph shape covers none).
bool covers(const ShapeDefinition& shape, const std::string& collection) {
  return !std::holds_alternative<shape_type::Graph>(shape.shape_type) &&
         protocol::shape_collection(shape) == collection;
}
}  // namespace

std::optional<ClientBug> client_bug_from_name(std::string_view name) {
  for (const auto& [n, b] : kClientBugNames) {
    if (n == name) return b;
  }
  return std::nullopt;
}

std::vector<std::string_view> client_bug_names() {
  std::vector<std::string_view> out;
  for (const auto& [n, b] : kClientBugNames) out.push_back(n);
  return out;
}

std::string make_lite_id(std::int64_t unix_ms, sim::Prng& rng) {
  const std::uint64_t a = rng.next(), b = rng.next();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-7%03x-%04x-%012llx",
                static_cast<unsigned>(static_cast<std::uint64_t>(unix_ms) >> 16),
                static_cast<unsigned>(unix_ms & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((a >> 12) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

ClientCore::ClientCore(ClientConfig config, ClientPersistent persistent, sim::Prng& rng)
    : config_(std::move(config)),
      persistent_(std::move(persistent)),
      rng_(rng),
      batch_size_(config_.batch_initial),
      token_(config_.token),
      lifetime_s_(config_.token_lifetime_s),
      shapes_(config_.shapes) {
  if (persistent_.peer_id == 0)
    persistent_.peer_id = rng_.next() | 1;  // DELTA-1: constant per instance
}

// ---- connection lifecycle -----------------------------------------------------

void ClientCore::on_connected(Now now) {
  connected_ = true;
  authenticated_ = false;
  connected_at_ = last_inbound_ = now.steady_ms;
  // CONN-2 / RESYNC-1: per-connection state starts over; pending mutations stay.
  position_.clear();
  awaiting_snapshot_.clear();
  early_.clear();
  resync_sent_ = false;
  snapshot_since_resync_.clear();
  throttled_ = false;
  backlog_.clear();
  for (auto& [id, m] : pending_) m.sent_at = -1;
  check_pending();
  refreshing_.reset();
  if (!persistent_.lite_id.empty() && !bug(ClientBug::ReuseEpoch)) ++persistent_.epoch;  // HS-12
  if (persistent_.lite_id.empty()) {
    persistent_.lite_id = make_lite_id(now.unix_ms, rng_);
    persistent_.epoch = 1;
  }
  if (!started_) {  // a fresh process owes no backoff and kept no pending mutations
    started_ = true;
    note(StateNote{"client_start", {{"lite_id", persistent_.lite_id}}});
  }
  Handshake hs;
  hs.jwt_token =
      bug(ClientBug::HandshakeStaleToken) ? config_.token : token_;          // TOKEN-8: the latest
  for (const auto& s : shapes_) hs.subscribed_shapes.push_back(s.shape_id);  // SHAPE-13
  hs.client_version = "syncsim-reference/0.1";
  hs.lite_id = persistent_.lite_id;
  hs.epoch = persistent_.epoch;
  hs.wire_version = config_.wire_version;  // HS-3
  // HS-11: which connections are this instance's is the client's to say.
  if (!forked_lite_id_.empty())
    note(StateNote{"handshake_after_fork", {{"forked_lite_id", forked_lite_id_}}});
  send(std::move(hs));  // HS-1: the first frame
}

std::int64_t ClientCore::on_disconnected(Now) {
  connected_ = authenticated_ = false;
  ++stats_.reconnects;
  // CONN-1: min(1000 * 2^a, 60000) ms, no jitter; a grows after every wait.
  const std::uint32_t a = std::min<std::uint32_t>(backoff_attempt_, 6);
  std::int64_t wait = std::min<std::int64_t>(1000LL << a, 60'000);
  if (bug(ClientBug::NoBackoff)) wait = 1000;
  if (config_.backoff_jitter_ms > 0) wait += rng_.between(0, config_.backoff_jitter_ms);
  ++backoff_attempt_;
  for (auto& [name, series] : timeseries_) series.in_flight = 0;  // answered never: sent again
  check_pending();
  return wait;  // >= 1 s: CONN-4
}

// DEF-2/DEF-3: put stores, delete removes, anything else is ignored. The
// note states what the frame did and whether the definition is now stored
// (with its size), which the definitions judge checks against the frame.
void ClientCore::on_definition(const DefinitionSync& msg) {
  const bool known_type = msg.definition_type == "function" || msg.definition_type == "trigger" ||
                          msg.definition_type == "procedure";
  const bool del = msg.action == "delete" && !bug(ClientBug::KeepDeletedDefinition);
  const bool put = msg.action == "put" || (bug(ClientBug::StoreBadDefinition) && !del);
  const auto key = std::make_pair(msg.definition_type, msg.name);
  std::string outcome = "ignored";
  if (put && (bug(ClientBug::StoreBadDefinition) || (known_type && is_json_object(msg.payload)))) {
    definitions_[key] = msg.payload;
    outcome = "stored";
  } else if (del && known_type) {
    definitions_.erase(key);
    outcome = "deleted";
  }
  const auto it = definitions_.find(key);
  note(StateNote{
      "definition",
      {{"definition_type", msg.definition_type},
       {"name", msg.name},
       {"action", msg.action},
       {"outcome", outcome},
       {"stored_bytes", it == definitions_.end() ? "none" : std::to_string(it->second.size())}}});
}

void ClientCore::on_frame(const Message& m, Now now) {
  if (!connected_) return;
  last_inbound_ = now.steady_ms;
  if (!authenticated_) {
    // HS-14: the first answer must be the HandshakeAck.
    if (const auto* ack = std::get_if<HandshakeAck>(&m)) return on_ack(*ack, now);
    close_ = true;
    return;
  }
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, DeltaAck>) {
          on_delta_ack(msg);
        } else if constexpr (std::is_same_v<T, DeltaReject>) {
          on_reject(msg, now);
        } else if constexpr (std::is_same_v<T, ShapeSnapshot>) {
          const std::string coll = shape_collection(msg.shape_id);
          if (coll.empty() && msg.snapshot_lsn == 0) return;  // an unknown or Graph shape
          if (auto docs = decode_snapshot_data(msg.data))
            view_[coll] = std::move(*docs);  // SHAPE-11
          // Deltas still waiting to be applied that the snapshot already holds
          // would roll it back (SHAPE-9/11).
          std::erase_if(backlog_, [&](const ShapeDelta& d) {
            return d.shape_id == msg.shape_id && d.lsn <= msg.snapshot_lsn;
          });
          // RESYNC-3 (HC): seeded from the snapshot, never lowered.
          auto& t = position_[msg.shape_id];
          t = std::max(t, msg.snapshot_lsn);
          snapshot_since_resync_.insert(msg.shape_id);
          note({"snapshot_applied",  // SHAPE-11; fields in key order, as every note's
                {{"digest", snapshot_digest(encode_snapshot_data(view_[coll]))},
                 {"position", std::to_string(t)},
                 {"shape_id", msg.shape_id}}});
          // Deltas that overtook the snapshot (a reordering relay) apply on
          // top of it, those it already holds not at all (SHAPE-11).
          awaiting_snapshot_.erase(msg.shape_id);
          if (auto early = early_.find(msg.shape_id); early != early_.end()) {
            for (const auto& d : early->second) {
              if (d.lsn > msg.snapshot_lsn) accept_delta(d, now);
            }
            early_.erase(early);
          }
        } else if constexpr (std::is_same_v<T, ShapeDelta>) {
          on_shape_delta(msg, now);
        } else if constexpr (std::is_same_v<T, CollectionPurged>) {
          on_purged(msg);
        } else if constexpr (std::is_same_v<T, PingPong>) {
          if (!msg.is_pong) send(PingPong{msg.timestamp_ms, true});  // PING-5
        } else if constexpr (std::is_same_v<T, TokenRefreshAck>) {
          if (msg.success && refreshing_) {
            token_ = *refreshing_;
            token_set_at_s_ = now.unix_ms / 1000;
            if (msg.expires_in_secs > 0)
              lifetime_s_ = static_cast<std::int64_t>(msg.expires_in_secs);  // TOKEN-5 (HC)
            schedule_refresh(now);
            paused_for_token_ = false;
            refresh_failures_ = 0;
            ++stats_.refreshes;
          } else {
            // TOKEN-7: at least 1 s; +1 ms because steady_ms is floored.
            refresh_retry_at_ = now.steady_ms + 1001;
            if (bug(ClientBug::IgnoreRefreshFailure)) paused_for_token_ = false;
            // Re-authentication (D42): after kReauthAfter failed refreshes in a
            // row, start a new session with a fresh token from the source.
            if (++refresh_failures_ >= kReauthAfter && config_.new_token) {
              if (auto t = config_.new_token(); t && !t->empty()) {
                token_ = *t;
                token_set_at_s_ = 0;
                refresh_failures_ = 0;
                ++stats_.reauths;
                close_ = true;
              }
            }
          }
          refreshing_.reset();
        } else if constexpr (std::is_same_v<T, VectorClockSync>) {
          if (!bug(ClientBug::IgnoreServerClock)) {
            for (const auto& [k, v] : msg.clocks)
              server_clock_[k] = std::max(server_clock_[k], v);  // VCLOCK-3/4
          }
          note_server_clock();
        } else if constexpr (std::is_same_v<T, DefinitionSync>) {
          on_definition(msg);
        } else if constexpr (std::is_same_v<T, PresenceBroadcast>) {
          auto& view = presence_peers_[msg.channel];
          if (bug(ClientBug::AccumulatePresence)) {
            view.insert(view.end(), msg.peers.begin(), msg.peers.end());
          } else {
            view = msg.peers;  // PRES-11: the latest broadcast is the truth
          }
          note_presence(msg.channel);
        } else if constexpr (std::is_same_v<T, PresenceLeave>) {
          std::erase_if(presence_peers_[msg.channel],
                        [&](const PeerPresence& p) { return p.user_id == msg.user_id; });
        } else if constexpr (std::is_same_v<T, TimeseriesAck>) {
          auto it = timeseries_.find(msg.collection);
          if (it == timeseries_.end() || it->second.in_flight == 0) return;
          auto& series = it->second;
          if (msg.accepted >=
              series.in_flight) {  // TS-6: every sample taken; the watermark advances
            series.samples.erase(
                series.samples.begin(),
                series.samples.begin() + static_cast<std::ptrdiff_t>(series.in_flight));
          }
          series.in_flight = 0;  // otherwise kept and sent again
        } else if constexpr (std::is_same_v<T, ResyncRequest>) {
          // RESYNC-9 (HC): the unacknowledged mutations it names go out again.
          for (auto& [id, p] : pending_) {
            if (id >= msg.from_mutation_id &&
                (msg.collection.empty() || msg.collection == p.collection))
              p.sent_at = -1;
          }
          push_tick(now);
        } else if constexpr (std::is_same_v<T, DeltaPush>) {
          // DELTA-18: never answered. RESYNC-6 (HC): a wrong checksum asks for a resync.
          if (bug(ClientBug::AnswerServerPush)) send(DeltaAck{msg.mutation_id, 0, std::nullopt});
          if (purged_.count(msg.collection)) return;  // PURGE-7
          if (msg.checksum != 0 && crc32c(msg.delta) != msg.checksum) {
            send(ResyncRequest{resync_reason::ChecksumMismatch{msg.mutation_id}, msg.mutation_id,
                               msg.collection});
            ++stats_.resyncs;
          }
        }
        // Throttle, Handshake and the other client-only frames: ignored (FRAME-11).
      },
      m);
}

void ClientCore::on_ack(const HandshakeAck& m, Now now) {
  if (!m.success) {
    if (m.fork_detected) {  // HS-11: a new identity before reconnecting
      forked_lite_id_ = persistent_.lite_id;
      if (!bug(ClientBug::IgnoreFork)) {
        persistent_.lite_id = make_lite_id(now.unix_ms, rng_);
        persistent_.epoch = 0;  // raised to 1 by the next on_connected
      }
    } else if (config_.new_token && m.error && m.error->find("JWT") != std::string::npos) {
      // Re-authentication (HC, docs/decisions.md D31): a token the server
      // refuses is replaced from the token source before the next attempt.
      if (auto t = config_.new_token(); t && !t->empty()) {
        token_ = *t;
        token_set_at_s_ = 0;
      }
    }
    close_ = true;  // HS-13
    return;
  }
  authenticated_ = true;
  session_id_ = m.session_id;
  backoff_attempt_ = 0;  // CONN-1 (HC)
  if (token_set_at_s_ == 0) token_set_at_s_ = now.unix_ms / 1000;
  schedule_refresh(now);
  for (const auto& [k, v] : m.server_clock) server_clock_[k] = std::max(server_clock_[k], v);
  note_server_clock();
  if (!bug(ClientBug::NeverPing))
    send(PingPong{static_cast<std::uint64_t>(now.unix_ms), false});  // PING-1: at once
  next_ping_ = now.steady_ms + config_.ping_interval_ms;
  next_refresh_check_ = now.steady_ms + config_.refresh_tick_ms;

  for (const auto& s : shapes_) {
    if (subscribed_once_ && bug(ClientBug::SubscribeOnce)) break;
    send(ShapeSubscribe{s});  // SHAPE-14
    awaiting_snapshot_.insert(s.shape_id);
  }
  subscribed_once_ = true;
  if (state_corrupt_) {  // RESYNC-5 (HC): before any DeltaPush; fresh snapshots reload it
    send(ResyncRequest{resync_reason::CorruptedState{}, 0, ""});
    view_.clear();
    state_corrupt_ = false;
    ++stats_.resyncs;
  }
  for (const auto& [channel, state] : presence_) send(PresenceUpdate{channel, state});
  next_presence_ = now.steady_ms + config_.presence_heartbeat_ms;
  next_timeseries_ = now.steady_ms + config_.timeseries_interval_ms;
  next_vclock_ = now.steady_ms + config_.vclock_interval_ms;
  next_push_ = now.steady_ms;
  push_tick(now);
}

// ---- mutations (§5.3, §5.14) ---------------------------------------------------------

bool ClientCore::write(const std::string& collection, const std::string& document_id, Bytes value) {
  if (value.empty()) return false;  // DELTA-1: a delta is never empty
  if (purged_.count(collection) && !bug(ClientBug::PushToPurged)) return false;  // PURGE-7 (D30)
  const bool full = pending_.size() >= config_.pending_limit ||
                    pending_bytes_ + value.size() > config_.pending_bytes_limit;
  if (full) {  // FLOW-4: the queue as it stood when a write met its bound
    note(StateNote{"pending_bound",
                   {{"accepted", "0"},
                    {"bytes", std::to_string(pending_bytes_)},
                    {"pending", std::to_string(pending_.size())},
                    {"size", std::to_string(value.size())}}});
    return false;  // FLOW-4: refused, nothing dropped
  }
  const std::uint64_t id = ++persistent_.last_mutation_id;  // DELTA-1
  pending_bytes_ += value.size();
  pending_.emplace(id, Mutation{collection, document_id, std::move(value)});
  return true;
}

ClientCore::PendingIt ClientCore::drop_pending(PendingIt it) {
  SYNCSIM_ASSERT_MSG(pending_bytes_ >= it->second.delta.size(), "FLOW-4 byte count underflow");
  pending_bytes_ -= it->second.delta.size();
  return pending_.erase(it);
}

// O(pending): called where the client already walks its state (connection
// changes, purges), not per frame.
void ClientCore::check_pending() const {
  std::size_t bytes = 0;
  for (const auto& [id, m] : pending_) bytes += m.delta.size();
  SYNCSIM_ASSERT_MSG(bytes == pending_bytes_, "FLOW-4 byte count differs from the pending deltas");
}

void ClientCore::push_tick(Now now) {
  if (!authenticated_ || paused_for_token_) return;
  std::size_t in_flight = 0;
  for (const auto& [id, m] : pending_) in_flight += m.sent_at >= 0;
  std::size_t budget =
      std::min(batch_size_, config_.max_in_flight - std::min(in_flight, config_.max_in_flight));
  for (auto& [id, m] : pending_) {  // increasing mutation_id (DELTA-1, FLOW-2)
    const bool due_again = m.sent_at >= 0 && now.steady_ms - m.sent_at >= config_.retransmit_ms &&
                           !bug(ClientBug::NeverRetransmit);  // FLOW-3
    const bool fresh = m.sent_at < 0;
    if (!(fresh || due_again) || m.hold_until > now.steady_ms) continue;
    if (fresh) {
      if (budget == 0) continue;
      --budget;
    }
    if (purged_.count(m.collection) && !bug(ClientBug::PushToPurged)) continue;
    DeltaPush p;
    p.collection = m.collection;
    p.document_id = m.document_id;
    p.delta = bug(ClientBug::EmptyDelta) ? Bytes{} : m.delta;  // DELTA-1
    p.peer_id = persistent_.peer_id;
    p.mutation_id = id;
    p.checksum = crc32c(p.delta) ^ (bug(ClientBug::WrongChecksum) ? 1u : 0u);  // DELTA-2
    p.device_valid_time_ms = now.unix_ms;                                      // DELTA-16
    m.sent_at = now.steady_ms;
    send(std::move(p));
  }
}

void ClientCore::on_delta_ack(const DeltaAck& m) {
  if (bug(ClientBug::CumulativeAck)) {
    const auto end = pending_.upper_bound(m.mutation_id);
    for (auto it = pending_.begin(); it != end;) it = drop_pending(it);
  } else {
    auto it = pending_.find(m.mutation_id);  // DELTA-12/13: this id only
    if (it == pending_.end()) return;
    const bool keep = bug(ClientBug::ResendAcked) ||
                      (bug(ClientBug::SkewAckNotAck) && m.clock_skew_warning_ms.has_value());
    if (!keep) drop_pending(it);  // DELTA-16: a skew warning changes nothing else
  }
  ++stats_.acked;
  if (++consecutive_acks_ % 8 == 0)
    batch_size_ = std::min(config_.batch_max, batch_size_ + 1);  // FLOW-2
}

void ClientCore::on_reject(const DeltaReject& m, Now now) {
  ++stats_.rejected;
  consecutive_acks_ = 0;
  const std::size_t batch_before = batch_size_;
  batch_size_ = std::max(config_.batch_min, batch_size_ / 2);  // DELTA-14
  auto it = pending_.find(m.mutation_id);
  using namespace compensation;
  const auto& hint = m.compensation;
  // DELTA-14 (HC): how the reject was handled, stated once it is (D84). The
  // fields are in key order, so the runner's NoteFields only compares them.
  constexpr std::size_t kKept = 4;  // "kept": set once the outcome is known
  StateNote n{"delta_rejected",
              {{"batch_after", std::to_string(batch_size_)},
               {"batch_before", std::to_string(batch_before)},
               {"batch_min", std::to_string(config_.batch_min)},
               {"hint", hint ? std::string(std::visit([](const auto& h) { return h.kTag; }, *hint))
                             : std::string("none")},
               {"kept", ""},
               {"known", it == pending_.end() ? "0" : "1"},
               {"mutation_id", std::to_string(m.mutation_id)},
               {"retry_used", it != pending_.end() && it->second.integrity_retry ? "1" : "0"},
               {"token_source", config_.new_token ? "1" : "0"}}};
  const auto done = [&](bool kept) {
    n.fields[kKept].second = kept ? "1" : "0";
    note(std::move(n));
  };
  // TOKEN-6: the session's token, not the mutation, is refused: pause even
  // when the answer is to a resend of a mutation already settled.
  if (hint && std::holds_alternative<PermissionDenied>(*hint) && config_.new_token) {
    paused_for_token_ = true;  // the mutation stays pending
    const bool known = it != pending_.end();
    if (known) it->second.sent_at = -1;
    if (!bug(ClientBug::NoRefreshOnDenied)) request_token(now);
    return done(known);
  }
  if (it == pending_.end()) return done(false);
  if (hint && std::holds_alternative<IntegrityViolation>(*hint) && !it->second.integrity_retry) {
    it->second.integrity_retry = true;  // DELTA-14 (HC): once more, checksum computed afresh
    it->second.sent_at = -1;
    return done(true);
  }
  if (hint && std::holds_alternative<RateLimited>(*hint)) {
    it->second.sent_at = -1;
    it->second.hold_until =
        now.steady_ms + static_cast<std::int64_t>(std::get<RateLimited>(*hint).retry_after_ms);
    return done(true);
  }
  if (bug(ClientBug::IgnoreRejects)) {
    it->second.sent_at = -1;  // sent again as it was
    return done(true);
  }
  drop_pending(it);  // rolled back
  done(false);
}

void ClientCore::note_server_clock() const {
  if (!note_sink_) return;
  StateNote n{"server_clock", {}};
  for (const auto& [k, v] : server_clock_) n.fields.emplace_back("k:" + k, std::to_string(v));
  note(std::move(n));
}

// The steady time at which 80 % of the token's lifetime has passed (TOKEN-5),
// or never when the lifetime is unknown or there is no token source.
void ClientCore::schedule_refresh(Now now) {
  refresh_due_ = std::numeric_limits<std::int64_t>::max();
  // A periodic check (Lite's timers tick) instead of a wake at the instant.
  if (lifetime_s_ <= 0 || !config_.new_token || config_.refresh_tick_ms > 0) return;
  const std::int64_t due_unix_ms = refresh_at_unix_ms();
  refresh_due_ = now.steady_ms + std::max<std::int64_t>(0, due_unix_ms - now.unix_ms);
}

std::int64_t ClientCore::refresh_at_unix_ms() const {
  // The bug waits past the server's 60 s leeway (AUTH-3).
  const std::int64_t after_s =
      bug(ClientBug::RefreshAfterExpiry) ? lifetime_s_ + 90 : lifetime_s_ * 8 / 10;
  return (token_set_at_s_ + after_s) * 1000;
}

void ClientCore::request_token(Now now) {
  if (refreshing_ || !authenticated_ || !config_.new_token || now.steady_ms < refresh_retry_at_)
    return;  // TOKEN-4/7
  auto t = config_.new_token();
  if (!t || t->empty()) return;
  refreshing_ = *t;
  send(TokenRefresh{*t});
}

// ---- shapes, resync and throttle (§5.4–§5.6) -----------------------------------------

std::string ClientCore::shape_collection(const std::string& shape_id) const {
  for (const auto& s : shapes_) {
    if (s.shape_id == shape_id) return protocol::shape_collection(s);
  }
  return {};
}

void ClientCore::on_shape_delta(const ShapeDelta& m, Now now) {
  if (auto p = purged_.find(m.collection); p != purged_.end() && m.lsn <= p->second)
    return;                                          // PURGE-7
  if (shape_collection(m.shape_id).empty()) return;  // SHAPE-12: unknown shape, not an error
  auto pos = position_.find(m.shape_id);
  // D43: a delta at or below the position is stale (a fresh snapshot holds
  // it, or a relay duplicated or reordered it): applying it would roll back.
  if (pos != position_.end() && m.lsn <= pos->second) return;
  if (pos != position_.end() && m.lsn > pos->second + 1 && !bug(ClientBug::NoResyncOnGap)) {
    // RESYNC-2, RESYNC-3 (HC): again only once a snapshot answered the last request.
    if (!resync_sent_ || snapshot_since_resync_.count(m.shape_id)) {
      const std::uint64_t expected =
          pos->second + (bug(ClientBug::ResyncFromLastLsn) ? 0 : 1);  // RESYNC-1
      send(ResyncRequest{resync_reason::SequenceGap{expected, m.lsn}, expected, ""});
      resync_sent_ = true;
      snapshot_since_resync_.clear();
      ++stats_.resyncs;
    }
  }
  position_[m.shape_id] =
      std::max(pos == position_.end() ? 0 : pos->second, m.lsn);  // never lowered
  if (note_sink_) {  // SHAPE-12; built in place (a frequent note), its fields in key order
    StateNote n{"delta_read", {}};
    n.fields.reserve(3);
    n.fields.emplace_back("lsn", std::to_string(m.lsn));
    n.fields.emplace_back("position", std::to_string(position_[m.shape_id]));
    n.fields.emplace_back("shape_id", m.shape_id);
    note(std::move(n));
  }
  // Before the shape's snapshot on this connection, a delta waits for it:
  // the snapshot would otherwise overwrite what the delta changed.
  if (awaiting_snapshot_.count(m.shape_id)) {
    auto& early = early_[m.shape_id];
    if (early.size() < kMaxEarlyDeltas) return early.push_back(m);
  }
  accept_delta(m, now);
}

void ClientCore::accept_delta(const ShapeDelta& m, Now now) {
  if (config_.apply_rate_per_s == 0) return apply_delta(m);
  backlog_.push_back(m);
  if (!throttled_ && backlog_.size() >= config_.throttle_high && !bug(ClientBug::NeverThrottle)) {
    throttled_ = true;  // THROTTLE-2/3
    ++stats_.throttles;
    note_backlog();
    send(
        Throttle{true, backlog_.size(), config_.suggested_rate.value_or(config_.apply_rate_per_s)});
  }
  if (next_apply_ < now.steady_ms) next_apply_ = now.steady_ms;
}

void ClientCore::apply_delta(const ShapeDelta& m) {
  auto& seen = seen_lsn_[m.collection];
  seen = std::max(seen, m.lsn);
  auto& docs = view_[m.collection];
  if (m.operation == "DELETE") {
    docs.erase(m.document_id);
  } else if (!m.delta.empty()) {
    docs[m.document_id] = m.delta;  // SHAPE-12
  }
}

void ClientCore::apply_backlog(Now now) {
  if (backlog_.empty()) return;
  const std::int64_t step_ms =
      config_.apply_rate_per_s == 0
          ? 0  // the rate was lifted: apply everything now
          : std::max<std::int64_t>(1, 1000 / static_cast<std::int64_t>(config_.apply_rate_per_s));
  while (!backlog_.empty() && next_apply_ <= now.steady_ms) {
    apply_delta(backlog_.front());
    backlog_.pop_front();
    next_apply_ += step_ms;
  }
  if (throttled_ && backlog_.size() <= config_.throttle_low) {
    throttled_ = false;
    note_backlog();
    send(Throttle{false, backlog_.size(), 0});  // THROTTLE-2
  }
}

// THROTTLE-3 (D84): the backlog and the apply rate a Throttle is built from.
void ClientCore::note_backlog() const {
  note(StateNote{"throttle_backlog",
                 {{"backlog", std::to_string(backlog_.size())},
                  {"apply_rate", std::to_string(config_.apply_rate_per_s)}}});
}

// PRES-11 (D84): the client's view of a channel, its users in byte order.
void ClientCore::note_presence(const std::string& channel) {
  std::vector<std::string> users;
  for (const auto& p : presence_peers_[channel]) users.push_back(p.user_id);
  std::sort(users.begin(), users.end());
  std::string joined;
  for (const auto& u : users) joined += (joined.empty() ? "" : ",") + u;
  note(StateNote{"presence_view", {{"channel", channel}, {"users", std::move(joined)}}});
}

// PURGE-6/8 (D84): what the client holds of a collection.
ClientCore::Held ClientCore::held(const std::string& collection) const {
  Held h;
  if (const auto v = view_.find(collection); v != view_.end()) h.documents = v->second.size();
  for (const auto& [id, p] : pending_) h.pending += p.collection == collection;
  for (const auto& shape : shapes_) h.shapes += covers(shape, collection);
  return h;
}

void ClientCore::on_purged(const CollectionPurged& m) {
  const Held before = held(m.name);
  const auto was = purged_.find(m.name);
  const std::uint64_t recorded_before = was == purged_.end() ? 0 : was->second;
  purge(m);
  const Held after = held(m.name);
  const auto n = [](std::size_t v) { return std::to_string(v); };
  note(StateNote{"purge_handled",
                 {{"collection", m.name},
                  {"purge_lsn", std::to_string(m.purge_lsn)},
                  {"recorded_before", std::to_string(recorded_before)},
                  {"recorded", std::to_string(purged_[m.name])},
                  {"documents_before", n(before.documents)},
                  {"documents", n(after.documents)},
                  {"pending_before", n(before.pending)},
                  {"pending", n(after.pending)},
                  {"shapes_before", n(before.shapes)},
                  {"shapes", n(after.shapes)}}});
}

void ClientCore::purge(const CollectionPurged& m) {
  auto& recorded = purged_[m.name];
  if (recorded >= m.purge_lsn && recorded != 0) return;  // PURGE-8
  recorded = m.purge_lsn;
  ++stats_.purges;
  if (!bug(ClientBug::KeepPurgedData)) view_.erase(m.name);  // PURGE-6
  if (!bug(ClientBug::PushToPurged)) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.collection == m.name) {
        it = drop_pending(it);
      } else {
        ++it;
      }
    }
  }
  check_pending();
  unsubscribe(m.name);  // its shapes end (PURGE-6)
  std::erase_if(backlog_, [&](const ShapeDelta& d) { return d.collection == m.name; });
  for (auto& [shape, early] : early_)
    std::erase_if(early, [&](const ShapeDelta& d) { return d.collection == m.name; });
}

void ClientCore::unsubscribe(const std::string& collection) {
  for (auto it = shapes_.begin(); it != shapes_.end();) {
    if (!covers(*it, collection)) {
      ++it;
      continue;
    }
    if (authenticated_) send(ShapeUnsubscribe{it->shape_id});
    note({"shape_removed", {{"shape_id", it->shape_id}}});  // SHAPE-13
    position_.erase(it->shape_id);
    awaiting_snapshot_.erase(it->shape_id);
    early_.erase(it->shape_id);
    it = shapes_.erase(it);
  }
}

void ClientCore::update_presence(const std::string& channel, Bytes state, Now) {
  presence_[channel] = state;
  if (authenticated_) send(PresenceUpdate{channel, std::move(state)});
}

void ClientCore::record_sample(const std::string& collection, std::int64_t time_ms, double value) {
  auto& series = timeseries_[collection];
  if (series.samples.size() < 100'000) series.samples.emplace_back(time_ms, value);  // bounded
}

std::size_t ClientCore::unsynced_samples() const {
  std::size_t n = 0;
  for (const auto& [name, series] : timeseries_) n += series.samples.size();
  return n;
}

// TS-1: ts_block = (t_i, 0.0), val_block = (i, v_i); one push per collection
// in flight (TS-6).
void ClientCore::push_timeseries() {
  for (auto& [collection, series] : timeseries_) {
    if (series.in_flight > 0 || series.samples.empty()) continue;
    const std::size_t n = std::min<std::size_t>(series.samples.size(), 10'000);
    std::vector<std::int64_t> times;
    std::vector<double> values;
    for (std::size_t k = 0; k < n; ++k) {
      times.push_back(series.samples[k].first);
      values.push_back(series.samples[k].second);
    }
    TimeseriesPush p;
    p.lite_id = persistent_.lite_id;
    p.collection = collection;
    p.ts_block = ts_block_of(times);
    p.val_block = val_block_of(values);
    p.sample_count = n + (bug(ClientBug::OverstateSamples) ? 5 : 0);  // TS-1
    p.min_ts = *std::min_element(times.begin(), times.end());
    p.max_ts = *std::max_element(times.begin(), times.end());
    series.in_flight = n;
    send(std::move(p));
  }
}

// ---- time ----------------------------------------------------------------------------------

void ClientCore::advance(Now now) {
  if (!connected_) return;
  if (!authenticated_) {
    if (now.steady_ms - connected_at_ >= config_.handshake_wait_ms &&
        !bug(ClientBug::NoHandshakeTimeout))
      close_ = true;  // HS-14
    return;
  }
  if (now.steady_ms - last_inbound_ >= config_.dead_after_ms) {  // PING-6
    close_ = true;
    return;
  }
  if (now.steady_ms >= refresh_due_) {  // TOKEN-5: at 80 % of the lifetime
    // The steady and Unix clocks disagree by rounding, or by a jump: if the
    // Unix time is not there yet, wake again when it should be.
    const std::int64_t due_unix_ms = refresh_at_unix_ms();
    refresh_due_ = now.unix_ms >= due_unix_ms ? std::numeric_limits<std::int64_t>::max()
                                              : now.steady_ms + (due_unix_ms - now.unix_ms);
    if (now.unix_ms >= due_unix_ms) request_token(now);
  }
  if (config_.refresh_tick_ms > 0 && now.steady_ms >= next_refresh_check_) {
    next_refresh_check_ = now.steady_ms + config_.refresh_tick_ms;
    if (lifetime_s_ > 0 && config_.new_token && now.unix_ms >= refresh_at_unix_ms())
      request_token(now);
  }
  if (now.steady_ms >= next_ping_) {
    // TOKEN-5 again at each ping tick, for a refresh that failed or was not due.
    if (lifetime_s_ > 0 && config_.new_token && now.unix_ms >= refresh_at_unix_ms()) {
      request_token(now);
    }
    if (!bug(ClientBug::NeverPing))
      send(PingPong{static_cast<std::uint64_t>(now.unix_ms), false});  // PING-1
    next_ping_ = now.steady_ms + config_.ping_interval_ms;
  }
  if (paused_for_token_ && !refreshing_ && !bug(ClientBug::NoRefreshOnDenied)) request_token(now);
  if (now.steady_ms >= next_presence_) {  // PRES-10
    for (const auto& [channel, state] : presence_) send(PresenceUpdate{channel, state});
    next_presence_ = now.steady_ms + config_.presence_heartbeat_ms;
  }
  if (now.steady_ms >= next_timeseries_) {
    push_timeseries();
    next_timeseries_ = now.steady_ms + config_.timeseries_interval_ms;
  }
  if (config_.vclock_interval_ms > 0 && now.steady_ms >= next_vclock_) {
    // VCLOCK-3 (HC): keys are collections, values the highest LSN this client saw.
    send(VectorClockSync{seen_lsn_, persistent_.peer_id});
    next_vclock_ = now.steady_ms + config_.vclock_interval_ms;
  }
  apply_backlog(now);
  if (now.steady_ms >= next_push_) {
    push_tick(now);
    next_push_ = now.steady_ms + config_.push_tick_ms;
  }
}

std::int64_t ClientCore::next_deadline() const {
  if (!connected_) return std::numeric_limits<std::int64_t>::max();
  if (!authenticated_) {
    return bug(ClientBug::NoHandshakeTimeout) ? std::numeric_limits<std::int64_t>::max()
                                              : connected_at_ + config_.handshake_wait_ms;
  }
  std::int64_t t = std::min({last_inbound_ + config_.dead_after_ms, next_ping_});
  if (!presence_.empty()) t = std::min(t, next_presence_);
  if (unsynced_samples() > 0) t = std::min(t, next_timeseries_);
  if (!pending_.empty()) t = std::min(t, next_push_);
  if (!backlog_.empty()) t = std::min(t, next_apply_);
  if (paused_for_token_ && !refreshing_ && !bug(ClientBug::NoRefreshOnDenied))
    t = std::min(t, refresh_retry_at_);
  t = std::min(t, refresh_due_);
  if (config_.refresh_tick_ms > 0 && config_.new_token && lifetime_s_ > 0)
    t = std::min(t, next_refresh_check_);
  if (config_.vclock_interval_ms > 0) t = std::min(t, next_vclock_);
  return t;
}

}  // namespace syncsim::reference
