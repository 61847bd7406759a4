// Timeseries: a client's push says what its Gorilla blocks hold (TS-1) and
// keeps one push per collection unanswered, at its interval (TS-6); every
// TimeseriesPush the server reads is answered once (TS-5), with the counts
// its blocks decode to (TS-3), or nothing accepted on a session that is not
// authenticated (TS-2), and never refused for the fields the server does not
// read (TS-7).
#include <deque>
#include <set>

#include "conformance/checker/gorilla_reader.hpp"
#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kTimeseriesRules[] = {{"TS-5"}, {"TS-1"}, {"TS-2"},
                                         {"TS-3"}, {"TS-6"}, {"TS-7"}};

// A client's clock may drift by up to 10 % (the simulator's bound): a push
// interval is judged at 90 % of its configured length.
constexpr std::int64_t kIntervalSlackPct = 90;

// TS-1: what is wrong with a push's fields, given its decoded blocks ("" if nothing).
std::string push_problem(const TimeseriesPush& p, const GorillaBlock& ts,
                         const GorillaBlock& vals) {
  const std::uint64_t n = p.sample_count;
  if (ts.points.size() != n || vals.points.size() != n) {
    return "sample_count " + std::to_string(n) + ", but ts_block decodes to " +
           std::to_string(ts.points.size()) + " samples and val_block to " +
           std::to_string(vals.points.size());
  }
  if (!p.series_block.empty() && p.series_block.size() != 8 * n) {
    return "series_block has " + std::to_string(p.series_block.size()) +
           " bytes, neither 0 nor 8 per sample";
  }
  if (n == 0) return "";
  std::int64_t lo = ts.points[0].timestamp, hi = lo;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& pt = ts.points[i];
    if (pt.value_bits != 0) return "ts_block sample " + std::to_string(i) + " has a value not 0.0";
    lo = std::min(lo, pt.timestamp);
    hi = std::max(hi, pt.timestamp);
    if (p.series_block.empty()) continue;
    std::uint64_t series = 0;
    for (int b = 7; b >= 0; --b) series = series << 8 | p.series_block[8 * i + b];
    const auto wm = p.watermarks.find(series);
    if (wm != p.watermarks.end() && pt.timestamp <= static_cast<std::int64_t>(wm->second)) {
      return "sample " + std::to_string(i) + " of series " + std::to_string(series) +
             " is not newer than its watermark " + std::to_string(wm->second);
    }
  }
  if (p.min_ts != lo || p.max_ts != hi) {
    return "min_ts/max_ts are " + std::to_string(p.min_ts) + "/" + std::to_string(p.max_ts) +
           ", the samples span " + std::to_string(lo) + "/" + std::to_string(hi);
  }
  return "";
}

class TimeseriesJudge final : public Judge {
 public:
  explicit TimeseriesJudge(const JudgeDeps& d) : Judge(d.sink, "timeseries"), options_(d.options) {}
  std::span<const RuleDecl> rules() const override { return kTimeseriesRules; }

  void client_wrote(const FrameEvent& e) override;
  void server_read(const FrameEvent& e) override {
    const auto* p = std::get_if<TimeseriesPush>(&e.m);
    if (!p) return;
    const auto ts = read_gorilla(p->ts_block), vals = read_gorilla(p->val_block);
    Owed o{e.r.t, p->sample_count, std::min(ts.points.size(), vals.points.size()),
           e.view.authenticated};
    conns_[e.r.conn].owed.push_back(o);
  }
  void server_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override {
    if (const auto* a = std::get_if<TimeseriesAck>(&e.m))
      conns_[e.r.conn].unanswered.erase(a->collection);
  }
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override {
    const auto it = conns_.find(conn);
    if (it != conns_.end() && !it->second.owed.empty() && it->second.owed.front().read_at <= cutoff)
      report("TS-5", Level::Must, "a TimeseriesPush was never answered", t, conn, "");
  }

