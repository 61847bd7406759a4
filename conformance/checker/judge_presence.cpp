// Presence (§5.8): the judge keeps every channel's peers across the trace's
// connections, keyed by (tenant, channel) like the server's, from the
// updates the server read. An update owes each other peer a PresenceBroadcast
// listing every peer (PRES-2, PRES-3); a close owes the remaining peers a
// PresenceLeave (PRES-5); a peer silent past the TTL must be swept (PRES-6).
// Frames nobody is owed name their cause: an ignored update (PRES-1, PRES-4)
// or a session outside the channel (PRES-7). Presence frames may be dropped
// (PRES-8), so a frame settles the first owed entry it matches and earlier
// ones are forgiven; only what is still owed at the end is missing.
// Client side: heartbeats (PRES-10) and, from the reference client's notes,
// its view of each channel after a broadcast (PRES-11).
#include <algorithm>
#include <cstdlib>
#include <deque>
#include <functional>
#include <set>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kPresenceRules[] = {{"PRES-1"},
                                       {"PRES-2"},
                                       {"PRES-3"},
                                       {"PRES-4", Scope::Profile},
                                       {"PRES-5"},
                                       {"PRES-6", Scope::Profile},
                                       {"PRES-7"},
                                       {"PRES-10", Scope::Profile},
                                       {"PRES-11", Scope::Simulator}};

constexpr std::int64_t kSweepNs = 5'000 * kJudgeMs;        // PRES-6: sweep period
constexpr std::int64_t kDefaultTtlNs = 30'000 * kJudgeMs;  // PRES-6 when not configured
constexpr std::int64_t kSlackNs = 1'000 * kJudgeMs;        // clock drift and ms rounding
constexpr std::size_t kDefaultMaxChannels = 64, kDefaultMaxPeers = 1024;  // PRES-4
constexpr std::size_t kMaxPresenceOwed = 4096;  // owed frames kept per connection
constexpr std::size_t kMaxGhosts = 256;         // ignored updates remembered
constexpr std::size_t kMaxChannels = 65'536;

using Key = std::pair<std::uint32_t, std::string>;  // (tenant, channel)

struct Peer {
  std::optional<std::string> user;  // nullopt: the token did not say
  Bytes state;
  std::int64_t updated_at = 0;  // the server read its last update
  std::int64_t joined_at = 0;
  std::int64_t longest_gap = 0;  // between its updates: was it ever silent past the TTL?
  bool closing = false;          // its connection ended; the server may not know yet
  std::int64_t closed_at = 0;
};

struct Expected {  // one peer a broadcast must (or may) list
  std::optional<std::string> user;
  Bytes state;
  std::int64_t last_seen_ns = 0;
  bool optional = false;
};

struct Owed {  // a presence frame the server owes one connection
  bool leave = false;
  std::string channel;
  std::int64_t since = 0;
  std::vector<Expected> peers;      // a broadcast's list
  std::optional<std::string> user;  // a leave's user
  std::uint64_t departed = 0;       // a leave's peer (its connection)
  const char* rule = "PRES-2";
  bool must = true;  // false: the peer spoke after its connection ended (may be dropped)
};

struct Ghost {  // an update the server had to ignore
  std::uint64_t conn = 0;
  std::string_view rule;
};

bool same_user(const std::optional<std::string>& a, const std::optional<std::string>& b) {
  return !a || !b || *a == *b;
}

class PresenceJudge final : public Judge {
 public:
  explicit PresenceJudge(const JudgeDeps& d)
      : Judge(d.sink, "presence"), options_(d.options), views_(d.views) {}
  std::span<const RuleDecl> rules() const override { return kPresenceRules; }

  void client_wrote(const FrameEvent& e) override { heartbeat(e); }
  void server_read(const FrameEvent& e) override;
  void server_wrote(const FrameEvent& e) override;
  void client_read(const FrameEvent& e) override {
    if (const auto* b = std::get_if<PresenceBroadcast>(&e.m))
      conns_[e.r.conn].last_read[b->channel] = b->peers;  // PRES-11: the view it owes
  }
  void noted(const StateNote& n) override;
  void closed(std::uint64_t conn, std::int64_t t) override;
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override;

