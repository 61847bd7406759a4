// A judge: the checker's part for one rule family (D73). The checker decodes
// each frame once and hands it, in a fixed order, to every judge that handles
// the event (D190); each judge keeps its own per-connection state and
// declares the rules it may report.
// Facts other families need live in the connection's SessionView, written by
// the judge that owns them (named per field) and read by the others.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "conformance/checker/session_checker.hpp"
#include "protocol/codec.hpp"

namespace syncsim::conformance {

// Facts about one connection that more than one family reads.
struct SessionView {
  // HandshakeJudge: the server's last HandshakeAck succeeded / any did /
  // the last failed with fork_detected (HS-10).
  bool authenticated = false;
  bool ever_authenticated = false;
  bool fork_rejected = false;
  // HandshakeJudge at a successful HandshakeAck, TokenJudge at a successful
  // TokenRefreshAck: the identity's tenant and exp (0: never expires).
  std::uint32_t tenant = 0;
  std::int64_t exp = 0;
  bool identity_known = false;  // the token's claims were readable
  // HandshakeJudge: Handshakes read and not yet answered.
  std::size_t handshakes_pending = 0;
  // ConnectionJudge: lite_id of the client, or "conn:N" before it is known.
  std::string client_key;
  // ShapeJudge: the active subscriptions, shape_id -> collection.
  std::map<std::string, std::string> shapes;
  // The checker, after every judge has seen the close.
  bool closed = false;
};

// What one judge derived from the frame in hand, for the judges after it.
struct FrameFacts {
  struct AnsweredPush {  // DeltaJudge: the push a DeltaAck/DeltaReject answers
    std::uint64_t mutation_id = 0;
    std::string collection;
    std::int64_t read_at = 0;     // when the server read the push
    bool accepted = false;        // acked, or rejected after acceptance (step 9)
    bool expired_reject = false;  // rejected "token expired"
  };
  std::optional<AnsweredPush> push;
  std::optional<std::int64_t> ping_read_at;  // ConnectionJudge: the Ping a Pong answers
};

// One decoded frame in context, as every judge receives it.
struct FrameEvent {
  const FrameRecord& r;
  const protocol::Message& m;
  const SessionView& view;  // this connection's shared facts
  FrameFacts& facts;
  bool first;  // the first frame its writer wrote on this connection
};

// Where judges send findings; the checker checks each against the
// reporter's declarations.
class FindingSink {
 public:
  virtual void judge_report(std::string_view judge, std::span<const RuleDecl> declared,
                            std::string_view rule, protocol::Level level, std::string message,
                            std::int64_t t, std::uint64_t conn, const std::string& frame_json) = 0;

 protected:
  ~FindingSink() = default;
};

// The views of every connection, owned by the checker.
using Views = std::map<std::uint64_t, SessionView>;

// The events a judge hears, one per virtual method of Judge below.
enum class JudgeEvent : unsigned char {
  Decoded,
  Deadlines,
  ClientWrote,
  ServerRead,
  ServerWrote,
  ClientRead,
  Closed,
  Purged,
  Noted,
  WsMessage,
  HungUp,
  Finish,
};
inline constexpr std::size_t kJudgeEvents = 12;

class Judge {
 public:
  Judge(FindingSink& sink, std::string_view name) : sink_(sink), name_(name) {}
  virtual ~Judge() = default;
  Judge(const Judge&) = delete;
  Judge& operator=(const Judge&) = delete;

  std::string_view name() const { return name_; }
  virtual std::span<const RuleDecl> rules() const = 0;

  // Each event's base version does nothing but mark the event ignored, so the
  // checker stops calling this judge for it after the first time (most judges
  // hear a few of the twelve). A judge that overrides a method hears every event.
  //
  // A frame as decoded, before any other event (the framing judge's only event).
  virtual void decoded(const FrameRecord&, const protocol::DecodedFrame&) {
    ignore(JudgeEvent::Decoded);
  }
  // Deadlines due by `now` on a connection: before each of its frames, at its
  // close and at the finish.
  virtual void deadlines(std::uint64_t, std::int64_t) { ignore(JudgeEvent::Deadlines); }
  // The four ways a well-formed frame is seen.
  virtual void client_wrote(const FrameEvent&) { ignore(JudgeEvent::ClientWrote); }
  virtual void server_read(const FrameEvent&) { ignore(JudgeEvent::ServerRead); }
  virtual void server_wrote(const FrameEvent&) { ignore(JudgeEvent::ServerWrote); }
  virtual void client_read(const FrameEvent&) { ignore(JudgeEvent::ClientRead); }
  // The connection ended: nothing more is owed on it.
  virtual void closed(std::uint64_t, std::int64_t) { ignore(JudgeEvent::Closed); }
  // An admin purge the harness made (PURGE-1).
  virtual void purged(std::uint32_t, const std::string&, std::int64_t) {
    ignore(JudgeEvent::Purged);
  }
  // A side's note on its own state (D84; Scope::Simulator rules).
  virtual void noted(const StateNote&) { ignore(JudgeEvent::Noted); }
  // A WebSocket message, before the frame it carries (if any) is decoded.
  virtual void ws_message(const WsRecord&) { ignore(JudgeEvent::WsMessage); }
  // A side ended its end of the connection (SessionChecker::on_hangup).
  virtual void hung_up(std::uint64_t, protocol::Sender, std::int64_t) {
    ignore(JudgeEvent::HungUp);
  }
  // The end of the trace, per connection: what is owed since before `cutoff`.
  virtual void finish(std::uint64_t, std::int64_t, std::int64_t) { ignore(JudgeEvent::Finish); }

