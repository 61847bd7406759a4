// The reference client's protocol logic, free of I/O: the shell (client.hpp)
// reports connection events and frames; the core answers with frames to
// write, a close request, and the next instant it needs to be woken. Every
// behaviour cites its rule in PROTOCOL.md.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "protocol/messages.hpp"
#include "reference/server_core.hpp"  // Now
#include "reference/state_note.hpp"
#include "sim/prng.hpp"

namespace syncsim::reference {

enum class ClientBug {
  NeverThrottle,          // never sends Throttle (THROTTLE-2)
  NoResyncOnGap,          // ignores sequence gaps (RESYNC-2)
  PushToPurged,           // keeps pushing mutations of a purged collection (PURGE-7)
  CumulativeAck,          // treats an ack as covering lower ids, like Lite (DELTA-13)
  WrongChecksum,          // sends checksums that do not match (DELTA-2)
  ReuseEpoch,             // does not raise the epoch per connection (HS-12)
  CloseOnUndecodable,     // drops the connection on a body that does not decode (FRAME-10)
  NoHandshakeTimeout,     // waits for the HandshakeAck forever (HS-14)
  IgnoreFork,             // keeps its lite_id after a fork rejection, like Lite (HS-11)
  ResendAcked,            // keeps acknowledged mutations pending and sends them again (DELTA-12)
  IgnoreRejects,          // keeps rejected mutations pending and sends them again (DELTA-14)
  AnswerServerPush,       // answers a server DeltaPush with a DeltaAck (DELTA-18)
  IgnoreServerClock,      // does not keep the server's VectorClockSync clock (VCLOCK-3)
  SkewAckNotAck,          // takes a DeltaAck with a clock-skew warning for a failure (DELTA-16)
  NeverPing,              // sends no Ping at all (PING-1)
  NoBackoff,              // reconnects after 1 s every time, never backing off (CONN-1)
  NeverRetransmit,        // never pushes an unanswered mutation again (RATE-4)
  KeepPurgedData,         // keeps the local documents of a purged collection (PURGE-6)
  AccumulatePresence,     // adds a broadcast's peers to its view instead of replacing it (PRES-11)
  StoreBadDefinition,     // applies every action but "delete" as a put (DEF-3)
  KeepDeletedDefinition,  // ignores a definition "delete" (DEF-2)
  SubscribeOnce,          // subscribes its shapes on the first session only (SHAPE-14)
  ResyncFromLastLsn,      // a SequenceGap names the last lsn read, not the next (RESYNC-1)
  RefreshAfterExpiry,     // refreshes ahead only after the token's 60 s leeway (TOKEN-5, TOKEN-10)
  IgnoreRefreshFailure,   // resumes pushing after a failed TokenRefreshAck (TOKEN-6)
  HandshakeStaleToken,    // handshakes with its configured token after a refresh (TOKEN-8)
  NoRefreshOnDenied,      // on PermissionDenied stops pushing but never refreshes (TOKEN-6)
  EmptyDelta,             // pushes its mutations with empty deltas (DELTA-1)
  OverstateSamples,       // says 5 samples more than its Gorilla blocks hold (TS-1)
};

std::optional<ClientBug> client_bug_from_name(std::string_view name);
std::vector<std::string_view> client_bug_names();  // every bug, as scenarios spell it

struct ClientConfig {
  std::string token;                                      // "" = trust mode
  std::function<std::optional<std::string>()> new_token;  // a token source, if the client has one
  std::int64_t token_lifetime_s = 0;  // TOKEN-5: until an ack says otherwise; 0 = unknown
  std::int64_t refresh_tick_ms = 0;   // TOKEN-5: 0 = wake at 80 %; else check every N ms
  std::vector<protocol::ShapeDefinition> shapes;  // subscribed after every handshake (SHAPE-14)
  std::int64_t ping_interval_ms = 30'000;         // PING-1
  std::int64_t dead_after_ms = 90'000;            // PING-6
  std::int64_t handshake_wait_ms = 10'000;        // HS-14
  std::int64_t push_tick_ms = 100;                // FLOW-2
  std::int64_t retransmit_ms = 2'000;             // FLOW-3
  std::size_t max_in_flight = 64;                 // FLOW-1
  std::size_t batch_initial = 50, batch_min = 10, batch_max = 500;  // FLOW-2
  std::size_t pending_limit = 10'000;                               // FLOW-4
  std::size_t pending_bytes_limit = 52'428'800;                     // FLOW-4
  std::size_t throttle_high = 1'000, throttle_low = 250;            // THROTTLE-2
  std::uint64_t apply_rate_per_s = 0;                               // 0: data frames apply at once
  std::optional<std::uint64_t> suggested_rate;   // THROTTLE-3: default the apply rate; 0 = server's
  std::int64_t presence_heartbeat_ms = 15'000;   // PRES-10
  std::int64_t timeseries_interval_ms = 30'000;  // TS-6
  std::int64_t vclock_interval_ms = 0;           // VCLOCK-4: sending is optional; 0 = never
  std::uint16_t wire_version = 1;                // HS-3 (scenarios may claim a future one, HS-4)
  // CONN-1 says no jitter; a scenario may add up to this much, drawn from the
  // node's PRNG (docs/decisions.md).
  std::int64_t backoff_jitter_ms = 0;
  std::set<ClientBug> bugs;
};

// What the client keeps across restarts (its disk).
struct ClientPersistent {
  std::string lite_id;
  std::uint64_t epoch = 0;
  std::uint64_t peer_id = 0;
  std::uint64_t last_mutation_id = 0;  // DELTA-1: ids never repeat
  bool operator==(const ClientPersistent&) const = default;
};

class ClientCore {
 public:
  ClientCore(ClientConfig config, ClientPersistent persistent, sim::Prng& rng);

