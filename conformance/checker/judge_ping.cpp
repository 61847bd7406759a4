// Keepalive, the client's side: it pings at once after a successful
// handshake and then every interval (PING-1), answers the server's Pings
// (PING-5), and gives up a connection that has been silent too long (PING-6).
// A client that writes nothing may have crashed, so the timers are judged
// only where the client shows it is alive on the connection: a frame it
// wrote, or one it is recorded reading.
#include <deque>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kPingRules[] = {
    {"PING-1", Scope::Profile}, {"PING-5"}, {"PING-6", Scope::Profile}};

// "Immediately": the Ping may follow the frames the client writes at once.
constexpr std::int64_t kPingAtOnceNs = 1'000'000'000;
// Timers fire on whole milliseconds of a clock the trace does not share.
constexpr std::int64_t kPingSlackNs = 100'000'000;
constexpr std::size_t kMaxServerPings = 1024;

class PingJudge final : public Judge {
 public:
  explicit PingJudge(const JudgeDeps& d) : Judge(d.sink, "ping"), options_(d.options) {}
  std::span<const RuleDecl> rules() const override { return kPingRules; }

  // Every frame the client reads counts against silence, even one the checker
  // finds fault with (the client read it all the same).
  void decoded(const FrameRecord& r, const DecodedFrame&) override {
    if (r.from == Sender::Server && r.seen != Seen::Written) conns_[r.conn].last_read = r.t;
  }
  void client_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override;
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }

 private:
  struct State {
    std::optional<std::int64_t> authed_at;  // the client read a successful HandshakeAck
    std::optional<std::int64_t> last_ping;  // the client's last Ping on this connection
    std::int64_t last_read = 0;             // the last frame the client read
    std::deque<std::pair<std::uint64_t, std::int64_t>> server_pings;  // PING-5: ts, read at
    bool late_ping_reported = false, silence_reported = false, pong_reported = false;
  };
  std::int64_t slack(const FrameEvent& e) const {
    const bool tap = options_.at_tap || e.r.seen == Seen::Both;
    return kPingSlackNs + (tap ? options_.tap_tolerance_ns : 0);
  }
  std::int32_t drift() const {
    return options_.client_profile.clock_drift_ppm.value_or(static_cast<int>(kDefaultDriftPpm));
  }
  void alive(const FrameEvent& e, State& s);
  void pong_written(const FrameEvent& e, State& s, const PingPong& pong);

  const CheckerOptions& options_;
  std::map<std::uint64_t, State> conns_;
};

// The client is alive on the connection at e.r.t: its timers must have run.
void PingJudge::alive(const FrameEvent& e, State& s) {
  if (!s.authed_at) return;
  const std::int64_t t = e.r.t;
  // The first Ping is due at once whatever the interval: judged for any
  // client; the later ones need its interval (the profile, D180).
  if (const auto interval = options_.client_profile.ping_interval_ns;
      (interval || !s.last_ping) && !s.late_ping_reported) {
    const std::int64_t due =
        s.last_ping ? *s.last_ping + longest_ns(*interval, drift()) : *s.authed_at + kPingAtOnceNs;
    if (t > due + slack(e)) {
      flag(e, "PING-1", Level::Must,
           s.last_ping ? "no Ping for " + ms_text(t - *s.last_ping) + " (interval " +
                             ms_text(*interval) + ")"
                       : "no Ping in the " + ms_text(t - *s.authed_at) +
                             " since the successful HandshakeAck (expected at once)");
      s.late_ping_reported = true;
    }
  }
  if (const auto dead = options_.client_profile.dead_after_ns; dead && !s.silence_reported) {
    if (t - s.last_read > longest_ns(*dead, drift()) + slack(e)) {
      flag(e, "PING-6", Level::Should,
           "still on a connection that has been silent for " + ms_text(t - s.last_read) +
               " (dead after " + ms_text(*dead) + ")");
      s.silence_reported = true;
    }
  }
  // PING-5: a server Ping read long ago and still unanswered.
  if (!s.pong_reported && !s.server_pings.empty() &&
      t - s.server_pings.front().second > options_.grace_ns) {
    flag(e, "PING-5", Level::Should,
         "the server's Ping read " + ms_text(t - s.server_pings.front().second) +
             " ago is not answered with a Pong");
    s.pong_reported = true;
  }
}

void PingJudge::client_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  alive(e, s);
  const auto* p = std::get_if<PingPong>(&e.m);
  if (p && !p->is_pong && s.authed_at) s.last_ping = e.r.t;
  if (p && p->is_pong) pong_written(e, s, *p);
}

void PingJudge::pong_written(const FrameEvent& e, State& s, const PingPong& pong) {
  if (s.server_pings.empty()) return;  // an unsolicited Pong: harmless
  if (s.server_pings.front().first != pong.timestamp_ms) {
    flag(e, "PING-5", Level::Should,
         "Pong timestamp " + std::to_string(pong.timestamp_ms) + " does not echo the server's " +
             "Ping " + std::to_string(s.server_pings.front().first));
  }
  s.server_pings.pop_front();
}

void PingJudge::client_read(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  // A frame the client is recorded reading shows it alive; one seen at a tap does not.
  if (e.r.seen == Seen::Received) alive(e, s);
  if (const auto* ack = std::get_if<HandshakeAck>(&e.m); ack && ack->success && !s.authed_at) {
    s.authed_at = e.r.t;
  }
  if (const auto* p = std::get_if<PingPong>(&e.m); p && !p->is_pong) {
    s.server_pings.emplace_back(p->timestamp_ms, e.r.t);
    if (s.server_pings.size() > kMaxServerPings) s.server_pings.pop_front();
  }
}

}  // namespace

std::unique_ptr<Judge> make_ping_judge(const JudgeDeps& d) {
  return std::make_unique<PingJudge>(d);
}

}  // namespace syncsim::conformance