 private:
  struct Conn {
    std::deque<std::optional<std::string>> handshakes, refreshes;  // usernames claimed
    std::optional<std::string> user;
    std::set<std::string> channels;  // of its tenant, as the judge has them
    std::deque<Owed> owed;
    std::int64_t last_active = 0;                    // SESSION-3: any frame the server read
    std::map<std::string, std::int64_t> heartbeats;  // PRES-10: channel -> last update written
    std::set<std::string> late;                      // PRES-10: reported
    std::map<std::string, std::vector<PeerPresence>> last_read;  // PRES-11
  };

  std::int64_t ttl() const {
    return options_.server_profile.presence_ttl_ns.value_or(kDefaultTtlNs);
  }
  bool maybe_expired(const Peer& p, std::int64_t now) const {
    return now - p.updated_at > ttl() - kSlackNs;
  }
  bool tap(const FrameEvent& e) const { return options_.at_tap || e.r.seen == Seen::Both; }

  void identity(const FrameEvent& e);
  void update(const FrameEvent& e, const PresenceUpdate& u);
  bool over_limit(const FrameEvent& e, const Key& key, Conn& c);
  void owe_broadcasts(const Key& key, std::uint64_t from, std::int64_t now, bool must);
  void owe_leaves(const Key& key, std::uint64_t departed, std::int64_t now, const char* rule,
                  bool must, std::uint64_t except = 0);
  void broadcast(const FrameEvent& e, const PresenceBroadcast& b);
  bool matches(const FrameEvent& e, const Owed& o, const PresenceBroadcast& b, bool judge_age);
  void leave(const FrameEvent& e, const PresenceLeave& l);
  bool settle(Conn& c, bool is_leave, const std::string& channel,
              const std::function<bool(const Owed&)>& fits);
  void remove_peer(const Key& key, std::uint64_t conn);
  std::optional<std::uint64_t> departing(const Key& key, std::uint64_t receiver,
                                         const std::string& user, std::int64_t now) const;
  // A peer the server surely still has: not closing, not possibly swept.
  bool present(const Key& key, std::uint64_t conn, std::int64_t now) const {
    const auto it = channels_.find(key);
    if (it == channels_.end()) return false;
    const auto p = it->second.find(conn);
    return p != it->second.end() && !p->second.closing && !maybe_expired(p->second, now);
  }
  bool is_peer(const Key& key, std::uint64_t conn) const {
    const auto it = channels_.find(key);
    return it != channels_.end() && it->second.count(conn) > 0;
  }
  void unexpected(const FrameEvent& e, const std::string& channel, bool is_leave);
  void expire_overdue(const Key& key, std::int64_t now);
  bool witnessed(const std::map<std::uint64_t, Peer>& peers, std::uint64_t gone,
                 std::int64_t deadline) const;
  void heartbeat(const FrameEvent& e);
  void add_ghost(const std::string& channel, std::uint64_t conn, std::string_view rule) {
    if (ghosts_.size() >= kMaxGhosts) ghosts_.erase(ghosts_.begin());
    ghosts_[channel] = Ghost{conn, rule};
  }

  const CheckerOptions& options_;
  const Views& views_;
  std::map<std::uint64_t, Conn> conns_;
  std::map<Key, std::map<std::uint64_t, Peer>> channels_;
  std::map<std::string, Ghost> ghosts_;               // channel -> the last ignored update on it
  std::map<std::string, std::uint32_t> last_tenant_;  // channel -> tenant of its last update
  std::map<Key, std::int64_t> closed_at_;             // a peer of the channel closed then (PRES-5)
  std::set<std::uint64_t> half_closed_;               // connections one end has seen close
  bool blind_ = false;  // an identity the judge cannot follow: presence is not judged
};

// Usernames (AUTH-4) follow the handshakes and refreshes the server answers.
void PresenceJudge::identity(const FrameEvent& e) {
  Conn& c = conns_[e.r.conn];
  auto claimed = [](const std::string& token) -> std::optional<std::string> {
    if (token.empty()) return std::string("sync-client");  // AUTH-1: trust mode
    const auto claims = peek_token_claims(token);
    return claims ? claims->username : std::nullopt;
  };
  if (const auto* h = std::get_if<Handshake>(&e.m)) {
    if (!c.channels.empty()) blind_ = true;  // SESSION-7 with memberships: not followed
    if (c.handshakes.size() < kMaxPresenceOwed) c.handshakes.push_back(claimed(h->jwt_token));
  } else if (const auto* r = std::get_if<TokenRefresh>(&e.m)) {
    if (c.refreshes.size() < kMaxPresenceOwed) c.refreshes.push_back(claimed(r->new_token));
  }
}