 private:
  struct Owed {  // a push the server read, unanswered
    std::int64_t read_at = 0;
    std::uint64_t sample_count = 0, decoded = 0;  // TS-3's k
    bool authenticated = false;
  };
  struct State {
    std::deque<Owed> owed;                          // TS-5
    std::set<std::string> unanswered;               // TS-6: collections pushed, ack unread
    std::map<std::string, std::int64_t> last_push;  // TS-6: per collection
  };
  void judge_ack(const FrameEvent& e, const Owed& o, const TimeseriesAck& a);
  // At a tap a push passes after a varying transit: the spacing gets the tolerance.
  std::int64_t tap_slack(const FrameRecord& r) const {
    return options_.at_tap || r.seen == Seen::Both ? options_.tap_tolerance_ns : 0;
  }

  const CheckerOptions& options_;
  std::map<std::uint64_t, State> conns_;
};

void TimeseriesJudge::client_wrote(const FrameEvent& e) {
  const auto* p = std::get_if<TimeseriesPush>(&e.m);
  if (!p) return;
  const auto problem = push_problem(*p, read_gorilla(p->ts_block), read_gorilla(p->val_block));
  if (!problem.empty()) flag(e, "TS-1", Level::Must, "TimeseriesPush: " + problem);
  State& s = conns_[e.r.conn];
  if (!s.unanswered.insert(p->collection).second) {
    flag(e, "TS-6", Level::Should,
         "a second TimeseriesPush of \"" + p->collection +
             "\" before the client read the answer to the first");
  }
  const auto last = s.last_push.find(p->collection);
  const auto interval = options_.client_profile.timeseries_interval_ns;
  if (interval && last != s.last_push.end() &&
      e.r.t - last->second < *interval * kIntervalSlackPct / 100 - tap_slack(e.r)) {
    flag(e, "TS-6", Level::Should,
         "TimeseriesPush of \"" + p->collection + "\" " + ms_text(e.r.t - last->second) +
             " after the previous one (the client's interval is " + ms_text(*interval) + ")");
  }
  s.last_push[p->collection] = e.r.t;
}

void TimeseriesJudge::server_wrote(const FrameEvent& e) {
  const auto* a = std::get_if<TimeseriesAck>(&e.m);
  if (!a) return;
  auto& owed = conns_[e.r.conn].owed;
  if (owed.empty()) {
    flag(e, "TS-5", Level::Must, "TimeseriesAck without a TimeseriesPush to answer");
    return;
  }
  judge_ack(e, owed.front(), *a);
  owed.pop_front();
}

// TS-2/3/7: the counts of an answer, against the push it answers.
void TimeseriesJudge::judge_ack(const FrameEvent& e, const Owed& o, const TimeseriesAck& a) {
  const bool nothing = a.accepted == 0 && a.rejected == o.sample_count && a.lsn == 0;
  const std::string got = "TimeseriesAck{accepted " + std::to_string(a.accepted) + ", rejected " +
                          std::to_string(a.rejected) + ", lsn " + std::to_string(a.lsn) + "}";
  if (!o.authenticated) {
    if (!nothing)
      flag(e, "TS-2", Level::Must,
           got +
               " for a push on a session that is not authenticated (expected accepted 0, "
               "rejected " +
               std::to_string(o.sample_count) + ", lsn 0)");
    return;
  }
  // A session whose token has an expiry may have expired (TS-2, reference): TOKEN-9's to judge.
  if (nothing && (o.decoded == 0 || e.view.exp != 0)) return;
  const std::uint64_t rejected = o.sample_count > o.decoded ? o.sample_count - o.decoded : 0;
  if (o.decoded > 0 && a.accepted == o.decoded && a.rejected == rejected) return;
  const std::string want = "accepted " + std::to_string(o.decoded) + ", rejected " +
                           std::to_string(o.decoded == 0 ? o.sample_count : rejected);
  if (a.accepted == 0 && o.decoded > 0) {  // refused whole: for fields it must not read (D101)
    flag(e, "TS-7", Level::Must,
         got + ", but the push's blocks decode to " + std::to_string(o.decoded) +
             " samples: a push is not refused for its series_block, min_ts, max_ts, "
             "watermarks or lite_id (expected " +
             want + ")");
  } else {
    flag(e, "TS-3", Level::Must,
         got + ", but the push's blocks decode to " + std::to_string(o.decoded) + " samples of " +
             std::to_string(o.sample_count) + " (expected " + want + ")");
  }
}

}  // namespace

std::unique_ptr<Judge> make_timeseries_judge(const JudgeDeps& d) {
  return std::make_unique<TimeseriesJudge>(d);
}

}  // namespace syncsim::conformance
