// The reference server's protocol logic, free of I/O ("sans-I/O"): frames in,
// frames out, time passed in explicitly. The Asio shell (server.hpp) feeds it
// decoded frames and writes what it emits; tests drive it directly. Every
// behaviour cites its rule in PROTOCOL.md; the state model is §1.1.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/messages.hpp"
#include "reference/jwt.hpp"
#include "reference/state_note.hpp"

namespace syncsim::reference {

// Both readings of the server's clock: steady for timers, buckets and TTLs;
// Unix milliseconds (skewable) for token expiry and the clock-skew warning.
struct Now {
  std::int64_t steady_ms = 0;
  std::int64_t unix_ms = 0;
};

// One named defect, switched on to prove that a conformance check can fail.
enum class ServerBug {
  SkipDedup,                // re-applies duplicates (DELTA-6)
  AcceptExpiredToken,       // no "token expired" rejects (TOKEN-9)
  IgnoreThrottle,           // never paces data frames (THROTTLE-4)
  ForgetPurgeBroadcast,     // sends no CollectionPurged (PURGE-1)
  WrongLsnOrder,            // acks and deltas carry a decreasing LSN (DELTA-8, SHAPE-9)
  SkipCrcCheck,             // accepts deltas whose checksum is wrong (DELTA-4)
  ForkStaysAuthenticated,   // Origin's HS-10 deviation
  WrongPushChecksum,        // DeltaPush to clients carries a wrong checksum (DELTA-17)
  IgnoreSessionCap,         // accepts connections beyond max_sessions (SESSION-2)
  NeverIdleClose,           // never closes idle sessions (SESSION-3)
  PingNotActivity,          // a Ping does not count as activity (SESSION-4, PING-4)
  SkipExpiryAtHandshake,    // accepts an expired token at the handshake (AUTH-3)
  TrustAlwaysOn,            // accepts the empty token with trust mode off (AUTH-1)
  DedupOutlivesSession,     // keeps a closed session's dedup table (SESSION-9)
  RejectDuplicates,         // rejects a duplicate instead of acking it with lsn 0 (DELTA-3)
  RequireSeriesBlock,       // refuses timeseries pushes with an empty series_block (TS-7)
  AckGlobalClock,           // HandshakeAck server_clock = the tenant's collection LSNs (VCLOCK-6)
  NoRateLimit,              // never drops a DeltaPush for the rate (RATE-2)
  RateLimitAll,             // the push bucket also charges, and drops, every other frame (RATE-5)
  PresenceAcrossTenants,    // presence channels keyed by name alone (PRES-7)
  NeverExpirePresence,      // never sweeps silent peers (PRES-6)
  DropThrottledData,        // drops the data frames over the throttle rate (THROTTLE-4)
  PurgeBehindData,          // queues CollectionPurged behind the data frames (PURGE-3)
  AcceptNewerWireVersion,   // lets a Handshake of wire version > 4 through (HS-4)
  LateTimeseriesAck,        // writes a TimeseriesAck after the next frame's answer (FRAME-13)
  ReverseDefinitionReplay,  // replays definitions after a handshake newest name first (DEF-4)
  SnapshotMissesDocument,   // a snapshot leaves out the collection's last document (SHAPE-4)
  DeltasAcrossTenants,      // ShapeDeltas reach every tenant's shapes of the collection (SHAPE-8)
  FixedExpiresIn,           // TokenRefreshAck always says 3600 s, as Origin does (TOKEN-3)
};

// Names as scenarios spell them ("SkipDedup"), and back.
std::optional<ServerBug> server_bug_from_name(std::string_view name);
std::vector<std::string_view> server_bug_names();  // every bug, as scenarios spell it

// A write a scenario declares as violating a constraint (§5.3.3, HARNESS CHOICE).
struct ConstraintRule {
  std::string collection;
  std::string document_id;  // empty: every document of the collection
  std::string reason;       // non-empty (DELTA-10)
  protocol::CompensationHint hint;
};

struct ServerConfig {
  bool trust_mode = true;                     // AUTH-1
  JwtConfig jwt;                              // AUTH-2
  std::uint32_t max_sessions = 1024;          // SESSION-2
  std::int64_t idle_timeout_ms = 300'000;     // SESSION-3
  std::int64_t rate_capacity = 200;           // RATE-1: burst
  std::int64_t rate_per_s = 100;              // RATE-1: refill
  bool rate_limit_reject = false;             // RATE-3 (MAY), off by default
  std::size_t data_queue_limit = 10'000;      // THROTTLE-6
  std::uint64_t default_throttle_rate = 100;  // THROTTLE-4: frames/s when suggested_rate = 0
  std::int64_t presence_ttl_ms = 30'000;      // PRES-6
  std::int64_t presence_sweep_ms = 5'000;     // PRES-6
  std::size_t presence_max_channels = 64;     // PRES-4
  std::size_t presence_max_peers = 1024;      // PRES-4
  std::vector<ConstraintRule> constraints;    // §5.3.3
  bool push_deltas = false;                   // DELTA-17: also send DeltaPush to subscribers
  std::set<ServerBug> bugs;
};

using SessionHandle = std::uint64_t;

struct ServerOutput {
  SessionHandle session = 0;
  protocol::Message message;
};

class ServerCore {
 public:
  explicit ServerCore(ServerConfig config = {});