  // ---- connection events (the shell calls these) ---------------------------
  void on_connected(Now now);  // sends the Handshake (HS-1)
  void on_frame(const protocol::Message& m, Now now);
  // The connection ended; returns how long to wait before the next attempt (CONN-1).
  std::int64_t on_disconnected(Now now);
  void advance(Now now);
  std::int64_t next_deadline() const;  // steady ms, or INT64_MAX

  std::vector<protocol::Message> take_output() { return std::exchange(out_, {}); }
  bool take_close() { return std::exchange(close_, false); }  // the shell closes the connection

  // ---- the application ------------------------------------------------------
  // A local mutation; false when the pending queue is full (FLOW-4).
  bool write(const std::string& collection, const std::string& document_id, protocol::Bytes value);
  void update_presence(const std::string& channel, protocol::Bytes state, Now now);
  // A timeseries sample, pushed with the next TS-1 batch of its collection.
  void record_sample(const std::string& collection, std::int64_t time_ms, double value);
  // The local store was found corrupt (e.g. at start): the next successful
  // handshake asks for a full resync (RESYNC-5).
  void mark_state_corrupt() { state_corrupt_ = true; }
  void set_apply_rate(std::uint64_t per_s) { config_.apply_rate_per_s = per_s; }
  // Ends every subscription to `collection` on this connection and for good
  // (none after a reconnect either): ShapeUnsubscribe for each (SHAPE-6).
  void unsubscribe(const std::string& collection);
  // Subscribes every active shape again on this connection (SHAPE-5).
  void resubscribe() {
    if (!authenticated_) return;
    for (const auto& s : shapes_) {
      send(protocol::ShapeSubscribe{s});
      awaiting_snapshot_.insert(s.shape_id);
    }
  }

  // ---- observation -----------------------------------------------------------
  bool authenticated() const { return authenticated_; }
  const ClientPersistent& persistent() const { return persistent_; }
  // Documents per collection as the server's shapes delivered them.
  const std::map<std::string, std::map<std::string, protocol::Bytes>>& view() const {
    return view_;
  }
  std::size_t pending() const { return pending_.size(); }
  std::size_t backlog() const { return backlog_.size(); }
  bool throttled() const { return throttled_; }
  // Peers per channel as the last PresenceBroadcast and later leaves have it.
  const std::map<std::string, std::vector<protocol::PeerPresence>>& presence() const {
    return presence_peers_;
  }
  std::size_t unsynced_samples() const;
  struct Stats {
    std::uint64_t acked = 0, rejected = 0, resyncs = 0, throttles = 0, reconnects = 0, purges = 0,
                  refreshes = 0, reauths = 0;
  };
  const Stats& stats() const { return stats_; }
  // For the I/O shell's own injected bugs (CloseOnUndecodable).
  bool has_bug(ClientBug b) const { return config_.bugs.count(b) > 0; }
  // Notes on state the wire cannot show (D84); unset: none are made.
  void set_note_sink(NoteSink sink) { note_sink_ = std::move(sink); }

