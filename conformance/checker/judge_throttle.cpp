// Throttle: the client toggles it (THROTTLE-2); while it holds, the server
// paces data frames to the rate (THROTTLE-4) and still answers controls at
// once (THROTTLE-5: acks and pongs from the answers the connection and delta
// judges match; snapshots and TokenRefreshAcks from the requests read here).
#include <deque>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kThrottleRules[] = {{"THROTTLE-2"}, {"THROTTLE-4"}, {"THROTTLE-5"}};

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
  void closed(std::uint64_t conn, std::int64_t) override { conns_[conn].throttled = false; }

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
  };
  void answered(const FrameEvent& e, std::deque<std::int64_t>& reads, std::string what);
  void pace(const FrameEvent& e, State& s);

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
  if (!s.throttled) return;
  if (is_data_frame(e.m) && e.r.t > s.throttled_at) pace(e, s);
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

void ThrottleJudge::pace(const FrameEvent& e, State& s) {
  s.data_at.push_back(e.r.t);
  while (!s.data_at.empty() && s.data_at.front() <= e.r.t - options_.throttle_window_ns)
    s.data_at.pop_front();
  if (s.data_at.size() > s.rate && !s.reported) {
    flag(e, "THROTTLE-4", Level::Should,
         std::to_string(s.data_at.size()) + " data frames within 1000 ms while the client " +
             "throttled the session to " + std::to_string(s.rate) + " per second");
    s.reported = true;
  }
}

}  // namespace

std::unique_ptr<Judge> make_throttle_judge(const JudgeDeps& d) {
  return std::make_unique<ThrottleJudge>(d);
}

}  // namespace syncsim::conformance
