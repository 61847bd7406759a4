// The declarative form of `check --client`'s scripted cases (internal to
// client_check.cpp and the client_cases_*.cpp files, one per group of
// families), the mirror of server_case.hpp. syncsim plays the server: a
// Script answers whatever the client sends as a plain server would
// (handshake, pongs, acks, snapshots) under the case's Policy, and the case's
// steps run on top of it: need something of the client (a handshake, a
// subscription, a push), send frames, expect a client frame, stay quiet for a
// window, or wait and judge what arrived. Every wait is a budget times the
// time scale; a case stops at its first step that sets a verdict.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "conformance/checker/session_checker.hpp"
#include "conformance/live/client_check.hpp"
#include "conformance/live/live_case.hpp"
#include "conformance/live/round_trips.hpp"
#include "protocol/messages.hpp"

namespace syncsim::conformance::client_case {

using Clock = std::chrono::steady_clock;
using protocol::Bytes;
using protocol::Message;

constexpr std::uint64_t kSnapshotLsn = 100;  // of every ShapeSnapshot the script sends

// How the script answers the client, set per case before it connects.
struct Policy {
  bool refuse_handshake = false;  // HandshakeAck{success: false} (HS-13)
  bool reject_pushes = false;     // DeltaReject with a PermissionDenied hint
  bool drop_pushes = false;       // no answer at all (as a rate-limited push, RATE-2)
  // The first push is rejected "rate limited" with RateLimited{this}; 0: no.
  std::uint64_t rate_limit_first_ms = 0;
  bool answer_subscribe = true;
  // The HandshakeAck is held this long (ms times the time scale) before it
  // is sent; 0: at once (HS-1, D145).
  std::int64_t hold_ack_ms = 0;
};

// The scripted server's side of one case: plain answers to whatever the
// client sends, the case's own frames, and waits with deadlines. Steps read
// what it learnt from the client.
class Script {
 public:
  Script(boost::asio::io_context& ioc, const ClientCheckOptions& o, CaseResult& r, Policy p);

  // Wired by the connection.
  std::function<void(Bytes)> write;
  bool ws = false;  // the client's messages are judged whole (on_ws), their frames from them
  void on_ws(WsKind kind, std::span<const std::uint8_t> bytes);
  void on_frame(const Bytes& frame);
  void on_close(const std::string& why);

  // What the script learnt from the client.
  Policy policy;
  std::uint32_t tenant = 0;  // of CollectionPurged
  std::vector<Message> got;  // every decodable client frame, in order
  std::optional<protocol::ShapeDefinition> subscribed;
  std::vector<protocol::DeltaPush> pushes;
  std::optional<Clock::time_point> rate_limited_at;  // when the first push was rejected
  bool authenticated = false, closed = false, sent_token = false;
  std::int64_t token_exp = 0;  // of the last Handshake's token (TOKEN-10)
  std::string close_reason;
  // Collections the script purged, each with the newest mutation id of it
  // the client had pushed by then (PURGE-7).
  std::vector<std::pair<std::string, std::uint64_t>> purged;
  // How many client frames had come when a held HandshakeAck was sent.
  std::optional<std::size_t> frames_before_ack;

  void send(const Message& m);
  void send_raw_batch(const std::vector<Bytes>& frames, const std::string& what);

  // Waits until `done` or the scaled budget runs out.
  bool wait(const std::function<bool()>& done, std::int64_t budget_ms);
  // The first client frame matching `ok` from the cursor on (other frames
  // may come first); false with the verdict set when none comes.
  bool expect(const std::string& want, std::int64_t budget_ms,
              const std::function<bool(const Message&)>& ok);
  // No client frame matching `bad` for the window, the connection kept open
  // (unless `close_ok`).
  bool quiet(const std::string& what, std::int64_t window_ms,
             const std::function<bool(const Message&)>& bad, bool close_ok);
  bool fail(Verdict v, std::string detail);
  bool failed() const { return result_.verdict != Verdict::Pass; }

  protocol::ShapeDelta delta(std::uint64_t lsn, const std::string& doc) const;
  std::string subscribed_collection() const;
  std::string scaled_text(std::int64_t budget_ms) const;
  std::int64_t tap_tolerance_ns() const { return checker_.tap_tolerance_ns(); }
  std::int64_t max_round_trip_ns() const { return round_trips_.max_ns().value_or(0); }
  // Real milliseconds as a budget that wait() scales back to them.
  std::int64_t unscaled(std::int64_t real_ms) const;
  void finish();