void PresenceJudge::server_read(const FrameEvent& e) {
  if (e.view.closed && !std::holds_alternative<PresenceUpdate>(e.m)) return;
  Conn& c = conns_[e.r.conn];
  c.last_active = e.r.t;
  identity(e);
  if (const auto* u = std::get_if<PresenceUpdate>(&e.m)) update(e, *u);
}

void PresenceJudge::update(const FrameEvent& e, const PresenceUpdate& u) {
  if (!e.view.authenticated) {
    if (!e.view.closed) add_ghost(u.channel, e.r.conn, "PRES-1");  // must be ignored
    return;
  }
  Conn& c = conns_[e.r.conn];
  if (!e.view.identity_known) blind_ = true;
  if (blind_) return;
  const Key key{e.view.tenant, u.channel};
  expire_overdue(key, e.r.t);
  auto& peers = channels_[key];
  const bool member = peers.count(e.r.conn) > 0;
  if (!member && over_limit(e, key, c)) return;
  Peer& p = peers[e.r.conn];
  if (!member) p.joined_at = e.r.t;
  if (member) p.longest_gap = std::max(p.longest_gap, e.r.t - p.updated_at);
  if (e.view.closed && !p.closing) {  // read after its connection ended (in flight)
    p.closing = true;
    p.closed_at = e.r.t;
  }
  p.user = c.user;
  p.state = u.state;
  p.updated_at = e.r.t;
  c.channels.insert(u.channel);
  last_tenant_[u.channel] = e.view.tenant;
  if (last_tenant_.size() > kMaxChannels) last_tenant_.erase(last_tenant_.begin());
  owe_broadcasts(key, e.r.conn, e.r.t, !e.view.closed);
  if (e.view.closed) owe_leaves(key, e.r.conn, e.r.t, "PRES-5", false);
}

// PRES-4: a 65th channel or a 1 025th peer is ignored. Judged only where the
// limits are configured; elsewhere past the defaults the judge stops.
bool PresenceJudge::over_limit(const FrameEvent& e, const Key& key, Conn& c) {
  const auto& prof = options_.server_profile;
  const bool known = prof.presence_max_channels && prof.presence_max_peers;
  const std::size_t max_ch = prof.presence_max_channels.value_or(kDefaultMaxChannels);
  const std::size_t max_peers = prof.presence_max_peers.value_or(kDefaultMaxPeers);
  const auto& peers = channels_[key];
  // Peers the server may have swept already make the count uncertain.
  bool uncertain = std::any_of(peers.begin(), peers.end(), [&](const auto& kv) {
    return kv.second.closing || maybe_expired(kv.second, e.r.t);
  });
  for (const auto& ch : c.channels) {
    const auto it = channels_.find({key.first, ch});
    if (it == channels_.end()) continue;
    const auto self = it->second.find(e.r.conn);
    if (self != it->second.end() && maybe_expired(self->second, e.r.t)) uncertain = true;
  }
  const bool over = c.channels.size() >= max_ch || peers.size() >= max_peers;
  if (!over) return false;
  if (!known || uncertain) {
    blind_ = true;  // the server's count may differ from the judge's
    return true;
  }
  add_ghost(key.second, e.r.conn, "PRES-4");
  if (peers.empty()) channels_.erase(key);
  return true;
}

// PRES-2: every other peer is owed the list of every peer, the sender included.
void PresenceJudge::owe_broadcasts(const Key& key, std::uint64_t from, std::int64_t now,
                                   bool must) {
  const auto& peers = channels_[key];
  Owed o;
  o.channel = key.second;
  o.since = now;
  o.must = must;
  for (const auto& [conn, p] : peers) {
    o.peers.push_back(Expected{p.user, p.state, now - p.updated_at,
                               conn != from && (p.closing || maybe_expired(p, now))});
  }
  for (const auto& [conn, p] : peers) {
    if (conn == from || p.closing) continue;
    Conn& c = conns_[conn];
    if (c.owed.size() >= kMaxPresenceOwed) continue;
    c.owed.push_back(o);
    c.owed.back().must = must && !maybe_expired(p, now);  // it may have been swept
  }
}

