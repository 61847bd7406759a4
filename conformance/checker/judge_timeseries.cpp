// Timeseries: every TimeseriesPush the server reads is answered once (TS-5).
#include <deque>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kTimeseriesRules[] = {{"TS-5"}};

class TimeseriesJudge final : public Judge {
 public:
  explicit TimeseriesJudge(const JudgeDeps& d) : Judge(d.sink, "timeseries") {}
  std::span<const RuleDecl> rules() const override { return kTimeseriesRules; }

  void server_read(const FrameEvent& e) override {
    if (std::holds_alternative<TimeseriesPush>(e.m)) owed_[e.r.conn].push_back(e.r.t);
  }
  void server_wrote(const FrameEvent& e) override {
    if (!std::holds_alternative<TimeseriesAck>(e.m)) return;
    auto& owed = owed_[e.r.conn];
    if (owed.empty()) {
      flag(e, "TS-5", Level::Must, "TimeseriesAck without a TimeseriesPush to answer");
    } else {
      owed.pop_front();
    }
  }
  void closed(std::uint64_t conn, std::int64_t) override { owed_[conn].clear(); }
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override {
    const auto it = owed_.find(conn);
    if (it != owed_.end() && !it->second.empty() && it->second.front() <= cutoff)
      report("TS-5", Level::Must, "a TimeseriesPush was never answered", t, conn, "");
  }

 private:
  std::map<std::uint64_t, std::deque<std::int64_t>> owed_;  // pushes read, unanswered
};

}  // namespace

std::unique_ptr<Judge> make_timeseries_judge(const JudgeDeps& d) {
  return std::make_unique<TimeseriesJudge>(d);
}

}  // namespace syncsim::conformance
