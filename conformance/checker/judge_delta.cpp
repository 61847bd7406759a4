// Deltas and flow: every push is answered once and in order, duplicates are
// not applied again, lsns grow per collection, checksums decide first, at
// most 64 pushes in flight. Tells the judges after it which push a
// DeltaAck or DeltaReject answered (FrameFacts::push).
#include <cstdio>
#include <deque>
#include <set>
#include <tuple>

#include "conformance/checker/judge.hpp"
#include "protocol/crc32c.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kDeltaRules[] = {{"DELTA-1"}, {"DELTA-4"},   {"DELTA-5"}, {"DELTA-6"},
                                    {"DELTA-7"}, {"DELTA-8"},   {"DELTA-9"}, {"DELTA-17"},
                                    {"FLOW-1"},  {"SESSION-5"}, {"DELTA-3"}};

// Remembered mutations per client and peer (DELTA-1); the oldest go first.
constexpr std::size_t kMutationMemory = 1 << 16;

// Reasons of §5.3.3 that decide before acceptance; any other reason is a
// constraint reject of an accepted push (step 9), which still counts for dedup.
bool is_pre_acceptance_reason(const std::string& reason) {
  return reason == "not authenticated" || reason == "token expired" || reason == "empty delta" ||
         reason.starts_with("CRC32C mismatch") || reason == "identity not established" ||
         reason == "collection purged" || reason == "rate limited";
}

class DeltaJudge final : public Judge {
 public:
  explicit DeltaJudge(const JudgeDeps& d) : Judge(d.sink, "delta") {}
  std::span<const RuleDecl> rules() const override { return kDeltaRules; }

  void client_wrote(const FrameEvent& e) override {
    const auto* p = std::get_if<DeltaPush>(&e.m);
    if (!p) return;
    mutation_written(e, *p);
    auto& in_flight = conns_[e.r.conn].in_flight;
    in_flight.insert(p->mutation_id);
    if (in_flight.size() > 64) {
      flag(e, "FLOW-1", Level::Must,
           std::to_string(in_flight.size()) +
               " mutations pushed and not yet answered on this connection (at most 64)");
      in_flight.clear();  // reported once per episode
    }
  }
  void server_read(const FrameEvent& e) override {
    if (const auto* p = std::get_if<DeltaPush>(&e.m)) {
      Push push{p->mutation_id, p->peer_id, p->collection, e.r.t};
      push.checksum = p->checksum;
      push.crc = crc32c(p->delta);
      // Step 2 (empty delta) decides before step 3 (DELTA-4 is not at stake).
      push.bad_crc = p->checksum != 0 && !p->delta.empty() && push.crc != p->checksum;
      push.empty = p->delta.empty();
      push.authed = e.view.authenticated;
      conns_[e.r.conn].outstanding.push_back(push);
    }
  }
  void server_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override {
    if (const auto* da = std::get_if<DeltaAck>(&e.m))
      conns_[e.r.conn].in_flight.erase(da->mutation_id);
    if (const auto* dr = std::get_if<DeltaReject>(&e.m))
      conns_[e.r.conn].in_flight.erase(dr->mutation_id);
  }
  void closed(std::uint64_t conn, std::int64_t) override { conns_[conn].outstanding.clear(); }
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override;