// PRES-5, PRES-6: the remaining peers are owed a PresenceLeave of `departed`.
void PresenceJudge::owe_leaves(const Key& key, std::uint64_t departed, std::int64_t now,
                               const char* rule, bool must, std::uint64_t except) {
  const auto& peers = channels_[key];
  const auto gone = peers.find(departed);
  if (gone == peers.end()) return;
  Owed o;
  o.leave = true;
  o.channel = key.second;
  o.since = now;
  o.user = gone->second.user;
  o.departed = departed;
  o.rule = rule;
  o.must = must;
  for (const auto& [conn, p] : peers) {
    if (conn == departed || conn == except || p.closing) continue;
    Conn& c = conns_[conn];
    if (c.owed.size() >= kMaxPresenceOwed) continue;
    c.owed.push_back(o);
    c.owed.back().must = must && !maybe_expired(p, now);  // it may have been swept
  }
}

void PresenceJudge::server_wrote(const FrameEvent& e) {
  if (e.view.closed) return;  // a closed session's late frames are not judged
  Conn& c = conns_[e.r.conn];
  if (const auto* ack = std::get_if<HandshakeAck>(&e.m); ack && !c.handshakes.empty()) {
    if (ack->success) c.user = c.handshakes.front();
    c.handshakes.pop_front();
  } else if (const auto* r = std::get_if<TokenRefreshAck>(&e.m); r && !c.refreshes.empty()) {
    if (r->success) c.user = c.refreshes.front();
    c.refreshes.pop_front();
  }
  if (blind_) return;
  if (const auto* b = std::get_if<PresenceBroadcast>(&e.m)) broadcast(e, *b);
  if (const auto* l = std::get_if<PresenceLeave>(&e.m)) leave(e, *l);
}

// The first owed entry of the channel that `fits` is settled; the entries of
// the channel before it were dropped (PRES-8).
bool PresenceJudge::settle(Conn& c, bool is_leave, const std::string& channel,
                           const std::function<bool(const Owed&)>& fits) {
  for (auto it = c.owed.begin(); it != c.owed.end(); ++it) {
    if (it->leave != is_leave || it->channel != channel || !fits(*it)) continue;
    const std::int64_t since = it->since;
    std::erase_if(c.owed, [&](const Owed& o) {
      return o.leave == is_leave && o.channel == channel && o.since < since;
    });
    for (auto j = c.owed.begin(); j != c.owed.end(); ++j) {
      if (j->leave == is_leave && j->channel == channel && fits(*j)) {
        c.owed.erase(j);
        break;
      }
    }
    return true;
  }
  return false;
}

void PresenceJudge::broadcast(const FrameEvent& e, const PresenceBroadcast& b) {
  const Key key{e.view.tenant, b.channel};
  expire_overdue(key, e.r.t);
  if (!e.view.authenticated || !is_peer(key, e.r.conn)) return unexpected(e, b.channel, false);
  Conn& c = conns_[e.r.conn];
  std::optional<Owed> hit;
  const bool found = settle(c, false, b.channel, [&](const Owed& o) {
    if (!matches(e, o, b, false)) return false;
    hit = o;
    return true;
  });
  if (found) {
    matches(e, *hit, b, true);  // PRES-3: the ages, once the list fits
    return;
  }
  const auto first = std::find_if(c.owed.begin(), c.owed.end(), [&](const Owed& o) {
    return !o.leave && o.channel == b.channel;
  });
  const auto t = last_tenant_.find(b.channel);
  if (first == c.owed.end() || (t != last_tenant_.end() && t->second != e.view.tenant))
    return unexpected(e, b.channel, false);
  if (!options_.sees_every_session) {  // it may list peers this checker never saw (D170)
    c.owed.erase(first);
    return;
  }
  flag(e, "PRES-2", Level::Must,
       "PresenceBroadcast for \"" + b.channel + "\" lists " + std::to_string(b.peers.size()) +
           " peers; the channel's peers (user_id and state) were " +
           std::to_string(first->peers.size()) + " others");
  c.owed.erase(first);
}

