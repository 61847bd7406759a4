// Answers: the server handles a session's frames one at a time in arrival
// order, so its answers leave in the order of the requests (FRAME-13); a
// Handshake claiming a wire version above 4 is refused with the fixed text,
// and versions 1-4 are never refused for their version (HS-4).
//
// FRAME-13 is judged only where order alone proves it: each answer gets the
// earliest and latest read time its request can have had (exact for a
// DeltaAck/DeltaReject and a Pong, whose requests earlier judges name in
// FrameFacts; first-in-first-out bounds for the other answers, whose
// requests may go unanswered), and an answer whose request was surely read
// before the request of an answer already written is a finding.
#include <algorithm>
#include <deque>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kAnswerRules[] = {{"FRAME-13"}, {"HS-4"}};
constexpr std::size_t kMaxPending = 4096;  // requests kept per kind and connection

std::string incompatible_text(std::uint32_t v) {
  return "incompatible wire version: version compatibility: remote wire version " +
         std::to_string(v) + " is newer than local 4; upgrade this node";
}

class AnswersJudge final : public Judge {
 public:
  explicit AnswersJudge(const JudgeDeps& d) : Judge(d.sink, "answers") {}
  std::span<const RuleDecl> rules() const override { return kAnswerRules; }

  void server_read(const FrameEvent& e) override {
    State& s = conns_[e.r.conn];
    if (const auto* h = std::get_if<Handshake>(&e.m)) {
      s.versions.push_back(h->wire_version == 0 ? 1u : h->wire_version);
      if (s.versions.size() > kMaxPending) s.versions.pop_front();
    }
    // RESYNC-8: a ResyncRequest is answered with snapshots too, so from then
    // on a snapshot's request is unknown.
    if (std::holds_alternative<ResyncRequest>(e.m)) s.resynced = true;
    const std::string key = request_key(e.m);
    if (key.empty()) return;
    auto& q = s.pending[key];
    q.push_back(e.r.t);
    if (q.size() > kMaxPending) q.pop_front();
  }
  void server_wrote(const FrameEvent& e) override {
    if (const auto* ack = std::get_if<HandshakeAck>(&e.m)) handshake_ack(e, *ack);
    order(e);
  }
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }

 private:
  struct State {
    std::map<std::string, std::deque<std::int64_t>> pending;  // request kind -> read times
    std::optional<std::int64_t> latest_lo;  // the latest sure read time of an answered request
    std::deque<std::uint32_t> versions;     // Handshakes read, unanswered (HS-4)
    bool resynced = false;                  // a ResyncRequest was read
  };

  // The kind of answer a request gets: "" when it gets none, or when its
  // answer is matched exactly from FrameFacts (DeltaPush, Ping).
  static std::string request_key(const Message& m) {
    if (std::holds_alternative<Handshake>(m)) return "hs";
    if (const auto* s = std::get_if<ShapeSubscribe>(&m)) return "shape:" + s->shape.shape_id;
    if (const auto* t = std::get_if<TimeseriesPush>(&m)) return "ts:" + t->collection;
    if (std::holds_alternative<TokenRefresh>(m)) return "token";
    if (std::holds_alternative<VectorClockSync>(m)) return "vclock";
    return "";
  }
  static std::string answer_key(const Message& m) {
    if (std::holds_alternative<HandshakeAck>(m)) return "hs";
    if (const auto* s = std::get_if<ShapeSnapshot>(&m)) return "shape:" + s->shape_id;
    if (const auto* t = std::get_if<TimeseriesAck>(&m)) return "ts:" + t->collection;
    if (std::holds_alternative<TokenRefreshAck>(m)) return "token";
    if (std::holds_alternative<VectorClockSync>(m)) return "vclock";
    return "";
  }

  void order(const FrameEvent& e);
  void handshake_ack(const FrameEvent& e, const HandshakeAck& ack);

  std::map<std::uint64_t, State> conns_;
};

// The bounds of the answered request's read time, then the comparison with
// the answers written before.
void AnswersJudge::order(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  std::optional<std::int64_t> lo, hi;
  if (e.facts.push) {
    lo = hi = e.facts.push->read_at;
  } else if (e.facts.ping_read_at) {
    lo = hi = *e.facts.ping_read_at;
  } else if (std::holds_alternative<ShapeSnapshot>(e.m) && s.resynced) {
    return;
  } else if (const std::string key = answer_key(e.m); !key.empty()) {
    auto it = s.pending.find(key);
    if (it == s.pending.end() || it->second.empty()) return;  // not an answer we can place
    lo = it->second.front();  // the oldest request still possibly unanswered
    hi = it->second.back();   // the newest read so far
    it->second.pop_front();
  } else {
    return;
  }
  if (s.latest_lo && *hi < *s.latest_lo) {
    flag(e, "FRAME-13", Level::Must,
         std::string(message_name(e.m)) + " answers a frame read " + ms_text(*s.latest_lo - *hi) +
             " before the frame an earlier answer of the session answered: answers left out of "
             "request order");
  }
  s.latest_lo = std::max(s.latest_lo.value_or(*lo), *lo);
}

void AnswersJudge::handshake_ack(const FrameEvent& e, const HandshakeAck& ack) {
  State& s = conns_[e.r.conn];
  if (s.versions.empty()) return;  // an ack with no Handshake read: HS-2's business
  const std::uint32_t v = s.versions.front();
  s.versions.pop_front();
  const bool refused = ack.error && ack.error->rfind("incompatible wire version", 0) == 0;
  if (v <= 4) {
    if (refused)
      flag(e, "HS-4", Level::Must,
           "a Handshake of wire version " + std::to_string(v) +
               " (1-4 are accepted) refused: " + *ack.error);
    return;
  }
  if (ack.success) {
    flag(e, "HS-4", Level::Must,
         "a Handshake of wire version " + std::to_string(v) + " (> 4) was accepted");
  } else if (!ack.error || *ack.error != incompatible_text(v)) {
    flag(e, "HS-4", Level::Must,
         "a Handshake of wire version " + std::to_string(v) + " refused with \"" +
             ack.error.value_or("") + "\", expected \"" + incompatible_text(v) + "\"");
  } else if (ack.fork_detected) {
    flag(e, "HS-4", Level::Must, "the incompatible-version HandshakeAck has fork_detected = true");
  }
}

}  // namespace

std::unique_ptr<Judge> make_answers_judge(const JudgeDeps& d) {
  return std::make_unique<AnswersJudge>(d);
}

}  // namespace syncsim::conformance
