// The server's DeltaPush rate limit, judged against a model of its token
// bucket where the server's configured capacity and refill are known
// (ServerProfile). The server handles a session's frames in order, so a push
// read and never answered while a later push is answered was dropped
// silently: the only silent drop the protocol has is the rate limit's. A
// push whose answer shows it reached the bucket (an ack with a fresh lsn, or
// a reject after acceptance) took a token; duplicates and rejects before the
// bucket took none. The model keeps the least and the most the bucket can
// hold, given the server's clock drift.
//
// - RATE-1: a push dropped (silently or "rate limited") although the bucket
//   held a token for certain: the bucket counts wrong or is too small.
// - RATE-2: a push accepted although the bucket was certainly empty.
// - RATE-5: a Ping read once the session has been rate limited never got
//   its Pong: the limit reached other frame types.
#include <algorithm>
#include <deque>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kRateRules[] = {
    {"RATE-1", Scope::Profile}, {"RATE-2", Scope::Profile}, {"RATE-5"}};

constexpr std::int64_t kToken = 1000;  // the model counts thousandths of a token
constexpr std::size_t kMaxUnanswered = 1 << 12;

// What a push's answer says about the bucket.
enum class Outcome { TookToken, NoToken, Dropped };

Outcome outcome_of(const Message& answer) {
  if (const auto* a = std::get_if<DeltaAck>(&answer))
    return a->lsn != 0 ? Outcome::TookToken : Outcome::NoToken;  // lsn 0: a duplicate
  const auto& reason = std::get<DeltaReject>(answer).reason;
  if (reason == "rate limited") return Outcome::Dropped;
  const bool before_bucket = reason == "not authenticated" || reason == "token expired" ||
                             reason == "empty delta" || reason.starts_with("CRC32C mismatch") ||
                             reason == "identity not established" || reason == "collection purged";
  return before_bucket ? Outcome::NoToken : Outcome::TookToken;  // else a step-9 reject
}

class RateJudge final : public Judge {
 public:
  explicit RateJudge(const JudgeDeps& d) : Judge(d.sink, "rate"), options_(d.options) {}
  std::span<const RuleDecl> rules() const override { return kRateRules; }

  void server_read(const FrameEvent& e) override;
  void server_wrote(const FrameEvent& e) override;
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override;

 private:
  struct Read {
    std::uint64_t mutation_id = 0;
    std::int64_t t = 0;
  };
  struct State {
    std::deque<Read> unanswered;  // pushes read, in order
    bool started = false;
    std::int64_t lo = 0, hi = 0, at = 0;  // the bucket's least and most, at time `at`
    bool limited = false;                 // a push has been dropped on this session
    bool lost = false;                    // the model cannot tell which read was answered
    std::deque<std::pair<std::uint64_t, std::int64_t>> pings;  // read once limited: ts, read at
  };
  void resolve(const FrameEvent& e, State& s, const Read& r, Outcome o);
  void refill(State& s, std::int64_t t) const;

  const CheckerOptions& options_;
  std::map<std::uint64_t, State> conns_;
};

void RateJudge::server_read(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* p = std::get_if<DeltaPush>(&e.m)) {
    s.unanswered.push_back(Read{p->mutation_id, e.r.t});
    if (s.unanswered.size() > kMaxUnanswered) s.unanswered.pop_front();
  } else if (const auto* ping = std::get_if<PingPong>(&e.m); ping && !ping->is_pong && s.limited) {
    s.pings.emplace_back(ping->timestamp_ms, e.r.t);
    if (s.pings.size() > kMaxUnanswered) s.pings.pop_front();
  }
}

void RateJudge::server_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* pong = std::get_if<PingPong>(&e.m); pong && pong->is_pong) {
    std::erase_if(s.pings, [&](const auto& p) { return p.first == pong->timestamp_ms; });
    return;
  }
  std::uint64_t mid = 0;
  if (const auto* a = std::get_if<DeltaAck>(&e.m))
    mid = a->mutation_id;
  else if (const auto* r = std::get_if<DeltaReject>(&e.m))
    mid = r->mutation_id;
  else
    return;
  // The server answers a push before it reads the next frame: where reads are
  // recorded apart, the answer is to the latest read of that mutation (an
  // earlier read of it was dropped). At a tap the answer may be to any of
  // them: the model stops there.
  const auto match = [&](const Read& r) { return r.mutation_id == mid; };
  const auto first = std::find_if(s.unanswered.begin(), s.unanswered.end(), match);
  if (first == s.unanswered.end()) return;  // not a push this judge saw read
  const auto last = std::find_if(s.unanswered.rbegin(), s.unanswered.rend(), match).base() - 1;
  if (first != last && e.r.seen != Seen::Written) s.lost = true;
  const auto it = e.r.seen == Seen::Written ? last : first;
  // Frames are handled in order: the pushes read before this one and never
  // answered were dropped.
  const std::vector<Read> before(s.unanswered.begin(), it);
  const Read answered = *it;
  s.unanswered.erase(s.unanswered.begin(), it + 1);
  for (const Read& r : before) resolve(e, s, r, Outcome::Dropped);
  resolve(e, s, answered, outcome_of(e.m));
}