// Whether the broadcast lists exactly the owed peers (optional ones may be
// missing); with `judge_age`, PRES-3 on each listed peer's last_seen_ms.
bool PresenceJudge::matches(const FrameEvent& e, const Owed& o, const PresenceBroadcast& b,
                            bool judge_age) {
  if (tap(e)) return true;  // at a tap the server's order of updates is not known
  std::vector<bool> used(o.peers.size(), false);
  std::string late;
  for (const auto& p : b.peers) {
    const std::int64_t seen =
        static_cast<std::int64_t>(std::min<std::uint64_t>(p.last_seen_ms, INT64_MAX / kJudgeMs)) *
        kJudgeMs;
    std::optional<std::size_t> best;
    for (std::size_t j = 0; j < o.peers.size(); ++j) {
      const Expected& x = o.peers[j];
      if (used[j] || !same_user(x.user, p.user_id) || x.state != p.state) continue;
      const auto off = [&](std::size_t k) { return std::abs(o.peers[k].last_seen_ns - seen); };
      if (!best || (o.peers[*best].optional && !x.optional) ||
          (o.peers[*best].optional == x.optional && off(j) < off(*best)))
        best = j;
    }
    if (!best) return false;
    used[*best] = true;
    const std::int64_t want = o.peers[*best].last_seen_ns;
    if (std::abs(want - seen) > 2 * kJudgeMs + want / 100 && late.empty())
      late = "\"" + p.user_id + "\" has last_seen_ms " + std::to_string(p.last_seen_ms) +
             ", its last update was read " + ms_text(want) + " before";
  }
  for (std::size_t j = 0; j < o.peers.size(); ++j) {
    if (!used[j] && !o.peers[j].optional) return false;
  }
  if (judge_age && !late.empty())
    flag(e, "PRES-3", Level::Must, late + " (PresenceBroadcast for \"" + b.channel + "\")");
  return true;
}

void PresenceJudge::leave(const FrameEvent& e, const PresenceLeave& l) {
  const Key key{e.view.tenant, l.channel};
  expire_overdue(key, e.r.t);
  if (!e.view.authenticated || !is_peer(key, e.r.conn)) return unexpected(e, l.channel, true);
  Conn& c = conns_[e.r.conn];
  std::uint64_t departed = 0;
  if (settle(c, true, l.channel, [&](const Owed& o) {
        if (!same_user(o.user, l.user_id)) return false;
        departed = o.departed;
        return true;
      })) {
    const auto it = channels_.find(key);
    if (it != channels_.end()) {
      const auto p = it->second.find(departed);
      if (p != it->second.end() && p->second.closing) remove_peer(key, departed);
    }
    return;
  }
  const auto gone = departing(key, e.r.conn, l.user_id, e.r.t);
  if (!gone) return unexpected(e, l.channel, true);
  const bool was_closing = channels_[key][*gone].closing;
  if (!was_closing) owe_leaves(key, *gone, e.r.t, "PRES-6", true, e.r.conn);
  remove_peer(key, *gone);
}

// The peer a leave names that the server may have removed: closed first,
// then expired (oldest first), then idle (SESSION-3 closes it on the server's
// side before its connection ends).
std::optional<std::uint64_t> PresenceJudge::departing(const Key& key, std::uint64_t receiver,
                                                      const std::string& user,
                                                      std::int64_t now) const {
  const auto it = channels_.find(key);
  if (it == channels_.end()) return std::nullopt;
  std::optional<std::uint64_t> expired, idle;
  const auto idle_ns = options_.server_profile.idle_timeout_ns;
  for (const auto& [conn, p] : it->second) {
    if (conn == receiver || !same_user(p.user, user)) continue;
    if (p.closing) return conn;
    if (maybe_expired(p, now) && (!expired || p.updated_at < it->second.at(*expired).updated_at))
      expired = conn;
    const auto c = conns_.find(conn);
    if (idle_ns && c != conns_.end() && now - c->second.last_active >= *idle_ns - kSlackNs)
      idle = conn;
  }
  return expired ? expired : idle;
}