 private:
  void note(std::string line);
  void judge(const Bytes& frame, protocol::Sender from);
  void send_raw_frame(const Bytes& frame);
  void answer(const Message& m);
  void answer_push(const protocol::DeltaPush& push);
  void release_held_ack();
  std::int64_t now_ns() const;

  boost::asio::io_context& ioc_;
  const ClientCheckOptions& options_;
  CaseResult& result_;
  SessionChecker checker_;
  RoundTrips round_trips_;
  Clock::time_point started_ = Clock::now();
  std::size_t cursor_ = 0;
  std::uint64_t lsn_ = 1000;  // lsns of acked pushes
  int sessions_ = 0;
  std::optional<std::pair<Clock::time_point, protocol::HandshakeAck>> held_ack_;
};

// What a judge or a wait concludes: PASS goes on, anything else ends the case.
struct Outcome {
  Verdict verdict = Verdict::Pass;
  std::string detail;
};
inline Outcome ok() { return {}; }

// What a Send step sends: messages (each a line in the case's frames), then
// raw frames (one line, `raw_what`, for all of them).
struct Outgoing {
  std::vector<Message> messages;
  std::vector<Bytes> raw;
  std::string raw_what;
};

using View = Script;  // steps read the script; only the executor changes it

struct Step {
  enum class Kind { Need, Pause, Send, Expect, Quiet, Await } kind = Kind::Pause;
  enum class Needs { Handshake, Subscription, Push } needs = Needs::Handshake;
  std::int64_t ms = 0;  // budget or window, in ms times the time scale
  // Expect/Quiet: the budget computed when the step starts (overrides `ms`);
  // a Quiet window of 0 or less is skipped.
  std::function<std::int64_t(const View&)> ms_of;
  std::function<Outgoing(const View&)> make;  // Send
  // Expect: what is awaited; Quiet: what must not come.
  std::function<std::string(const View&)> what;
  std::function<bool(const View&, const Message&)> matches;
  bool close_ok = false;  // Quiet: the client may close meanwhile
  // Await: waits until `ready` (or `ms`); if it never holds, `timeout`
  // (unset: nothing), else (or then) `judge` (unset: PASS). `from` is how
  // many client frames had come when the step started.
  std::function<bool(const View&)> ready;
  std::optional<Outcome> timeout;
  std::function<Outcome(const View&, std::size_t from)> judge;
};

struct Case {
  CaseInfo info;
  Policy policy;
  std::vector<Step> steps;
  std::int64_t token_lifetime_ms = 3'600'000;  // of SYNCSIM_TOKEN, times the time scale
};

// Runs the case's steps on `script` until one sets a verdict.
void run_steps(Script& script, const Case& c);

// ---- building steps --------------------------------------------------------

// A handshake, a subscription or a push from the client within `ms`; without
// a subscription or a push the case cannot run against this client
// (UNSUPPORTED), without a handshake it fails.
Step need(Step::Needs what, std::int64_t ms);
Step pause(std::int64_t ms);
Step send(Message m);
Step send_made(std::function<Outgoing(const View&)> make);
Step expect_frame(std::string want, std::int64_t ms,
                  std::function<bool(const View&, const Message&)> matches);
Step quiet(std::string what, std::int64_t ms, std::function<bool(const Message&)> bad,
           bool close_ok = false);
Step quiet_made(std::function<std::string(const View&)> what,
                std::function<std::int64_t(const View&)> ms_of,
                std::function<bool(const View&, const Message&)> bad);
Step await(std::function<bool(const View&)> ready, std::int64_t ms, std::optional<Outcome> timeout,
           std::function<Outcome(const View&, std::size_t from)> judge = {});
Step judge(std::function<Outcome(const View&)> verdict);
Step with_budget(std::function<std::int64_t(const View&)> ms_of, Step s);

template <class T>
Step expect(std::string want, std::int64_t ms, std::function<bool(const T&)> ok = {}) {
  return expect_frame(std::move(want), ms, [ok](const View&, const Message& m) {
    const auto* t = std::get_if<T>(&m);
    return t && (!ok || ok(*t));
  });
}

Step handshaken();  // need(Handshake, 5000)
Step subscribed();  // need(Subscription, 3000)
Step pushed();      // need(Push, 3000)
// Pong{timestamp_ms: ts} expected within `ms` (`after`: said after the want).
Step pong(std::uint64_t ts, std::int64_t ms = 1000, const std::string& after = "");

// The cases of each group of families, in the order `check --client` runs them.
std::vector<Case> session_cases();  // handshake, ping, shapes, framing
std::vector<Case> flow_cases();     // resync, throttle
std::vector<Case> write_cases();    // deltas, purge
std::vector<Case> token_cases();    // tokens

}  // namespace syncsim::conformance::client_case
