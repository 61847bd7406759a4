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

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/base64url.hpp"  // kept for callers that relied on it
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

// A WebSocket message (FRAME-4..7, FRAME-12): a recorder on a WebSocket
// connection records each message it reads as one, a binary message whole
// (it may hold no frame, one, or more), and the checker takes the frame a
// receiver would take from it, the first (§2.3). TCP traces record frames.
enum class WsKind : unsigned char { Binary, Text, Ping, Pong, Close };
struct WsRecord {
  std::int64_t t = 0;
  std::uint64_t conn = 0;
  protocol::Sender from = protocol::Sender::Client;
  WsKind kind = WsKind::Binary;
  protocol::Bytes payload;  // the message's bytes, or the control frame's payload
  Seen seen = Seen::Both;   // Written: the receiver may never get it (a proxy ends it)
};
std::string_view ws_kind_name(WsKind k);

// What the side under test is configured to do, where the harness knows it:
// the simulator from the scenario, a live run from the target file. A rule
// that depends on a configured limit is judged only when its field is set
// (Scope::Profile). Judges add the fields they need.
struct ServerProfile {
  std::optional<std::uint32_t> max_sessions;                             // SESSION-2
  std::optional<std::int64_t> idle_timeout_ns;                           // SESSION-3
  std::optional<bool> trust_mode;                                        // AUTH-1
  std::optional<std::int64_t> presence_ttl_ns;                           // PRES-6
  std::optional<std::size_t> presence_max_channels, presence_max_peers;  // PRES-4
  std::optional<std::int64_t> rate_capacity, rate_per_s;                 // RATE-1
  std::optional<bool> rate_limit_reject;                                 // RATE-3
  std::optional<std::uint64_t> default_throttle_rate;                    // THROTTLE-4
  std::optional<std::size_t> data_queue_limit;                           // THROTTLE-6
  std::optional<std::int32_t> clock_drift_ppm;  // RATE-1: most the server's steady clock drifts
};
struct ClientProfile {
  std::optional<std::int64_t> ping_interval_ns;                 // PING-1
  std::optional<std::int64_t> dead_after_ns;                    // PING-6
  std::optional<std::int64_t> handshake_wait_ns;                // HS-14
  std::optional<std::int64_t> push_tick_ns;                     // FLOW-2
  std::optional<std::int64_t> retransmit_ns;                    // FLOW-3
  std::optional<std::int64_t> presence_heartbeat_ns;            // PRES-10
  std::optional<std::int64_t> timeseries_interval_ns;           // TS-6
  std::optional<std::int64_t> backoff_base_ns, backoff_max_ns;  // CONN-1: min(base * 2^a, max)
  std::optional<std::int32_t> clock_drift_ppm;  // PING-1, PING-6, FLOW-3: most a clock drifts
  std::optional<std::size_t> pending_limit, pending_bytes_limit;  // FLOW-4
  std::optional<bool> token_source;  // TOKEN-5/6/10: every client sending a token can get new ones
  std::optional<std::int64_t> token_lifetime_s;  // TOKEN-5/10: their configured lifetime (0: none)
};