void PresenceJudge::remove_peer(const Key& key, std::uint64_t conn) {
  const auto it = channels_.find(key);
  if (it == channels_.end()) return;
  it->second.erase(conn);
  if (it->second.empty()) channels_.erase(it);
  const auto c = conns_.find(conn);
  if (c == conns_.end()) return;
  c->second.channels.erase(key.second);
  std::erase_if(c->second.owed, [&](const Owed& o) { return o.channel == key.second; });
}

// A presence frame nobody was owed: named after its likeliest cause.
void PresenceJudge::unexpected(const FrameEvent& e, const std::string& channel, bool is_leave) {
  const std::string what =
      std::string(is_leave ? "PresenceLeave" : "PresenceBroadcast") + " for \"" + channel + "\"";
  if (const auto g = ghosts_.find(channel); g != ghosts_.end()) {
    flag(e, g->second.rule, Level::Must,
         what + " although the PresenceUpdate connection " + std::to_string(g->second.conn) +
             " sent to it had to be ignored" +
             (g->second.rule == "PRES-1" ? " (unauthenticated)" : " (over the presence limits)"));
    return;
  }
  const Key key{e.view.tenant, channel};
  const auto t = last_tenant_.find(channel);
  if (!e.view.authenticated || !is_peer(key, e.r.conn)) {
    flag(e, "PRES-7", Level::Must, what + " to a session that is not one of its peers");
  } else if (t != last_tenant_.end() && t->second != e.view.tenant) {
    flag(e, "PRES-7", Level::Must,
         what + " to a session of tenant " + std::to_string(e.view.tenant) +
             " after an update to the channel of tenant " + std::to_string(t->second));
  } else if (!options_.sees_every_session) {
    return;  // an update or close of a session this checker does not see (D170)
  } else if (is_leave) {
    const bool ttl_known = options_.server_profile.presence_ttl_ns.has_value();
    flag(e, ttl_known ? "PRES-6" : "PRES-5", Level::Must,
         what + ": no peer of that user left the channel (closed, or silent past the TTL)");
  } else if (const auto c = closed_at_.find(key);
             c != closed_at_.end() && e.r.t - c->second <= kSlackNs) {
    flag(e, "PRES-5", Level::Must, what + " after a peer's session closed (only leaves follow)");
  } else {
    flag(e, "PRES-2", Level::Must, what + " that no PresenceUpdate explains");
  }
}

// PRES-6: a peer silent past the TTL and a sweep is gone; if a peer that
// stayed present all along was never told, the server did not sweep it.
void PresenceJudge::expire_overdue(const Key& key, std::int64_t now) {
  const auto it = channels_.find(key);
  if (it == channels_.end()) return;
  const bool ttl_known = options_.server_profile.presence_ttl_ns.has_value();
  std::vector<std::uint64_t> gone;
  for (const auto& [conn, p] : it->second) {
    if (p.closing) {
      if (now - p.closed_at > options_.grace_ns) gone.push_back(conn);
      continue;
    }
    const std::int64_t deadline = p.updated_at + ttl() + kSweepNs + kSlackNs;
    if (now <= deadline) continue;
    gone.push_back(conn);
    if (ttl_known && witnessed(it->second, conn, deadline)) {
      report("PRES-6", Level::Must,
             "the peer of connection " + std::to_string(conn) + " in \"" + key.second +
                 "\" was silent from " + ms_text(p.updated_at) + " on, yet no PresenceLeave " +
                 "reached the peers present past the TTL and the next sweep",
             now, conn, "");
    }
  }
  for (const auto conn : gone) remove_peer(key, conn);
}

// A peer present throughout, up to `deadline`, who should have been told.
bool PresenceJudge::witnessed(const std::map<std::uint64_t, Peer>& peers, std::uint64_t gone,
                              std::int64_t deadline) const {
  for (const auto& [conn, q] : peers) {
    if (conn == gone || q.closing || q.joined_at > deadline - ttl()) continue;
    if (q.longest_gap > ttl() - kSlackNs) continue;
    if (q.updated_at < deadline && deadline - q.updated_at > ttl() - kSlackNs) continue;
    return true;
  }
  return false;
}