 private:
  struct Push {
    std::uint64_t mutation_id = 0, peer_id = 0;
    std::string collection;
    std::int64_t read_at = 0;
    std::uint32_t checksum = 0, crc = 0;  // as sent, and the CRC32C of its delta
    bool empty = false;
    bool bad_crc = false;    // a non-empty delta, a non-zero checksum that does not match (DELTA-4)
    bool duplicate = false;  // at or below an accepted id of its peer when answered
    bool authed = false;     // read on an authenticated session
    bool ambiguous = false;  // an answer to its id went to an earlier copy: maybe this one's
  };
  struct State {
    std::optional<std::uint64_t> peer_id;                 // DELTA-1: of the connection's pushes
    std::uint64_t max_pushed = 0;                         // DELTA-1: highest id pushed here
    std::set<std::uint64_t> answered;                     // DELTA-7: accepted and answered
    std::deque<Push> outstanding;                         // DELTA-7/9: read, unanswered
    std::set<std::uint64_t> skipped;                      // silently dropped, never to be answered
    std::map<std::uint64_t, std::uint64_t> accepted_max;  // peer -> max accepted id (DELTA-6)
    std::map<std::string, std::uint64_t> collection_lsn;  // DELTA-8
    std::set<std::uint64_t> in_flight;                    // FLOW-1: pushed, answer not yet read
  };
  // DELTA-1: what a client's mutation id stands for (its collection, document and delta).
  using Fingerprint = std::tuple<std::string, std::string, std::uint32_t, std::size_t>;
  void mutation_written(const FrameEvent& e, const DeltaPush& p);
  std::optional<Push> answer(const FrameEvent& e, State& s, std::uint64_t mid);
  void ack(const FrameEvent& e, State& s, const DeltaAck& ack);
  void reject(const FrameEvent& e, State& s, const DeltaReject& rej);
  void crc_reject(const FrameEvent& e, const Push& p, const std::string& reason);
  static void answered(State& s, const Push& p) {
    s.answered.insert(p.mutation_id);
    if (s.answered.size() > kMutationMemory) s.answered.erase(s.answered.begin());
  }
  // DELTA-3: a push steps 1-3 let through that step 4 finds a duplicate of.
  static bool step4_decides(const State& s, const Push& p) {
    const auto acc = s.accepted_max.find(p.peer_id);
    return p.authed && !p.empty && !p.bad_crc && acc != s.accepted_max.end() &&
           p.mutation_id <= acc->second;
  }
  static bool dropped_step4(const State& s, const Push& p) {
    return !p.ambiguous && step4_decides(s, p);
  }
  void dropped_duplicate(const FrameEvent& e, const State& s, const Push& p);
  static void accept(State& s, const Push& p) {
    auto& mx = s.accepted_max[p.peer_id];
    mx = std::max(mx, p.mutation_id);
  }
  static void tell(const FrameEvent& e, const Push& p, bool accepted, bool expired) {
    e.facts.push =
        FrameFacts::AnsweredPush{p.mutation_id, p.collection, p.read_at, accepted, expired};
  }

  std::map<std::uint64_t, State> conns_;
  // DELTA-1: (client key, peer_id) -> mutation id -> what it carried.
  std::map<std::pair<std::string, std::uint64_t>, std::map<std::uint64_t, Fingerprint>> mutations_;
};

// DELTA-1: a connection keeps one peer_id; a mutation id stands for one
// mutation (a retransmission carries the same delta); a mutation first sent
// on a connection has an id above every one pushed on it before.
void DeltaJudge::mutation_written(const FrameEvent& e, const DeltaPush& p) {
  State& s = conns_[e.r.conn];
  const std::string mid = "mutation " + std::to_string(p.mutation_id);
  if (s.peer_id && *s.peer_id != p.peer_id) {
    flag(e, "DELTA-1", Level::Must,
         "peer_id changed from " + std::to_string(*s.peer_id) + " to " + std::to_string(p.peer_id) +
             " on one connection (it is fixed for a client)");
  }
  s.peer_id = p.peer_id;
  auto& known = mutations_[{e.view.client_key, p.peer_id}];
  const Fingerprint fp{p.collection, p.document_id, crc32c(p.delta), p.delta.size()};
  const auto [it, fresh] = known.emplace(p.mutation_id, fp);
  if (!fresh && it->second != fp) {
    flag(e, "DELTA-1", Level::Must,
         mid + " of peer " + std::to_string(p.peer_id) + " reused for \"" + p.collection + "/" +
             p.document_id + "\" after it carried \"" + std::get<0>(it->second) + "/" +
             std::get<1>(it->second) + "\" or another delta");
  } else if (fresh && p.mutation_id < s.max_pushed) {
    flag(e, "DELTA-1", Level::Must,
         mid + " sent for the first time after mutation " + std::to_string(s.max_pushed) +
             " on this connection (first transmissions go out in increasing order)");
  }
  s.max_pushed = std::max(s.max_pushed, p.mutation_id);
  if (known.size() > kMutationMemory) known.erase(known.begin());
}