// A note's fields: a few (key, value) pairs kept sorted by key, keys unique,
// so traces list them in one order (a small vector: notes are frequent).
class NoteFields {
 public:
  using value_type = std::pair<std::string, std::string>;
  using const_iterator = std::vector<value_type>::const_iterator;
  using iterator = const_iterator;
  NoteFields() = default;
  NoteFields(std::initializer_list<value_type> fields) {
    for (const auto& [k, v] : fields) (*this)[k] = v;
  }
  NoteFields(const std::map<std::string, std::string>& fields)  // NOLINT: implicit on purpose
      : fields_(fields.begin(), fields.end()) {}
  // Takes pairs in any order; of two with one key, the later wins.
  explicit NoteFields(std::vector<value_type> fields) : fields_(std::move(fields)) {
    bool repeated = false;  // a stable insertion sort: notes have a few fields
    for (std::size_t i = 1; i < fields_.size(); ++i) {
      std::size_t j = i;
      while (j > 0 && fields_[i].first < fields_[j - 1].first) --j;
      if (j > 0 && fields_[i].first == fields_[j - 1].first) repeated = true;
      if (j < i)
        std::rotate(fields_.begin() + static_cast<std::ptrdiff_t>(j),
                    fields_.begin() + static_cast<std::ptrdiff_t>(i),
                    fields_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    }
    if (!repeated) return;
    const auto last_of_each =
        std::unique(fields_.rbegin(), fields_.rend(),
                    [](const value_type& a, const value_type& b) { return a.first == b.first; });
    fields_.erase(fields_.begin(), last_of_each.base());
  }
  // The value of `k`, inserted empty when absent.
  std::string& operator[](std::string_view k) {
    const auto it =
        std::lower_bound(fields_.begin(), fields_.end(), k,
                         [](const value_type& a, std::string_view key) { return a.first < key; });
    if (it != fields_.end() && it->first == k) return it->second;
    return fields_.insert(it, value_type(std::string(k), std::string()))->second;
  }
  const std::string* find(std::string_view k) const {
    for (const auto& [key, value] : fields_) {
      if (key == k) return &value;
    }
    return nullptr;
  }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  std::size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  friend bool operator==(const NoteFields&, const NoteFields&) = default;

 private:
  std::vector<value_type> fields_;
};

// A fact a side states about its own state, which the wire cannot show
// (D84): the reference pair states them in the simulator, and a trace keeps
// them ({"ev":"note"} lines), so check-trace judges them too.
struct StateNote {
  std::int64_t t = 0;
  std::uint64_t conn = 0;  // 0: not tied to a connection
  protocol::Sender side = protocol::Sender::Server;
  std::string kind;   // e.g. "definition_stored"
  NoteFields fields;  // ordered by key: traces stay byte-identical
  const std::string* field(std::string_view k) const { return fields.find(k); }
  // Whether the note is of kind `k` (lengths first: judges ask every note).
  bool is(std::string_view k) const { return std::string_view(kind) == k; }
};

struct CheckerOptions {
  std::int64_t grace_ns = 10'000'000'000;         // liveness: answers owed after this long
  std::int64_t resync_deadline_ns = 200'000'000;  // RESYNC-2
  // At a tap (a Seen::Both record, or every record when `at_tap`: the live
  // commands and the proxy) a frame is seen when it passes, not when its
  // receiver reads it: a client frame that reaches the tap within this long
  // of a server frame may have been written before the client read it
  // (RESYNC-2; D81). Judged on the tap's clock, so keep it above the round trip.
  std::int64_t tap_tolerance_ns = 50'000'000;
  bool at_tap = false;
  std::int64_t control_delay_ns = 500'000'000;  // THROTTLE-5: longest answer delay
  // THROTTLE-4's 1000 ms window, less 1 % for server clock drift.
  std::int64_t throttle_window_ns = 990'000'000;
  // TOKEN-9 needs the server's clock: its Unix ms at t = 0, when known...
  std::optional<std::int64_t> server_unix_epoch_ms;
  // ... or, better, its reading at any t (the simulator knows its jumps).
  std::function<std::int64_t(std::int64_t t)> server_unix_ms;
  std::int64_t clock_tolerance_ms = 2'000;
  ServerProfile server_profile;
  ClientProfile client_profile;
  // FRAME-3/5/7/10, ENC-11: a side that hangs up this soon after reading a
  // frame or message it must ignore, having written nothing since, closed
  // because of it.
  std::int64_t hangup_window_ns = 200'000'000;
  // Whether every session of the server passes this checker. False where
  // other sessions pass elsewhere (each client of a live scenario has its
  // own proxy, D170): presence frames an unseen peer's update or close
  // explains are not flagged (PRES-2/5/6), only those to a non-peer (PRES-7).
  bool sees_every_session = true;
  // TOKEN-5/10: the Unix ms of the clock of the client on `conn` at t, where
  // known (the simulator: offset, drift and jumps); else trace time is used.
  std::function<std::optional<std::int64_t>(std::uint64_t conn, std::int64_t t)> client_unix_ms;
};

// The lines of the frames before a finding, rendered when first read: the
// JSON of five frames is most of a finding's cost, and most runs only count
// findings. Copies share the lines, so they are rendered once.
class ContextLines {
 public:
  using Render = std::function<std::vector<std::string>()>;
  ContextLines() = default;
  ContextLines(std::vector<std::string> lines)  // NOLINT: implicit on purpose
      : lazy_(std::make_shared<Lazy>(Lazy{{}, std::move(lines)})) {}
  static ContextLines deferred(Render render) {
    ContextLines c;
    c.lazy_ = std::make_shared<Lazy>(Lazy{std::move(render), {}});
    return c;
  }
  const std::vector<std::string>& lines() const {
    static const std::vector<std::string> kNone;
    if (!lazy_) return kNone;
    if (lazy_->render) {
      lazy_->lines = lazy_->render();
      lazy_->render = nullptr;  // drops what it held
    }
    return lazy_->lines;
  }
  auto begin() const { return lines().begin(); }
  auto end() const { return lines().end(); }
  std::size_t size() const { return lines().size(); }
  bool empty() const { return lines().empty(); }