  // ---- sessions (the shell calls these) ------------------------------------
  // A new connection from `peer` ("ip:port" or "node:port"). nullopt when the
  // session limit is reached: the shell closes the connection with no frame.
  std::optional<SessionHandle> open_session(const std::string& peer, Now now);
  void close_session(SessionHandle s, Now now);  // the connection ended
  void on_frame(SessionHandle s, const protocol::Message& m, Now now);
  // Runs timers due by `now`: idle timeouts, presence sweeps, throttle pacing.
  void advance(Now now);
  // When advance() next has work (steady ms), or INT64_MAX.
  std::int64_t next_deadline() const;

  // Frames to write, in order, and sessions to close (after their frames).
  std::vector<ServerOutput> take_output();
  std::vector<SessionHandle> take_closes();

  // ---- admin actions (scenarios) -------------------------------------------
  void purge_collection(std::uint32_t tenant, const std::string& collection, Now now);
  // A write made on the server (value nullopt = delete), delivered to shapes.
  void inject_write(std::uint32_t tenant, const std::string& collection,
                    const std::string& document_id, std::optional<protocol::Bytes> value, Now now);
  void put_definition(std::uint32_t tenant, const protocol::DefinitionSync& d, Now now);

  // ---- observation ----------------------------------------------------------
  struct Collection {
    std::uint64_t lsn = 0;                             // §1.1: last LSN taken
    std::map<std::string, protocol::Bytes> documents;  // last writer wins
  };
  const std::map<std::pair<std::uint32_t, std::string>, Collection>& collections() const {
    return collections_;
  }
  std::size_t session_count() const { return sessions_.size(); }
  // Notes on state the wire cannot show (D84); unset: none are made.
  void set_note_sink(NoteSink sink) { note_sink_ = std::move(sink); }
  const std::string* wire_session_id(SessionHandle s) const;

 private:
  void note(SessionHandle s, StateNote n) const {
    if (note_sink_) note_sink_(s, std::move(n));
  }
  NoteSink note_sink_;
  struct Identity {
    std::string username;
    std::uint32_t tenant = 0;
    std::uint64_t user_id = 0;
    std::int64_t exp = 0;  // token expiry (Unix s), 0 = never
    bool trust = false;
  };
  struct Session {
    SessionHandle handle = 0;
    std::string id;  // SESSION-1
    bool authenticated = false;
    Identity identity;
    std::map<std::string, std::uint64_t> clock;       // VCLOCK
    std::vector<std::string> subscribed_shapes_info;  // SHAPE-15
    std::map<std::uint64_t, std::uint64_t> dedup;     // DELTA-6: peer_id -> max mutation_id
    std::int64_t bucket_milli = 0;                    // RATE-1, thousandths of a token
    std::int64_t bucket_at_ms = 0;
    std::set<std::string> pushed_collections;                 // PURGE-1
    std::map<std::string, protocol::ShapeDefinition> shapes;  // by shape_id
    std::map<std::string, std::uint64_t> shape_lsn;           // SHAPE-9: last lsn sent per shape
    std::optional<protocol::Message> late_answer;             // ServerBug::LateTimeseriesAck
    std::set<std::string> purged;                             // PURGE-4
    bool throttled = false;                                   // THROTTLE-4
    std::uint64_t throttle_rate = 0;
    std::deque<protocol::Message> data_queue;  // THROTTLE-6
    std::deque<std::int64_t> data_sent_at;     // sliding 1000 ms window
    std::int64_t last_activity_ms = 0;         // SESSION-3
    std::set<std::string> channels;            // PRES-4
    std::uint64_t processed = 0;               // TS-4 running count
  };
  struct Peer {
    std::string user_id;
    protocol::Bytes state;
    std::int64_t last_update_ms = 0;
  };
  using ChannelKey = std::pair<std::uint32_t, std::string>;  // (tenant, channel)

