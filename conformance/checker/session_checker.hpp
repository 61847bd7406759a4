// The conformance checker: judges a trace of frames, whoever produced them,
// against PROTOCOL.md, frame by frame (encoding, framing, value rules) and
// session by session (state machines over each connection's two ordered
// streams). It needs only frames, never the internals of either side.
//
// A trace records, per connection, the frames each side wrote and, when the
// recorder knows it, when the other side read them. With both (the
// simulator records both), a side's reactions are judged against what it
// actually received, which differs from what was written when a lossy relay
// drops, duplicates or reorders frames. With writes only (a tap on the wire),
// each frame is taken as read when written: rules that relate the two
// directions then use only what order alone can prove, e.g. the server
// handles a session's frames one at a time (FRAME-13), so its answers follow
// the order of the requests.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/base64url.hpp"
#include "protocol/finding.hpp"
#include "protocol/messages.hpp"
#include "protocol/validate.hpp"

namespace syncsim::conformance {

// What a record says happened to the frame.
enum class Seen {
  Written,   // the sender wrote it
  Received,  // the receiver read it (decoded)
  Both,      // written and read at once: a trace from a tap on the wire
};

struct FrameRecord {
  std::int64_t t = 0;      // virtual ns
  std::uint64_t conn = 0;  // connection id
  protocol::Sender from = protocol::Sender::Client;
  protocol::Bytes frame;  // the whole frame, header included
  Seen seen = Seen::Both;
};

struct CheckerOptions {
  std::int64_t grace_ns = 10'000'000'000;         // liveness: answers owed after this long
  std::int64_t resync_deadline_ns = 200'000'000;  // RESYNC-2
  std::int64_t control_delay_ns = 500'000'000;    // THROTTLE-5: longest answer delay
  // THROTTLE-4's 1000 ms window, less 1 % for server clock drift.
  std::int64_t throttle_window_ns = 990'000'000;
  // TOKEN-9 needs the server's clock: its Unix ms at t = 0, when known...
  std::optional<std::int64_t> server_unix_epoch_ms;
  // ... or, better, its reading at any t (the simulator knows its jumps).
  std::function<std::int64_t(std::int64_t t)> server_unix_ms;
  std::int64_t clock_tolerance_ms = 2'000;
};

// A finding placed in the trace: where, when, and the frames before it.
struct CheckFinding {
  protocol::Finding finding;
  std::int64_t t = 0;
  std::uint64_t conn = 0;
  std::string frame;                 // the offending frame in the JSON model
  std::vector<std::string> context;  // up to 5 frames of the connection before it
  // Who broke the rule: the side the rule binds, or for rules binding both,
  // the sender of the frame judged (a tool that sends bad frames on purpose
  // ignores its own findings by this).
  protocol::Sender blamed = protocol::Sender::Server;
};

class SessionChecker {
 public:
  explicit SessionChecker(CheckerOptions options = {});

  void on_frame(const FrameRecord& r);
  void on_close(std::uint64_t conn, std::int64_t t);
  // An admin purge the harness made (PURGE-1): every authenticated session of
  // the tenant that pushed to or subscribed the collection is owed a
  // CollectionPurged. A CollectionPurged seen in the trace implies one too.
  void on_purge(std::uint32_t tenant, const std::string& collection, std::int64_t t);
  // Liveness rules (answers and notices still owed) are judged here, after
  // quiescence: anything owed for longer than the grace period is a finding.
  void finish(std::int64_t t);
  void finish(std::int64_t t, std::int64_t grace_ns);

  const std::vector<CheckFinding>& findings() const { return findings_; }
  std::size_t must_count() const;
  std::uint64_t frames() const { return frames_; }

  // The session rules this checker judges (frame rules come from validate()).
  static const std::vector<std::string_view>& session_rules();