void DeltaJudge::server_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* a = std::get_if<DeltaAck>(&e.m)) return ack(e, s, *a);
  if (const auto* r = std::get_if<DeltaReject>(&e.m)) return reject(e, s, *r);
  if (const auto* push = std::get_if<DeltaPush>(&e.m)) {
    if (push->checksum != 0 && push->checksum != crc32c(push->delta)) {
      flag(e, "DELTA-17", Level::Must,
           "server DeltaPush checksum " + std::to_string(push->checksum) +
               " is neither 0 nor the CRC32C of its delta");
    }
  }
}

std::optional<DeltaJudge::Push> DeltaJudge::answer(const FrameEvent& e, State& s,
                                                   std::uint64_t mid) {
  auto it = std::find_if(s.outstanding.begin(), s.outstanding.end(),
                         [&](const Push& p) { return p.mutation_id == mid; });
  if (it == s.outstanding.end() && s.answered.count(mid)) {
    flag(e, "DELTA-7", Level::Must,
         "a second answer to mutation " + std::to_string(mid) +
             ", already answered (an accepted push is answered by exactly one frame)");
    return std::nullopt;
  }
  if (it == s.outstanding.end()) {
    flag(e, "DELTA-9", Level::Must,
         s.skipped.count(mid)
             ? "answer to mutation " + std::to_string(mid) + " after answers to later pushes"
             : "answer to mutation " + std::to_string(mid) + ", which has no unanswered push");
    return std::nullopt;
  }
  for (auto before = s.outstanding.begin(); before != it; ++before) {
    s.skipped.insert(before->mutation_id);
    dropped_duplicate(e, s, *before);
  }
  Push p = *it;
  s.outstanding.erase(s.outstanding.begin(), it + 1);
  // Copies of the push read later may be the one answered (the earlier one
  // dropped silently): DELTA-3 does not judge them as unanswered.
  for (auto& later : s.outstanding) later.ambiguous |= later.mutation_id == mid;
  const auto acc = s.accepted_max.find(p.peer_id);
  p.duplicate = acc != s.accepted_max.end() && p.mutation_id <= acc->second;
  return p;
}

void DeltaJudge::ack(const FrameEvent& e, State& s, const DeltaAck& ack) {
  const auto p = answer(e, s, ack.mutation_id);
  if (!p) return;
  if (!e.view.authenticated)
    flag(e, "SESSION-5", Level::Must, "DeltaAck on a session that is not authenticated");
  if (p->empty) {
    flag(e, "DELTA-5", Level::Must,
         "mutation " + std::to_string(p->mutation_id) +
             " has an empty delta but was acknowledged (expected DeltaReject \"empty delta\")");
  }
  if (p->bad_crc) {
    flag(e, "DELTA-4", Level::Must,
         "mutation " + std::to_string(p->mutation_id) +
             " acknowledged although its checksum does not match its delta (expected "
             "DeltaReject \"CRC32C mismatch ...\")");
  }
  if (p->duplicate && ack.lsn != 0) {
    flag(e, "DELTA-6", Level::Must,
         "duplicate of mutation " + std::to_string(p->mutation_id) + " acknowledged with lsn " +
             std::to_string(ack.lsn) + " (applied again; expected lsn 0)");
  }
  if (ack.lsn != 0) {
    auto& last = s.collection_lsn[p->collection];
    if (ack.lsn <= last) {
      flag(e, "DELTA-8", Level::Must,
           "lsn " + std::to_string(ack.lsn) + " for \"" + p->collection +
               "\" does not exceed the earlier " + std::to_string(last));
    }
    last = std::max(last, ack.lsn);
  }
  accept(s, *p);  // acknowledged: accepted now or before, the table holds its id (step 4 or 8)
  answered(s, *p);
  tell(e, *p, true, false);
}

