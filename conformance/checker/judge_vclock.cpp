// Vector clocks: the server's clock is sender 0 (VCLOCK-1) and never goes
// back on a connection (VCLOCK-2), in HandshakeAck and VectorClockSync alike;
// a HandshakeAck holds only what the connection's own VectorClockSyncs gave
// it (VCLOCK-6). Keys are collections and values LSNs (VCLOCK-3): a client
// names no LSN above any the server announced for the collection, and the
// reference client keeps the server's positions merged by max (its notes).
#include <cstdlib>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

// VCLOCK-3 is judged on any trace (a client's VectorClockSync) and, for the
// reference client, from its notes too.
constexpr RuleDecl kVclockRules[] = {{"VCLOCK-1"}, {"VCLOCK-2"}, {"VCLOCK-6"}, {"VCLOCK-3"}};

// Collections whose highest announced LSN is remembered (VCLOCK-3); past
// this many, new ones are not judged.
constexpr std::size_t kMaxCollections = 1 << 16;

using Clock = std::map<std::string, std::uint64_t>;

class VclockJudge final : public Judge {
 public:
  explicit VclockJudge(const JudgeDeps& d) : Judge(d.sink, "vclock") {}
  std::span<const RuleDecl> rules() const override { return kVclockRules; }

  void server_read(const FrameEvent& e) override {
    if (const auto* vc = std::get_if<VectorClockSync>(&e.m)) raise(received_[e.r.conn], vc->clocks);
  }
  void server_wrote(const FrameEvent& e) override;
  void client_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override {
    const Clock* clock = nullptr;
    if (const auto* vc = std::get_if<VectorClockSync>(&e.m)) clock = &vc->clocks;
    if (const auto* ack = std::get_if<HandshakeAck>(&e.m); ack && ack->success)
      clock = &ack->server_clock;
    // Read before the handshake, a client closes instead (HS-14): nothing kept.
    if (clock && e.view.authenticated) raise(told_[e.r.conn], *clock);
  }
  void noted(const StateNote& n) override;
  void closed(std::uint64_t conn, std::int64_t) override {
    clocks_.erase(conn);
    received_.erase(conn);
    told_.erase(conn);
  }

 private:
  static void raise(Clock& into, const Clock& from) {
    for (const auto& [k, v] : from) {
      if (into.size() >= kMaxCollections && !into.count(k)) continue;  // bounded
      into[k] = std::max(into[k], v);
    }
  }
  void announced(const std::string& collection, std::uint64_t lsn) {
    if (collection.empty() || (lsn_.size() >= kMaxCollections && !lsn_.count(collection))) return;
    lsn_[collection] = std::max(lsn_[collection], lsn);
  }
  void check(const FrameEvent& e, const Clock& clock);
  void ack_clock(const FrameEvent& e, const Clock& clock);

  std::map<std::uint64_t, Clock> clocks_;    // VCLOCK-2: per connection, the server clock sent
  std::map<std::uint64_t, Clock> received_;  // VCLOCK-6: per connection, the clients' clocks read
  Clock lsn_;                                // VCLOCK-3: per collection, the highest LSN announced
  // VCLOCK-3: per connection, the server clocks the client read. Per
  // connection: a client that restarts starts with nothing (its clock is not
  // on its disk), one that reconnects may keep more.
  std::map<std::uint64_t, Clock> told_;
};

void VclockJudge::server_wrote(const FrameEvent& e) {
  if (const auto* ack = std::get_if<HandshakeAck>(&e.m)) {
    ack_clock(e, ack->server_clock);
    if (ack->success) check(e, ack->server_clock);
  } else if (const auto* vc = std::get_if<VectorClockSync>(&e.m)) {
    if (vc->sender_id != 0)
      flag(e, "VCLOCK-1", Level::Must,
           "server VectorClockSync with sender_id " + std::to_string(vc->sender_id) + ", not 0");
    check(e, vc->clocks);
  } else if (const auto* d = std::get_if<ShapeDelta>(&e.m)) {
    announced(d->collection, d->lsn);
  } else if (const auto* snap = std::get_if<ShapeSnapshot>(&e.m)) {
    if (const auto it = e.view.shapes.find(snap->shape_id); it != e.view.shapes.end())
      announced(it->second, snap->snapshot_lsn);
  } else if (const auto* a = std::get_if<DeltaAck>(&e.m); a && e.facts.push) {
    announced(e.facts.push->collection, a->lsn);
  } else if (const auto* p = std::get_if<CollectionPurged>(&e.m)) {
    announced(p->name, p->purge_lsn);
  }
}