 private:
  void note(StateNote n) const {
    if (note_sink_) note_sink_(0, std::move(n));
  }
  void on_definition(const protocol::DefinitionSync& msg);  // DEF-2, DEF-3
  NoteSink note_sink_;
  std::string forked_lite_id_;  // HS-11: the lite_id of the last fork rejection (for notes)
  struct Mutation {
    std::string collection, document_id;
    protocol::Bytes delta;
    std::int64_t sent_at = -1;  // steady ms; -1 = not in flight
    bool integrity_retry = false;
    std::int64_t hold_until = 0;  // RateLimited hint
  };
  using PendingIt = std::map<std::uint64_t, Mutation>::iterator;
  bool bug(ClientBug b) const { return config_.bugs.count(b) > 0; }
  PendingIt drop_pending(PendingIt it);  // erases it, lowering pending_bytes_ (FLOW-4)
  void check_pending() const;            // pending_bytes_ is the sum of the pending deltas
  void send(protocol::Message m) { out_.push_back(std::move(m)); }
  void push_tick(Now now);
  void on_ack(const protocol::HandshakeAck& m, Now now);
  void on_shape_delta(const protocol::ShapeDelta& m, Now now);
  void apply_delta(const protocol::ShapeDelta& m);
  void on_purged(const protocol::CollectionPurged& m);
  void purge(const protocol::CollectionPurged& m);
  struct Held {  // what the client holds of one collection (PURGE-6 notes)
    std::size_t documents = 0, pending = 0, shapes = 0;
  };
  Held held(const std::string& collection) const;
  void note_presence(const std::string& channel);
  void note_backlog() const;
  void on_reject(const protocol::DeltaReject& m, Now now);
  void on_delta_ack(const protocol::DeltaAck& m);
  void note_server_clock() const;  // VCLOCK-3 (HC): the server's positions as kept
  void request_token(Now now);
  void schedule_refresh(Now now);
  std::int64_t refresh_at_unix_ms() const;  // TOKEN-5: when the token is due for a refresh
  void accept_delta(const protocol::ShapeDelta& m, Now now);  // apply now or queue (apply rate)
  void apply_backlog(Now now);
  std::string shape_collection(const std::string& shape_id) const;

  ClientConfig config_;
  ClientPersistent persistent_;
  sim::Prng& rng_;
  std::vector<protocol::Message> out_;
  bool close_ = false;

  // connection
  bool connected_ = false, authenticated_ = false;
  std::int64_t connected_at_ = 0, last_inbound_ = 0, next_ping_ = 0, next_push_ = 0;
  std::string session_id_;
  std::map<std::string, std::uint64_t> position_;  // RESYNC-1: per shape, this connection
  bool resync_sent_ = false;                       // RESYNC-2/3
  std::set<std::string> snapshot_since_resync_;    // RESYNC-3 (HC)
  bool throttled_ = false;
  std::deque<protocol::ShapeDelta> backlog_;  // THROTTLE-2
  std::int64_t next_apply_ = 0;
  std::uint32_t backoff_attempt_ = 0;  // CONN-1

  // mutations
  std::map<std::uint64_t, Mutation> pending_;  // by mutation_id
  std::size_t pending_bytes_ = 0;
  std::size_t batch_size_;
  std::uint32_t consecutive_acks_ = 0;

  // token
  std::string token_;
  std::optional<std::string> refreshing_;  // TOKEN-7: one outstanding
  bool paused_for_token_ = false;          // TOKEN-6
  std::int64_t token_set_at_s_ = 0, refresh_retry_at_ = 0;
  std::int64_t lifetime_s_ = 0;
  std::int64_t refresh_due_ = std::numeric_limits<std::int64_t>::max();  // steady ms
  std::int64_t next_refresh_check_ = 0;  // steady ms, with refresh_tick_ms
  // Shapes subscribed on this connection whose snapshot has not come yet,
  // and the deltas that overtook it (bounded).
  static constexpr std::size_t kMaxEarlyDeltas = 10'000;
  std::set<std::string> awaiting_snapshot_;
  std::map<std::string, std::vector<protocol::ShapeDelta>> early_;

  // state
  std::vector<protocol::ShapeDefinition> shapes_;
  std::map<std::string, std::map<std::string, protocol::Bytes>> view_;
  std::map<std::string, std::uint64_t> purged_;  // PURGE-6
  std::map<std::pair<std::string, std::string>, protocol::Bytes> definitions_;
  std::map<std::string, std::uint64_t> server_clock_;
  std::map<std::string, protocol::Bytes> presence_;  // channels this client is present in
  std::map<std::string, std::vector<protocol::PeerPresence>> presence_peers_;
  std::int64_t next_presence_ = 0;
  struct Series {
    std::vector<std::pair<std::int64_t, double>> samples;  // not yet acknowledged in full
    std::size_t in_flight = 0;                             // samples of the unanswered push (TS-6)
  };
  std::map<std::string, Series> timeseries_;
  std::int64_t next_timeseries_ = 0;
  std::int64_t next_vclock_ = 0;
  std::map<std::string, std::uint64_t> seen_lsn_;  // VCLOCK-3: per collection
  void push_timeseries();
  Stats stats_;
  bool state_corrupt_ = false;
  bool started_ = false;  // a connection was made by this instance (the "client_start" note)
  bool subscribed_once_ = false;          // the SubscribeOnce bug
  static constexpr int kReauthAfter = 3;  // failed refreshes in a row before re-authenticating
  int refresh_failures_ = 0;
};

// A UUID-v7-shaped id from a Unix time and the PRNG (HS-11).
std::string make_lite_id(std::int64_t unix_ms, sim::Prng& rng);

}  // namespace syncsim::reference