// The bucket refilled from s.at to t at the rate, as fast and as slow as the
// server's clock may run; never above the capacity.
void RateJudge::refill(State& s, std::int64_t t) const {
  const auto& p = options_.server_profile;
  const std::int64_t cap = *p.rate_capacity * kToken;
  const std::int64_t rate = std::max<std::int64_t>(*p.rate_per_s, 0);
  const std::int32_t ppm = p.clock_drift_ppm.value_or(static_cast<int>(kDefaultDriftPpm));
  // Past the time a full refill takes, the bucket is full whatever the drift.
  const std::int64_t full_ns = rate > 0 ? cap / rate * 1'000'000 * 2 + 1'000'000'000 : 0;
  const std::int64_t dt = std::min(std::max<std::int64_t>(0, t - s.at), full_ns);
  const std::int64_t add = rate > 0 && dt == full_ns ? cap : dt / 1000 * rate / 1000;  // us
  s.hi = std::min(cap, s.hi + add + add * ppm / 1'000'000);
  s.lo = std::min(cap, s.lo + add - add * ppm / 1'000'000);
  s.at = t;
}

void RateJudge::resolve(const FrameEvent& e, State& s, const Read& r, Outcome o) {
  if (o == Outcome::Dropped) s.limited = true;
  const auto& p = options_.server_profile;
  if (!p.rate_capacity || !p.rate_per_s || o == Outcome::NoToken || s.lost) return;
  if (!s.started) {  // full when the session started; nothing took a token since
    s.started = true;
    s.lo = s.hi = *p.rate_capacity * kToken;
    s.at = r.t;
  }
  refill(s, r.t);
  // Slack: the refill of the server's whole-millisecond clock readings, and
  // at a tap the time a frame may take to reach the server.
  const bool tap = options_.at_tap || e.r.seen == Seen::Both;
  const std::int64_t tol = kToken / 100 + 2 * *p.rate_per_s +
                           (tap ? options_.tap_tolerance_ns / 1'000'000 * *p.rate_per_s : 0);
  const std::string what = "mutation " + std::to_string(r.mutation_id);
  if (o == Outcome::TookToken) {
    if (s.hi < kToken - tol) {
      report("RATE-2", Level::Must,
             what + " accepted although the session's token bucket was empty (at most " +
                 std::to_string(s.hi / kToken) + " of " + std::to_string(*p.rate_capacity) +
                 " tokens; " + std::to_string(*p.rate_per_s) + "/s): it must be dropped",
             e.r.t, e.r.conn, json_of(e.m));
    }
    s.hi = std::max<std::int64_t>(0, s.hi - kToken);
    s.lo = std::clamp<std::int64_t>(s.lo - kToken, 0, s.hi);
    return;
  }
  if (s.lo >= kToken + tol) {
    report("RATE-1", Level::Must,
           what + " dropped although the session's token bucket held at least " +
               std::to_string(s.lo / kToken) + " tokens (capacity " +
               std::to_string(*p.rate_capacity) + ", " + std::to_string(*p.rate_per_s) + "/s)",
           e.r.t, e.r.conn, json_of(e.m));
    s.lo = 0;  // once per episode: the model follows the server from here
  }
  s.hi = std::min(s.hi, kToken);
  s.lo = std::min(s.lo, s.hi);
}

void RateJudge::finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  const auto& pings = it->second.pings;
  const auto old =
      std::count_if(pings.begin(), pings.end(), [&](const auto& p) { return p.second <= cutoff; });
  if (old > 0) {
    report("RATE-5", Level::Must,
           std::to_string(old) +
               " Ping(s) read after the session was rate limited never answered: the DeltaPush "
               "limit must not reach other frames",
           t, conn, "");
  }
}

}  // namespace

std::unique_ptr<Judge> make_rate_judge(const JudgeDeps& d) {
  return std::make_unique<RateJudge>(d);
}

}  // namespace syncsim::conformance