// VCLOCK-6: the session clock starts empty and only VectorClockSyncs read on
// the connection raise it; whether one read before the handshake counts is
// the server's choice (Origin merges it, the reference ignores it).
void VclockJudge::ack_clock(const FrameEvent& e, const Clock& clock) {
  const auto& got = received_[e.r.conn];
  if (got.size() >= kMaxCollections) return;  // some were not kept
  for (const auto& [key, value] : clock) {
    const auto it = got.find(key);
    if (it == got.end() || value > it->second) {
      flag(e, "VCLOCK-6", Level::Must,
           "HandshakeAck server_clock has \"" + key + "\": " + std::to_string(value) +
               (it == got.end() ? ", but no VectorClockSync on this connection named it"
                                : ", above the " + std::to_string(it->second) +
                                      " this connection's VectorClockSyncs gave") +
               " (the session clock starts empty)");
      return;
    }
  }
}

void VclockJudge::check(const FrameEvent& e, const Clock& clock) {
  auto& sent = clocks_[e.r.conn];
  for (const auto& [key, value] : clock) {
    auto& last = sent[key];
    if (value < last) {
      flag(e, "VCLOCK-2", Level::Must,
           "server clock entry \"" + key + "\" went back from " + std::to_string(last) + " to " +
               std::to_string(value));
    }
    last = std::max(last, value);
    announced(key, value);  // the session clock is what clients told it: an LSN they may repeat
  }
}

// VCLOCK-3: a client's VectorClockSync names, per collection, an LSN it was
// told; one above every LSN the server announced for it is no LSN of it.
void VclockJudge::client_wrote(const FrameEvent& e) {
  const auto* vc = std::get_if<VectorClockSync>(&e.m);
  if (!vc) return;
  for (const auto& [key, value] : vc->clocks) {
    const auto it = lsn_.find(key);
    const std::uint64_t known = it == lsn_.end() ? 0 : it->second;
    if (value > known && (it != lsn_.end() || lsn_.size() < kMaxCollections)) {
      flag(e, "VCLOCK-3", Level::Must,
           "client VectorClockSync has \"" + key + "\": " + std::to_string(value) +
               ", but the server never announced an LSN above " + std::to_string(known) +
               " for that collection (keys are collections, values their LSNs)");
      return;
    }
  }
}

// VCLOCK-3 (HC): the reference client keeps the server's clocks, merged by
// max, as the server's per-collection positions ("server_clock" notes).
void VclockJudge::noted(const StateNote& n) {
  if (n.side != Sender::Client || !n.is("server_clock")) return;
  const auto told = told_.find(n.conn);
  if (told == told_.end()) return;
  for (const auto& [key, value] : told->second) {
    // At least: it may know more from an earlier connection.
    const std::string* kept = n.field("k:" + key);
    if (kept && std::strtoull(kept->c_str(), nullptr, 10) >= value) continue;
    report("VCLOCK-3", Level::Must,
           "the client keeps \"" + key + "\" at " + (kept ? *kept : std::string("nothing")) +
               " after reading server clocks whose highest value for it is " +
               std::to_string(value) + " (it merges them by max)",
           n.t, n.conn, "");
    return;
  }
}

}  // namespace

std::unique_ptr<Judge> make_vclock_judge(const JudgeDeps& d) {
  return std::make_unique<VclockJudge>(d);
}

}  // namespace syncsim::conformance