  // Whether a base version above ran: this judge does not handle `e`.
  bool ignores(JudgeEvent e) const { return (ignored_ >> static_cast<unsigned>(e)) & 1u; }

 protected:
  void report(std::string_view rule, protocol::Level level, std::string message, std::int64_t t,
              std::uint64_t conn, const std::string& frame_json) {
    sink_.judge_report(name_, rules(), rule, level, std::move(message), t, conn, frame_json);
  }
  // A finding on the frame in hand.
  void flag(const FrameEvent& e, std::string_view rule, protocol::Level level,
            std::string message) {
    report(rule, level, std::move(message), e.r.t, e.r.conn, json_of(e.m));
  }
  static std::string json_of(const protocol::Message& m);

 private:
  void ignore(JudgeEvent e) { ignored_ |= 1u << static_cast<unsigned>(e); }

  FindingSink& sink_;
  std::string_view name_;
  std::uint32_t ignored_ = 0;  // bit per JudgeEvent
};

// What every judge is built from: the checker's sink and options, and the
// connections' views (writable only by the judges that own a field).
struct JudgeDeps {
  FindingSink& sink;
  const CheckerOptions& options;
  Views& views;
};

// One factory per judge (judge_*.cpp), called in dispatch order by the checker.
std::unique_ptr<Judge> make_framing_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_handshake_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_connection_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_delta_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_shape_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_throttle_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_token_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_purge_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_timeseries_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_vclock_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_session_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_auth_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_delta_client_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_ping_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_reconnect_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_flow_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_rate_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_presence_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_answers_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_definition_judge(const JudgeDeps& d);
std::unique_ptr<Judge> make_resync_judge(const JudgeDeps& d);

// Small helpers several judges share.
constexpr std::int64_t kJudgeMs = 1'000'000;
inline std::string ms_text(std::int64_t ns) { return std::to_string(ns / kJudgeMs) + " ms"; }
// A read record whose time is the reader's own (the simulator's), not a tap's.
inline bool exact_read(Seen seen, const CheckerOptions& o) {
  return seen == Seen::Received && !o.at_tap;
}
// A hang-up at `hangup_t` answers a frame read at `read_t` (FRAME-10,
// RESYNC-7, PURGE-8): in the same instant where read times are exact, within
// the hang-up window at a tap, which sees both late.
inline bool hung_up_on_it(std::int64_t read_t, bool exact, std::int64_t hangup_t,
                          const CheckerOptions& o) {
  return hangup_t - read_t <= (exact ? 0 : o.hangup_window_ns);
}
using protocol::shape_collection;  // the collection a shape covers (messages.hpp)
// The value of 1 to 19 decimal digits (below 10^19: no overflow), as the
// reference writes numbers in its notes; nullopt for anything else.
inline std::optional<std::uint64_t> plain_u64(std::string_view v) {
  if (v.empty() || v.size() > 19 ||
      !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::uint64_t x = 0;
  for (const char c : v) x = x * 10 + static_cast<std::uint64_t>(c - '0');
  return x;
}
// A note's unsigned field as strtoull reads it (0 when absent), skipping
// strtoull's locale work for plain digits.
inline std::uint64_t note_u64(const StateNote& n, std::string_view key) {
  const std::string* v = n.field(key);
  if (!v) return 0;
  if (const auto x = plain_u64(*v)) return *x;
  return std::strtoull(v->c_str(), nullptr, 10);
}
// A side's timer of `ns` on its own clock, drifting at most `ppm`, as the
// trace's clock measures it at the longest (slow clock) and the shortest (fast).
constexpr std::int64_t kDefaultDriftPpm = 100'000;  // the simulator's bound
inline std::int64_t longest_ns(std::int64_t ns, std::int32_t ppm) {
  return ns + ns / (1'000'000 - ppm) * ppm + 1;
}
inline std::int64_t shortest_ns(std::int64_t ns, std::int32_t ppm) {
  return ns - ns / (1'000'000 + ppm) * ppm - 1;
}

}  // namespace syncsim::conformance