void DeltaJudge::reject(const FrameEvent& e, State& s, const DeltaReject& rej) {
  const auto p = answer(e, s, rej.mutation_id);
  if (!p) return;
  if (!e.view.authenticated && rej.reason != "not authenticated") {
    flag(e, "SESSION-5", Level::Must,
         "DeltaPush before the handshake rejected with \"" + rej.reason +
             "\", not \"not authenticated\"");
  }
  if (p->empty && rej.reason != "empty delta" && rej.reason != "not authenticated" &&
      rej.reason != "token expired") {
    flag(e, "DELTA-5", Level::Must,
         "mutation " + std::to_string(p->mutation_id) + " has an empty delta but was rejected " +
             "with \"" + rej.reason + "\" (step 2 decides: \"empty delta\")");
  }
  const bool pre = is_pre_acceptance_reason(rej.reason);
  if (p->authed && rej.reason == "not authenticated") {
    flag(e, "DELTA-3", Level::Must,
         "mutation " + std::to_string(p->mutation_id) +
             " rejected \"not authenticated\" on an authenticated session (step 1)");
  } else if (step4_decides(s, *p) && rej.reason != "token expired") {
    flag(e, "DELTA-3", Level::Must,
         "mutation " + std::to_string(p->mutation_id) + ", a duplicate of an accepted one, " +
             "rejected with \"" + rej.reason + "\" (step 4 decides first: DeltaAck, lsn 0)");
  }
  if (rej.reason.starts_with("CRC32C mismatch")) {
    crc_reject(e, *p, rej.reason);
  } else if (p->bad_crc && rej.reason != "not authenticated" && rej.reason != "token expired") {
    flag(e, "DELTA-4", Level::Must,
         "mutation " + std::to_string(p->mutation_id) + " has a wrong checksum but was " +
             "rejected with \"" + rej.reason + "\" (step 3 decides first)");
  }
  if (!pre) {
    accept(s, *p);  // step 9 keeps the dedup update
    answered(s, *p);
  }
  tell(e, *p, !pre, rej.reason == "token expired");
}

// DELTA-4: a CRC reject names the push's checksum and the CRC32C of exactly
// its delta, and only for a checksum that does not match.
void DeltaJudge::crc_reject(const FrameEvent& e, const Push& p, const std::string& reason) {
  unsigned expected = 0, computed = 0;
  // A reason not in the exact form is DELTA-10's (framing judge): unread here.
  if (p.empty ||
      std::sscanf(reason.c_str(), "CRC32C mismatch: expected 0x%8x, computed 0x%8x", &expected,
                  &computed) != 2 ||
      reason != crc_mismatch_reason(expected, computed))
    return;
  const std::string mid = "mutation " + std::to_string(p.mutation_id);
  if (!p.bad_crc) {
    flag(e, "DELTA-4", Level::Must,
         mid + " rejected as a CRC32C mismatch, but its checksum " + std::to_string(p.checksum) +
             (p.checksum == 0 ? " is 0 (not checked)" : " matches its delta"));
  } else if (expected != p.checksum || computed != p.crc) {
    flag(e, "DELTA-4", Level::Must,
         mid + " rejected with \"" + reason + "\"; expected \"" +
             crc_mismatch_reason(p.checksum, p.crc) + "\" (its checksum, the CRC32C of its delta)");
  }
}

// DELTA-3: step 4 answers a duplicate; only steps 6-7 drop a push silently.
void DeltaJudge::dropped_duplicate(const FrameEvent& e, const State& s, const Push& p) {
  if (!dropped_step4(s, p)) return;
  flag(e, "DELTA-3", Level::Must,
       "mutation " + std::to_string(p.mutation_id) +
           ", a duplicate of an accepted one, was never answered (step 4 acknowledges it with "
           "lsn 0 before the rate limit or a write policy can drop it)");
}

void DeltaJudge::finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  for (const Push& p : it->second.outstanding) {
    if (p.read_at > cutoff || !dropped_step4(it->second, p)) continue;
    report("DELTA-3", Level::Must,
           "mutation " + std::to_string(p.mutation_id) +
               ", a duplicate of an accepted one, was never answered (step 4 acknowledges it)",
           t, conn, "");
    return;
  }
}

}  // namespace

std::unique_ptr<Judge> make_delta_judge(const JudgeDeps& d) {
  return std::make_unique<DeltaJudge>(d);
}

}  // namespace syncsim::conformance
