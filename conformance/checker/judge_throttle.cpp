// Throttle: the client toggles it (THROTTLE-2); while it holds, the server
// paces data frames to the rate (THROTTLE-4) and still answers controls at
// once (THROTTLE-5: acks and pongs from the answers the connection and delta
// judges match; snapshots and TokenRefreshAcks from the requests read here).
#include <algorithm>
#include <deque>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kThrottleRules[] = {{"THROTTLE-2"},
                                       {"THROTTLE-3", Scope::Simulator},
                                       {"THROTTLE-4"},
                                       {"THROTTLE-5"},
                                       {"THROTTLE-6", Scope::Simulator}};

bool is_data_frame(const Message& m) {  // THROTTLE-4: what throttling paces
  return std::holds_alternative<ShapeDelta>(m) || std::holds_alternative<DeltaPush>(m);
}

class ThrottleJudge final : public Judge {
 public:
  explicit ThrottleJudge(const JudgeDeps& d) : Judge(d.sink, "throttle"), options_(d.options) {}
  std::span<const RuleDecl> rules() const override { return kThrottleRules; }

  void client_wrote(const FrameEvent& e) override {
    const auto* th = std::get_if<Throttle>(&e.m);
    if (!th) return;
    built(e, *th);
    auto& last = conns_[e.r.conn].last_throttle;
    if (last.value_or(false) == th->throttle) {
      flag(e, "THROTTLE-2", Level::Should,
           std::string("Throttle{throttle: ") + (th->throttle ? "true" : "false") +
               "} while the connection is already " + (th->throttle ? "throttled" : "unthrottled"));
    }
    last = th->throttle;
  }
  void server_read(const FrameEvent& e) override;
  void server_wrote(const FrameEvent& e) override;
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }
  void noted(const StateNote& n) override;
  void deadlines(std::uint64_t conn, std::int64_t now) override;

 private:
  struct State {
    std::optional<bool> last_throttle;  // THROTTLE-2: the client's last Throttle
    bool throttled = false;             // the server read throttle: true
    std::uint64_t rate = 0;
    std::int64_t throttled_at = 0;
    bool reported = false;
    std::deque<std::int64_t> data_at;  // data frames written while throttled
    // THROTTLE-5: requests read on an authenticated session, unanswered.
    std::map<std::string, std::deque<std::int64_t>> subscribes;  // shape_id -> read at
    std::deque<std::int64_t> refreshes;                          // TokenRefresh read at
    // THROTTLE-3: the client's backlog and apply rate when it built a Throttle.
    std::optional<std::pair<std::uint64_t, std::uint64_t>> backlog;
    // THROTTLE-4: frames queued at the release, owed at once since then.
    std::uint64_t release_owed = 0;
    std::int64_t released_at = 0;
  };
  void built(const FrameEvent& e, const Throttle& th);
  void dropped(const StateNote& n, State& s);
  void answered(const FrameEvent& e, std::deque<std::int64_t>& reads, std::string what);
  void pace(const FrameEvent& e, State& s, std::int64_t slack);

  const CheckerOptions& options_;
  std::map<std::uint64_t, State> conns_;
};

void ThrottleJudge::server_read(const FrameEvent& e) {
  if (!e.view.authenticated) return;  // SESSION-6: nothing is owed before
  State& s = conns_[e.r.conn];
  if (const auto* sub = std::get_if<ShapeSubscribe>(&e.m))
    s.subscribes[sub->shape.shape_id].push_back(e.r.t);
  if (std::holds_alternative<TokenRefresh>(e.m)) s.refreshes.push_back(e.r.t);
  const auto* th = std::get_if<Throttle>(&e.m);
  if (!th) return;
  if (!th->throttle) {
    s.throttled = false;
    return;
  }
  if (!s.throttled) {
    s.throttled_at = e.r.t;
    s.data_at.clear();
    s.reported = false;
  }
  s.throttled = true;
  s.rate = th->suggested_rate != 0 ? th->suggested_rate : 100;  // THROTTLE-4 default
}

void ThrottleJudge::server_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* snap = std::get_if<ShapeSnapshot>(&e.m)) {
    if (auto it = s.subscribes.find(snap->shape_id); it != s.subscribes.end())
      answered(e, it->second, "ShapeSnapshot for \"" + snap->shape_id + "\"");
  } else if (std::holds_alternative<TokenRefreshAck>(e.m)) {
    answered(e, s.refreshes, "TokenRefreshAck");
  }
  if (is_data_frame(e.m) && s.release_owed > 0) --s.release_owed;
  if (!s.throttled) return;
  // At a tap a data frame passing just after the Throttle may have been
  // written before the server read it, and frames of two windows of the
  // server's clock may pass closer than they were written (D81, D160).
  const std::int64_t slack =
      options_.at_tap || e.r.seen == Seen::Both ? options_.tap_tolerance_ns : 0;
  if (is_data_frame(e.m) && e.r.t > s.throttled_at + slack) pace(e, s, slack);
  const std::int64_t limit = options_.control_delay_ns;
  if (e.facts.push && e.r.t - e.facts.push->read_at > limit) {
    flag(e, "THROTTLE-5", Level::Must,
         "the answer to mutation " + std::to_string(e.facts.push->mutation_id) + " left " +
             ms_text(e.r.t - e.facts.push->read_at) + " after the push was read, while throttled");
  }
  if (e.facts.ping_read_at && e.r.t - *e.facts.ping_read_at > limit) {
    flag(e, "THROTTLE-5", Level::Must,
         "Pong left " + ms_text(e.r.t - *e.facts.ping_read_at) +
             " after the Ping was read, while throttled (control frames are never delayed)");
  }
}