  bool bug(ServerBug b) const { return config_.bugs.count(b) > 0; }
  Session* find(SessionHandle s);
  void send(Session& s, protocol::Message m);       // answers, control, presence: never throttled
  void send_data(Session& s, protocol::Message m);  // ShapeDelta: throttled and bounded
  void release_data(Session& s, Now now);
  void release_all(Now now);
  void note_dropped(const Session& s, std::size_t dropped) const;
  bool token_expired(const Session& s, Now now) const;

  bool take_token(Session& s, Now now);  // RATE-1: refills, then takes one if there is one
  void on_handshake(Session& s, const protocol::Handshake& m, Now now);
  void on_delta_push(Session& s, const protocol::DeltaPush& m, Now now);
  void on_shape_subscribe(Session& s, const protocol::ShapeSubscribe& m, Now now);
  void on_timeseries(Session& s, const protocol::TimeseriesPush& m, Now now);
  void on_resync(Session& s, const protocol::ResyncRequest& m, Now now);
  void on_throttle(Session& s, const protocol::Throttle& m, Now now);
  void on_token_refresh(Session& s, const protocol::TokenRefresh& m, Now now);
  void on_presence(Session& s, const protocol::PresenceUpdate& m, Now now);

  void send_snapshot(Session& s, const protocol::ShapeDefinition& shape);
  std::uint64_t apply_write(std::uint32_t tenant, const std::string& collection,
                            const std::string& doc, std::optional<protocol::Bytes> value, Now now,
                            const protocol::DeltaPush* origin = nullptr, SessionHandle from = 0);
  bool subscribes_to(const Session& s, const std::string& collection) const;
  void broadcast_presence(const ChannelKey& key, SessionHandle except, Now now);
  void leave_channel(Session& s, const std::string& channel, Now now);
  void sweep_presence(Now now);
  ChannelKey channel_key(const Session& s, const std::string& channel) const {
    return {bug(ServerBug::PresenceAcrossTenants) ? 0 : s.identity.tenant, channel};
  }

  ServerConfig config_;
  std::map<SessionHandle, Session> sessions_;
  SessionHandle next_handle_ = 1;
  std::uint64_t accepted_ = 0;  // SESSION-1's n
  std::map<std::pair<std::uint32_t, std::string>, Collection> collections_;
  std::map<std::string, std::uint64_t> fork_table_;    // HS-9: lite_id -> highest epoch
  std::map<std::uint64_t, std::uint64_t> kept_dedup_;  // the DedupOutlivesSession bug
  std::map<std::uint32_t, std::map<std::string, protocol::CollectionPurged>> purges_;  // PURGE-5
  std::map<std::uint32_t, std::map<std::pair<std::string, std::string>, protocol::DefinitionSync>>
      definitions_;
  std::map<ChannelKey, std::map<SessionHandle, Peer>> channels_;
  std::int64_t next_sweep_ms_ = 0;
  std::vector<ServerOutput> out_;
  std::vector<SessionHandle> closes_;
};

// The HandshakeAck error for a wire version above 4 (HS-4).
std::string incompatible_version_error(std::uint32_t version);

}  // namespace syncsim::reference
