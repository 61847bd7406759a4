// Vector clocks: the server's clock is sender 0 (VCLOCK-1) and never goes
// back on a connection (VCLOCK-2), in HandshakeAck and VectorClockSync alike.
#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kVclockRules[] = {{"VCLOCK-1"}, {"VCLOCK-2"}};

class VclockJudge final : public Judge {
 public:
  explicit VclockJudge(const JudgeDeps& d) : Judge(d.sink, "vclock") {}
  std::span<const RuleDecl> rules() const override { return kVclockRules; }

  void server_wrote(const FrameEvent& e) override {
    if (const auto* ack = std::get_if<HandshakeAck>(&e.m); ack && ack->success) {
      check(e, ack->server_clock);
    } else if (const auto* vc = std::get_if<VectorClockSync>(&e.m)) {
      if (vc->sender_id != 0)
        flag(e, "VCLOCK-1", Level::Must,
             "server VectorClockSync with sender_id " + std::to_string(vc->sender_id) + ", not 0");
      check(e, vc->clocks);
    }
  }

 private:
  void check(const FrameEvent& e, const std::map<std::string, std::uint64_t>& clock) {
    auto& sent = clocks_[e.r.conn];
    for (const auto& [key, value] : clock) {
      auto& last = sent[key];
      if (value < last) {
        flag(e, "VCLOCK-2", Level::Must,
             "server clock entry \"" + key + "\" went back from " + std::to_string(last) + " to " +
                 std::to_string(value));
      }
      last = std::max(last, value);
    }
  }

  // VCLOCK-2: per connection, the server clock sent so far
  std::map<std::uint64_t, std::map<std::string, std::uint64_t>> clocks_;
};

}  // namespace

std::unique_ptr<Judge> make_vclock_judge(const JudgeDeps& d) {
  return std::make_unique<VclockJudge>(d);
}

}  // namespace syncsim::conformance
