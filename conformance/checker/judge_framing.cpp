// Framing and encoding: everything one frame shows alone (decode_frame and
// validate(): ENC-*, FRAME-*, value rules), judged on the writer.
#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

class FramingJudge final : public Judge {
 public:
  explicit FramingJudge(const JudgeDeps& d) : Judge(d.sink, "framing") {
    for (const auto id : frame_rules()) rules_.push_back(RuleDecl{id, Scope::Trace});
  }
  std::span<const RuleDecl> rules() const override { return rules_; }

  void decoded(const FrameRecord& r, const DecodedFrame& d) override {
    if (r.seen == Seen::Received) return;  // judged once, as written
    Findings found = d.findings;
    if (d.message) validate(*d.message, r.from, found, 0);
    if (r.from == Sender::Server && d.message && std::holds_alternative<DeltaPush>(*d.message)) {
      // validate() judges a DeltaPush by the client's rules (DELTA-1/2); the
      // server's own (§5.3.6: mutation_id 0, empty delta, checksum 0 allowed)
      // are DELTA-17, judged by the delta judge (D74).
      std::erase_if(found,
                    [](const Finding& f) { return f.rule == "DELTA-1" || f.rule == "DELTA-2"; });
    }
    if (found.empty()) return;
    const std::string json = d.message ? json_of(*d.message) : undecodable(r.frame);
    const char* side = r.from == Sender::Client ? "client frame: " : "server frame: ";
    for (auto& f : found) report(f.rule, f.level, side + f.message, r.t, r.conn, json);
  }

 private:
  static std::string undecodable(const Bytes& frame) {
    return "{\"msg_type\":" + std::to_string(frame.empty() ? 0 : frame[0]) +
           ",\"undecodable\":true}";
  }
  std::vector<RuleDecl> rules_;
};

}  // namespace

std::unique_ptr<Judge> make_framing_judge(const JudgeDeps& d) {
  return std::make_unique<FramingJudge>(d);
}

}  // namespace syncsim::conformance
