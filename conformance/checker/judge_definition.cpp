// Definitions (§5.12): the server sends each change to every authenticated
// session of the tenant and, after a successful handshake, replays every
// definition ordered by type then name (DEF-4); a client applies a valid
// put or delete and ignores anything else (DEF-2, DEF-3). The client rules
// are about its stored state, so they are judged from its state notes
// (D84, kind "definition": outcome and stored_bytes after the frame).
#include <algorithm>
#include <deque>
#include <set>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kDefinitionRules[] = {
    {"DEF-2", Scope::Simulator}, {"DEF-3", Scope::Simulator}, {"DEF-4", Scope::Trace}};
constexpr std::size_t kMaxKept = 256;  // frames awaiting a note, broadcasts awaiting receivers

bool known_type(const std::string& t) {
  return t == "function" || t == "trigger" || t == "procedure";
}

class DefinitionJudge final : public Judge {
 public:
  explicit DefinitionJudge(const JudgeDeps& d)
      : Judge(d.sink, "definition"), options_(d.options), views_(d.views) {}
  std::span<const RuleDecl> rules() const override { return kDefinitionRules; }

  void client_read(const FrameEvent& e) override {
    const auto* d = std::get_if<DefinitionSync>(&e.m);
    if (!d) return;
    auto& q = conns_[e.r.conn].applied;
    q.push_back(Applied{*d, json_of(e.m)});
    if (q.size() > kMaxKept) q.pop_front();
  }
  void server_wrote(const FrameEvent& e) override;
  void noted(const StateNote& n) override;
  void closed(std::uint64_t conn, std::int64_t) override {
    conns_.erase(conn);
    for (auto& b : broadcasts_) b.owed.erase(conn);
  }
  void finish(std::uint64_t, std::int64_t t, std::int64_t cutoff) override;

 private:
  struct Applied {  // a DefinitionSync the client read, awaiting its note
    DefinitionSync d;
    std::string json;
  };
  struct State {
    std::deque<Applied> applied;
    bool replaying = false;  // right after a successful HandshakeAck (DEF-4)
    std::int64_t ack_t = 0;  // when it was written: the replay is written with it
    std::optional<std::pair<std::string, std::string>> last_replayed;
  };
  struct Broadcast {  // a change written to one session: owed to the tenant's others
    Bytes frame;
    std::uint32_t tenant = 0;
    std::int64_t t = 0;
    std::set<std::uint64_t> owed;
    std::string json;
  };
  void replay_order(const FrameEvent& e, State& s, const DefinitionSync& d);
  void fan_out(const FrameEvent& e, const DefinitionSync& d);

  const CheckerOptions& options_;
  Views& views_;
  std::map<std::uint64_t, State> conns_;
  std::deque<Broadcast> broadcasts_;
};

// DEF-2/DEF-3: what the client's note says the frame it read did.
void DefinitionJudge::noted(const StateNote& n) {
  if (n.side != Sender::Client || !n.is("definition")) return;
  const auto it = conns_.find(n.conn);
  if (it == conns_.end() || it->second.applied.empty()) return;
  const Applied a = std::move(it->second.applied.front());
  it->second.applied.pop_front();
  const std::string* outcome = n.field("outcome");
  const std::string* stored = n.field("stored_bytes");
  if (!outcome || !stored) return;
  const DefinitionSync& d = a.d;
  const bool put = d.action == "put" && is_json_object(d.payload);
  const bool del = d.action == "delete";
  if (!known_type(d.definition_type) || (!put && !del)) {
    if (*outcome != "ignored")
      report("DEF-3", Level::Must,
             "the client " + *outcome + " a DefinitionSync it must ignore (type \"" +
                 d.definition_type + "\", action \"" + d.action + "\")",
             n.t, n.conn, a.json);
  } else if (put && *stored != std::to_string(d.payload.size())) {
    report("DEF-2", Level::Must,
           "after a put of " + d.definition_type + " \"" + d.name + "\" (" +
               std::to_string(d.payload.size()) + " bytes) the client stores " + *stored,
           n.t, n.conn, a.json);
  } else if (del && *stored != "none") {
    report("DEF-2", Level::Must,
           "after a delete of " + d.definition_type + " \"" + d.name +
               "\" the client still stores it (" + *stored + " bytes)",
           n.t, n.conn, a.json);
  }
}