// A close is recorded by each end that sees it: the leaves are owed for
// certain once both have (the server then knows); after one, they may come.
void PresenceJudge::closed(std::uint64_t conn, std::int64_t t) {
  if (half_closed_.erase(conn)) {
    for (auto& [other, c] : conns_) {
      for (auto& o : c.owed) {
        if (!o.leave || o.departed != conn || std::string_view(o.rule) != "PRES-5") continue;
        const auto v = views_.find(other);
        o.must = v != views_.end() && present({v->second.tenant, o.channel}, other, t);
        o.since = t;
      }
    }
    return;
  }
  if (half_closed_.size() >= kMaxChannels) half_closed_.erase(half_closed_.begin());
  half_closed_.insert(conn);
  const auto it = conns_.find(conn);
  const auto v = views_.find(conn);
  if (it == conns_.end() || v == views_.end()) return;
  for (const auto& ch : it->second.channels) {
    const Key key{v->second.tenant, ch};
    auto& peers = channels_[key];
    const auto p = peers.find(conn);
    if (p == peers.end() || p->second.closing) continue;
    p->second.closing = true;
    p->second.closed_at = t;
    closed_at_[key] = t;
    if (closed_at_.size() > kMaxChannels) closed_at_.erase(closed_at_.begin());
    owe_leaves(key, conn, t, "PRES-5", false);  // PRES-5: the others are told
  }
  conns_.erase(it);
}

// PRES-10: a client present in a channel re-sends its update in time.
void PresenceJudge::heartbeat(const FrameEvent& e) {
  const auto hb = options_.client_profile.presence_heartbeat_ns;
  if (!hb) return;
  Conn& c = conns_[e.r.conn];
  const std::int64_t limit = *hb + *hb / 50 + 200 * kJudgeMs;  // drift of the client's clock
  for (const auto& [ch, at] : c.heartbeats) {
    if (e.r.t - at <= limit || c.late.count(ch)) continue;
    c.late.insert(ch);
    flag(e, "PRES-10", Level::Should,
         "no PresenceUpdate for \"" + ch + "\" for " + ms_text(e.r.t - at) + " (heartbeat every " +
             ms_text(*hb) + ")");
  }
  if (const auto* u = std::get_if<PresenceUpdate>(&e.m)) {
    if (c.heartbeats.size() < kMaxPresenceOwed || c.heartbeats.count(u->channel))
      c.heartbeats[u->channel] = e.r.t;
    c.late.erase(u->channel);
  }
}

// PRES-11: after a broadcast the client's view of the channel is its list,
// whatever the order, whatever it had before.
void PresenceJudge::noted(const StateNote& n) {
  if (!n.is("presence_view") || n.side != Sender::Client) return;
  const auto* channel = n.field("channel");
  const auto* users = n.field("users");
  const auto c = conns_.find(n.conn);
  if (!channel || !users || c == conns_.end()) return;
  const auto b = c->second.last_read.find(*channel);
  if (b == c->second.last_read.end()) return;
  std::vector<std::string> want;
  for (const auto& p : b->second) want.push_back(p.user_id);
  std::sort(want.begin(), want.end());
  std::string joined;
  for (const auto& u : want) joined += (joined.empty() ? "" : ",") + u;
  c->second.last_read.erase(b);
  if (joined == *users) return;
  report("PRES-11", Level::Must,
         "after a PresenceBroadcast for \"" + *channel + "\" listing [" + joined +
             "] the client's view is [" + *users + "] (the latest broadcast is the truth)",
         n.t, n.conn, "");
}

void PresenceJudge::finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) {
  if (blind_) return;
  const auto it = conns_.find(conn);
  const auto v = views_.find(conn);
  if (it == conns_.end() || v == views_.end() || v->second.closed) return;
  const auto channels = it->second.channels;
  for (const auto& ch : channels) expire_overdue({v->second.tenant, ch}, t);
  const auto c = conns_.find(conn);
  if (c == conns_.end()) return;
  for (const auto& o : c->second.owed) {
    if (!o.must || o.since > cutoff) continue;
    report(o.rule, Level::Must,
           std::string(o.leave ? "PresenceLeave" : "PresenceBroadcast") + " for \"" + o.channel +
               "\" owed since " + ms_text(o.since) + " never came",
           t, conn, "");
  }
  c->second.owed.clear();
}

}  // namespace

std::unique_ptr<Judge> make_presence_judge(const JudgeDeps& d) {
  return std::make_unique<PresenceJudge>(d);
}

}  // namespace syncsim::conformance