 private:
  struct Push {
    std::uint64_t mutation_id = 0, peer_id = 0;
    std::string collection;
    std::int64_t received_at = 0;
    bool bad_crc = false;    // a non-zero checksum that does not match (DELTA-4)
    bool duplicate = false;  // at or below an accepted id of its peer when answered
  };
  struct RecentFrame {
    protocol::Sender from;
    Seen seen;
    protocol::Bytes frame;
  };
  struct Session {
    // ---- what the server has seen and done ----
    bool server_spoke = false;
    bool authenticated = false;  // the server's last HandshakeAck succeeded
    bool ever_authenticated = false;
    bool fork_rejected = false;  // the last ack said fork_detected (HS-10)
    bool closed = false;
    std::optional<std::string> session_id;
    struct OfferedHandshake {
      std::int64_t read_at = 0;
      std::optional<protocol::TokenClaims> claims;  // of its token, if readable
    };
    std::deque<OfferedHandshake> handshakes;  // read, unanswered (HS-2)
    std::uint32_t tenant = 0;
    std::int64_t exp = 0;  // of the authenticated identity; 0: never expires
    std::deque<std::pair<std::optional<protocol::TokenClaims>, std::int64_t>>
        refreshes;                                        // TOKEN-1: received, unanswered
    std::deque<Push> outstanding;                         // DELTA-7/9
    std::set<std::uint64_t> skipped;                      // silently dropped, never to be answered
    std::map<std::uint64_t, std::uint64_t> accepted_max;  // peer -> max acked mutation id (DELTA-6)
    std::map<std::string, std::uint64_t> collection_lsn;  // DELTA-8
    std::deque<std::pair<std::uint64_t, std::int64_t>> pings;  // PING-2: timestamp, received
    std::map<std::string, std::deque<std::int64_t>> subscribes_unanswered;  // SHAPE-2
    std::map<std::string, std::string> shapes;          // active: shape_id -> collection
    std::set<std::string> unsubscribed;                 // SHAPE-6
    std::map<std::string, std::uint64_t> shape_lsn;     // SHAPE-9
    std::set<std::string> touched;                      // collections pushed or subscribed
    std::map<std::string, std::int64_t> snapshot_owed;  // RESYNC-8: shape_id -> since
    std::set<std::string> purged;                       // PURGE-4
    std::map<std::string, std::int64_t> purge_owed;     // PURGE-1: collection -> since
    bool throttled = false;                             // THROTTLE-4/5
    std::uint64_t throttle_rate = 0;
    std::int64_t throttled_at = 0;
    bool throttle_reported = false;
    std::deque<std::int64_t> data_at;            // data frames written while throttled
    std::deque<std::int64_t> timeseries_owed;    // TS-5: pushes read, unanswered
    std::map<std::string, std::uint64_t> clock;  // VCLOCK-2: the server clock sent

    // ---- what the client has seen and done ----
    bool client_spoke = false;
    bool client_handshaken = false;                          // the client read a successful ack
    bool failed_ack = false;                                 // HS-13
    std::string client_key;                                  // lite_id, or "conn:N"
    std::map<std::string, std::uint64_t> delta_t;            // RESYNC-1: last ShapeDelta lsn read
    std::map<std::string, std::uint64_t> seeded_t;           // ... or the snapshot's (RESYNC-3 HC)
    std::set<std::pair<std::uint64_t, std::uint64_t>> gaps;  // (expected, received) seen
    bool resync_sent = false;
    std::optional<std::int64_t> gap_owed_since;  // RESYNC-2
    std::string gap_owed_what;
    std::optional<bool> last_throttle;  // THROTTLE-2
    bool refresh_outstanding = false;   // TOKEN-7
    bool handshaken_here = false;       // SESSION-7: a Handshake already succeeded
    bool conn3_reported = false;
    std::set<std::uint64_t> in_flight;  // FLOW-1: pushed, answer not yet read
    std::optional<std::int64_t> refresh_failed_at;

    std::deque<RecentFrame> recent;  // context
  };
  struct ClientRecord {  // per client, across its connections (PURGE-7)
    std::uint64_t max_mutation_id = 0;
    std::map<std::string, std::uint64_t> purged_below;  // collection -> max id before the purge
  };

  void report(std::string_view rule, protocol::Level level, std::string message, std::int64_t t,
              std::uint64_t conn, const std::string& frame_json);
  void client_wrote(Session& s, const protocol::Message& m, const FrameRecord& r);
  void server_wrote(Session& s, const protocol::Message& m, const FrameRecord& r);
  void server_read(Session& s, const protocol::Message& m, const FrameRecord& r);
  void client_read(Session& s, const protocol::Message& m, const FrameRecord& r);
  void check_deadlines(Session& s, std::uint64_t conn, std::int64_t now);
  void answered_push(Session& s, const Push& p, bool accepted, bool expired_reject,
                     const FrameRecord& r, const protocol::Message& m);
  std::optional<Push> answer(Session& s, std::uint64_t mid, const FrameRecord& r,
                             const protocol::Message& m);
  void owe_purge(std::uint32_t tenant, const std::string& collection, std::int64_t t);
  std::optional<std::int64_t> server_ms(std::int64_t t) const;
  void check_clock(Session& s, const std::map<std::string, std::uint64_t>& clock,
                   const FrameRecord& r, const protocol::Message& m);

  CheckerOptions options_;
  std::map<std::uint64_t, Session> sessions_;
  std::map<std::string, std::uint64_t> open_ids_;  // SESSION-1: session id -> conn
  std::map<std::pair<std::uint32_t, std::string>, std::uint64_t> delivered_lsn_;  // PURGE-2
  std::set<std::tuple<std::uint32_t, std::string, std::uint64_t>> purges_seen_;   // PURGE-1
  std::map<std::string, ClientRecord> clients_;
  std::map<std::string, std::uint64_t> epochs_;     // HS-12: lite_id -> highest epoch sent
  std::map<std::string, std::uint64_t> live_conn_;  // CONN-3: client -> its open connection
  std::vector<CheckFinding> findings_;
  std::uint64_t frames_ = 0;
  Session* current_ = nullptr;
  std::optional<protocol::Sender> current_from_;  // sender of the frame being judged
};

// One line for a terminal: "DELTA-9 (MUST) t=1.250s conn 3: ...".
std::string format_check_finding(const CheckFinding& f);

}  // namespace syncsim::conformance
