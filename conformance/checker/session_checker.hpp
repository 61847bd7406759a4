// The conformance checker: judges a trace of frames, whoever produced them,
// against PROTOCOL.md, frame by frame (encoding, framing, value rules) and
// session by session (state machines over each connection's two ordered
// streams). It needs only frames, never the internals of either side.
//
// A trace is, per connection, the frames each side wrote, in the order it
// wrote them (TCP keeps that order). Rules that relate the two directions use
// only what order alone can prove: e.g. the server handles a session's frames
// one at a time (FRAME-13), so its answers follow the order of the requests.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocol/finding.hpp"
#include "protocol/messages.hpp"
#include "protocol/validate.hpp"

namespace syncsim::conformance {

struct FrameRecord {
  std::int64_t t = 0;      // virtual ns when written
  std::uint64_t conn = 0;  // connection id
  protocol::Sender from = protocol::Sender::Client;
  protocol::Bytes frame;  // the whole frame, header included
};

// A finding placed in the trace: where, when, and the frames before it.
struct CheckFinding {
  protocol::Finding finding;
  std::int64_t t = 0;
  std::uint64_t conn = 0;
  std::string frame;                 // the offending frame in the JSON model
  std::vector<std::string> context;  // up to 5 frames of the connection before it
};

class SessionChecker {
 public:
  void on_frame(const FrameRecord& r);
  void on_close(std::uint64_t conn, std::int64_t t);
  // Liveness rules (answers still owed) are judged here, after quiescence:
  // a request counts as unanswered when it is older than `grace` ns at t.
  void finish(std::int64_t t, std::int64_t grace = 10'000'000'000);

  const std::vector<CheckFinding>& findings() const { return findings_; }
  std::size_t must_count() const;
  std::uint64_t frames() const { return frames_; }

 private:
  struct Push {
    std::uint64_t mutation_id = 0, peer_id = 0;
    std::string collection;
    bool duplicate = false;  // at or below an accepted id of its peer when sent
  };
  struct Session {
    bool client_spoke = false, server_spoke = false;
    bool client_handshaken = false;  // a successful ack was written
    bool failed_ack = false;         // HS-13
    int handshakes_unanswered = 0;   // HS-2
    std::optional<std::string> session_id;
    bool authenticated = false;
    std::deque<Push> outstanding;                         // DELTA-7/9
    std::set<std::uint64_t> skipped;                      // silently dropped, never to be answered
    std::map<std::uint64_t, std::uint64_t> accepted_max;  // peer -> max acked mutation id (DELTA-6)
    std::map<std::string, std::uint64_t> collection_lsn;  // DELTA-8
    std::deque<std::pair<std::uint64_t, std::int64_t>> pings;  // PING-2: timestamp, when sent
    std::map<std::string, std::deque<std::int64_t>> subscribes_unanswered;  // SHAPE-2: when sent
    std::deque<std::int64_t> handshakes_at;                                 // HS-2: when sent
    std::map<std::string, std::uint64_t> shape_lsn;                         // SHAPE-9
    std::set<std::string> purged;                                           // PURGE-4
    std::deque<std::string> recent;                                         // context
  };

  void report(const std::string_view rule, protocol::Level level, std::string message,
              const FrameRecord& r, const std::string& frame_json);
  void client_frame(Session& s, const protocol::Message& m, const FrameRecord& r,
                    const std::string& json);
  void server_frame(Session& s, const protocol::Message& m, const FrameRecord& r,
                    const std::string& json);

  std::map<std::uint64_t, Session> sessions_;
  std::map<std::string, std::uint64_t> open_ids_;  // SESSION-1: session id -> conn
  std::vector<CheckFinding> findings_;
  std::uint64_t frames_ = 0;
  Session* current_ = nullptr;
};

// One line for a terminal: "DELTA-9 (MUST) t=1.250s conn 3: ...".
std::string format_check_finding(const CheckFinding& f);

}  // namespace syncsim::conformance