// The answer to the oldest request in `reads`: not delayed by throttling.
void ThrottleJudge::answered(const FrameEvent& e, std::deque<std::int64_t>& reads,
                             std::string what) {
  if (reads.empty()) return;
  const std::int64_t read_at = reads.front();
  reads.pop_front();
  if (conns_[e.r.conn].throttled && e.r.t - read_at > options_.control_delay_ns) {
    flag(e, "THROTTLE-5", Level::Must,
         std::move(what) + " left " + ms_text(e.r.t - read_at) +
             " after its request was read, while throttled (only data frames are paced)");
  }
}

void ThrottleJudge::pace(const FrameEvent& e, State& s, std::int64_t slack) {
  s.data_at.push_back(e.r.t);
  const std::int64_t window =
      std::max<std::int64_t>(options_.throttle_window_ns - slack, options_.throttle_window_ns / 2);
  while (!s.data_at.empty() && s.data_at.front() <= e.r.t - window) s.data_at.pop_front();
  if (s.data_at.size() > s.rate && !s.reported) {
    flag(e, "THROTTLE-4", Level::Should,
         std::to_string(s.data_at.size()) + " data frames within " + ms_text(window) +
             " while the client " + "throttled the session to " + std::to_string(s.rate) +
             " per second");
    s.reported = true;
  }
}

// THROTTLE-3: queue_depth is the backlog the frame was built from, and
// suggested_rate what the client absorbs (its apply rate; 0 applies at once).
void ThrottleJudge::built(const FrameEvent& e, const Throttle& th) {
  State& s = conns_[e.r.conn];
  if (!s.backlog) return;  // no note: a client that states nothing
  const auto [backlog, rate] = *s.backlog;
  s.backlog.reset();
  if (th.queue_depth != backlog) {
    flag(e, "THROTTLE-3", Level::Must,
         "queue_depth " + std::to_string(th.queue_depth) + " while the client's backlog was " +
             std::to_string(backlog));
  } else if (th.suggested_rate != 0 && rate != 0 && th.suggested_rate > rate) {
    flag(e, "THROTTLE-3", Level::Must,
         "suggested_rate " + std::to_string(th.suggested_rate) +
             " data frames/s while the client applies " + std::to_string(rate) + " per second");
  }
}

void ThrottleJudge::noted(const StateNote& n) {
  const auto num = [&](const char* k) -> std::optional<std::uint64_t> {
    const auto* v = n.field(k);
    return v ? plain_u64(*v) : std::nullopt;
  };
  if (n.conn == 0) return;
  State& s = conns_[n.conn];
  if (n.is("throttle_backlog") && n.side == Sender::Client) {
    if (const auto b = num("backlog"), r = num("apply_rate"); b && r) s.backlog = {*b, *r};
  } else if (n.is("throttle_released") && n.side == Sender::Server) {
    if (const auto q = num("queued")) {
      s.release_owed = *q;
      s.released_at = n.t;
    }
  } else if (n.is("data_dropped") && n.side == Sender::Server) {
    dropped(n, s);
  }
}

// THROTTLE-4 keeps the excess queued; THROTTLE-6 drops only from a full queue.
void ThrottleJudge::dropped(const StateNote& n, State& s) {
  const auto limit = options_.server_profile.data_queue_limit;
  const auto* q = n.field("queued");
  const auto value = q ? plain_u64(*q) : std::nullopt;
  if (!limit || !value) return;
  const std::uint64_t queued = *value;
  if (queued > *limit) {
    report("THROTTLE-6", Level::Must,
           "the data queue holds " + *q + " frames, over its limit of " + std::to_string(*limit),
           n.t, n.conn, "");
  } else if (queued < *limit) {
    report(s.throttled ? "THROTTLE-4" : "THROTTLE-6", s.throttled ? Level::Should : Level::Must,
           "data frames dropped while the queue held " + *q + " of " + std::to_string(*limit) +
               (s.throttled ? " (throttling keeps the excess queued)" : ""),
           n.t, n.conn, "");
  }
}

// THROTTLE-4: Throttle{false} removes the limit at once, so every frame
// queued at the release goes out without pacing.
void ThrottleJudge::deadlines(std::uint64_t conn, std::int64_t now) {
  const auto it = conns_.find(conn);
  if (it == conns_.end() || it->second.release_owed == 0) return;
  State& s = it->second;
  if (now - s.released_at <= options_.control_delay_ns) return;
  report("THROTTLE-4", Level::Should,
         std::to_string(s.release_owed) + " data frames queued at the release were still held " +
             ms_text(now - s.released_at) + " after Throttle{false} was read",
         now, conn, "");
  s.release_owed = 0;
}

}  // namespace

std::unique_ptr<Judge> make_throttle_judge(const JudgeDeps& d) {
  return std::make_unique<ThrottleJudge>(d);
}

}  // namespace syncsim::conformance