void DefinitionJudge::server_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  if (const auto* ack = std::get_if<HandshakeAck>(&e.m)) {
    s.replaying = ack->success;
    s.ack_t = e.r.t;
    s.last_replayed.reset();
    // A new handshake: what is owed to it now comes in its replay.
    for (auto& b : broadcasts_) b.owed.erase(e.r.conn);
    return;
  }
  // The core writes the replay in the same instant as the ack; a tap sees it soon after.
  const std::int64_t slack =
      e.r.seen == Seen::Written && !options_.at_tap ? 0 : options_.tap_tolerance_ns;
  if (e.r.t - s.ack_t > slack) s.replaying = false;
  const auto* d = std::get_if<DefinitionSync>(&e.m);
  if (!d) {
    // The purge replay comes before the definitions (PURGE-5); anything else ends it.
    if (!std::holds_alternative<CollectionPurged>(e.m)) s.replaying = false;
    return;
  }
  if (s.replaying) return replay_order(e, s, *d);
  fan_out(e, *d);
}

// DEF-4: the replay after a handshake is ordered by definition_type, then name.
void DefinitionJudge::replay_order(const FrameEvent& e, State& s, const DefinitionSync& d) {
  auto key = std::make_pair(d.definition_type, d.name);
  if (s.last_replayed && !(*s.last_replayed < key)) {
    flag(e, "DEF-4", Level::Should,
         "the definitions replayed after the handshake are not ordered by type then name: " +
             key.first + " \"" + key.second + "\" after " + s.last_replayed->first + " \"" +
             s.last_replayed->second + "\"");
  }
  s.last_replayed = std::move(key);
  for (auto& b : broadcasts_) {
    if (b.frame == e.r.frame) b.owed.erase(e.r.conn);  // the change reached it in the replay
  }
}

// DEF-4: a change written to one session is owed to every session of the
// tenant authenticated then; the same frame written to another session
// within the tap tolerance (the simulator: at the same instant) is the
// same change reaching it.
void DefinitionJudge::fan_out(const FrameEvent& e, const DefinitionSync&) {
  const std::int64_t window = options_.tap_tolerance_ns;
  for (auto& b : broadcasts_) {
    if (b.frame == e.r.frame && e.r.t - b.t <= window && b.tenant == e.view.tenant) {
      b.owed.erase(e.r.conn);
      return;
    }
  }
  if (!e.view.identity_known) return;
  Broadcast b{e.r.frame, e.view.tenant, e.r.t, {}, json_of(e.m)};
  for (const auto& [conn, v] : views_) {
    if (conn != e.r.conn && !v.closed && v.authenticated && v.identity_known &&
        v.tenant == e.view.tenant)
      b.owed.insert(conn);
  }
  broadcasts_.push_back(std::move(b));
  while (broadcasts_.size() > kMaxKept) broadcasts_.pop_front();
}

void DefinitionJudge::finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) {
  for (auto& b : broadcasts_) {
    if (b.t > cutoff || !b.owed.count(conn)) continue;
    b.owed.erase(conn);
    report("DEF-4", Level::Should,
           "a definition change written to another session of tenant " + std::to_string(b.tenant) +
               " " + ms_text(t - b.t) + " ago never reached this authenticated session",
           t, conn, b.json);
  }
}

}  // namespace

std::unique_ptr<Judge> make_definition_judge(const JudgeDeps& d) {
  return std::make_unique<DefinitionJudge>(d);
}

}  // namespace syncsim::conformance