 private:
  struct Lazy {
    Render render;  // set until rendered
    std::vector<std::string> lines;
  };
  std::shared_ptr<Lazy> lazy_;
};

// A finding placed in the trace: where, when, and the frames before it.
struct CheckFinding {
  protocol::Finding finding;
  std::int64_t t = 0;
  std::uint64_t conn = 0;
  std::string frame;     // the offending frame in the JSON model
  ContextLines context;  // up to 5 frames of the connection before it
  // Who broke the rule: the side the rule binds, or for rules binding both,
  // the sender of the frame judged (a tool that sends bad frames on purpose
  // ignores its own findings by this).
  protocol::Sender blamed = protocol::Sender::Server;
};

// Where a judged rule can be judged (`syncsim rules --coverage`).
enum class Scope : unsigned char {
  Trace,        // on any trace: simulated, serve, proxy, check, check-trace
  ServerClock,  // only where the server's clock is known (CheckerOptions)
  Profile,      // only where the side's configured limits are known (ServerProfile, ClientProfile)
  Simulator,    // only from a side's state notes (StateNote): the reference pair in the simulator
};

// A rule a judge may report.
struct RuleDecl {
  std::string_view id;
  Scope scope = Scope::Trace;
};

// A rule and the judge that declares it.
struct DeclaredRule {
  std::string_view judge;  // e.g. "delta": conformance/checker/judge_delta.cpp
  std::string_view rule;
  Scope scope = Scope::Trace;
};

class Judge;  // judge.hpp
struct JudgeDeps;

// Dispatches each frame, decoded once, to one judge per rule family
// (conformance/checker/judge_*.cpp, docs/checker.md).
class SessionChecker {
 public:
  explicit SessionChecker(CheckerOptions options = {});
  ~SessionChecker();
  SessionChecker(SessionChecker&&) noexcept;
  SessionChecker& operator=(SessionChecker&&) noexcept;

  void on_frame(const FrameRecord& r);
  void on_frame(FrameRecord&& r);  // the same; the frame's bytes may be kept without a copy
  void on_close(std::uint64_t conn, std::int64_t t);
  // An admin purge the harness made (PURGE-1): every authenticated session of
  // the tenant that pushed to or subscribed the collection is owed a
  // CollectionPurged. A CollectionPurged seen in the trace implies one too.
  void on_purge(std::uint32_t tenant, const std::string& collection, std::int64_t t);
  // A side's note on its own state (D84).
  void on_note(const StateNote& note);
  // A WebSocket message; a binary one's first whole frame is then judged
  // as on_frame would (FRAME-4..7, FRAME-12).
  void on_ws_message(const WsRecord& r);
  // `side` ended its end of the connection (a TCP FIN or RST, a WebSocket
  // Close), as a recorder that tells the two apart saw it; on_close follows.
  void on_hangup(std::uint64_t conn, protocol::Sender side, std::int64_t t);
  // Liveness rules (answers and notices still owed) are judged here, after
  // quiescence: anything owed for longer than the grace period is a finding.
  void finish(std::int64_t t);
  void finish(std::int64_t t, std::int64_t grace_ns);

  const std::vector<CheckFinding>& findings() const;
  std::size_t must_count() const;
  std::uint64_t frames() const;
  // Findings whose rule the judge reporting them does not declare: a bug of
  // the checker, which tests and the runner treat as a failure.
  const std::vector<std::string>& internal_errors() const;

  // Adds a judge after the built-in ones (conformance/checker/judge.hpp):
  // for a project's own rules, and for tests.
  void add_judge(const std::function<std::unique_ptr<Judge>(const JudgeDeps&)>& make);

  // At a live tap the tolerance follows the round trips measured so far
  // (conformance/live/round_trips.hpp); judges read it as they judge.
  void set_tap_tolerance_ns(std::int64_t ns);
  std::int64_t tap_tolerance_ns() const;

  // Every rule a judge declares, judge by judge, in dispatch order (the frame
  // rules of validate() come from the framing judge).
  static std::vector<DeclaredRule> declared_rules();
  // The session rules (declared by a judge other than the framing one).
  static const std::vector<std::string_view>& session_rules();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One line for a terminal: "DELTA-9 (MUST) t=1.250s conn 3: ...".
std::string format_check_finding(const CheckFinding& f);

}  // namespace syncsim::conformance
