#include "conformance/checker/session_checker.hpp"

#include <algorithm>
#include <cstdio>

#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/json.hpp"
#include "protocol/rules.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr std::size_t kContextFrames = 5;
constexpr std::int64_t kMs = 1'000'000;

// Reasons of §5.3.3 that decide before acceptance; any other reason is a
// constraint reject of an accepted push (step 9), which still counts for dedup.
bool is_pre_acceptance_reason(const std::string& reason) {
  return reason == "not authenticated" || reason == "token expired" || reason == "empty delta" ||
         reason.starts_with("CRC32C mismatch") || reason == "identity not established" ||
         reason == "collection purged" || reason == "rate limited";
}

std::string side_name(Sender s) { return s == Sender::Client ? "client" : "server"; }
std::string other_side(Sender s) { return s == Sender::Client ? "server" : "client"; }

std::string json_of(const Message& m) { return dump_json(message_to_json(m)); }

std::string json_of(const Bytes& frame) {
  const DecodedFrame d = decode_frame(frame);
  if (d.message) return json_of(*d.message);
  return "{\"msg_type\":" + std::to_string(frame.empty() ? 0 : frame[0]) + ",\"undecodable\":true}";
}

std::string shape_collection(const ShapeDefinition& shape) {
  if (const auto* d = std::get_if<shape_type::Document>(&shape.shape_type)) return d->collection;
  if (const auto* v = std::get_if<shape_type::Vector>(&shape.shape_type)) return v->collection;
  return {};
}

bool is_data_frame(const Message& m) {  // THROTTLE-4: what throttling paces
  return std::holds_alternative<ShapeDelta>(m) || std::holds_alternative<DeltaPush>(m);
}

std::string ms(std::int64_t ns) { return std::to_string(ns / kMs) + " ms"; }

}  // namespace

std::string format_check_finding(const CheckFinding& f) {
  char t[32];
  std::snprintf(t, sizeof t, "%.3fs", static_cast<double>(f.t) / 1e9);  // display only
  return std::string(f.finding.rule) + " (" + std::string(level_name(f.finding.level)) +
         ") t=" + t + " conn " + std::to_string(f.conn) + ": " + f.finding.message;
}

const std::vector<std::string_view>& SessionChecker::session_rules() {
  static const std::vector<std::string_view> kRules = {
      "HS-1",       "HS-2",      "HS-10",    "HS-12",    "HS-13",    "SESSION-1",  "SESSION-5",
      "DELTA-4",    "DELTA-6",   "DELTA-17", "DELTA-8",  "DELTA-9",  "PING-2",     "SHAPE-2",
      "SHAPE-6",    "SHAPE-9",   "RESYNC-2", "RESYNC-4", "RESYNC-8", "THROTTLE-2", "THROTTLE-4",
      "THROTTLE-5", "TOKEN-1",   "TOKEN-7",  "TOKEN-9",  "PURGE-1",  "PURGE-2",    "PURGE-4",
      "PURGE-7",    "SESSION-7", "CONN-3",   "TOKEN-4",  "FLOW-1",   "SHAPE-15",   "TS-5",
      "VCLOCK-1",   "VCLOCK-2"};
  return kRules;
}

SessionChecker::SessionChecker(CheckerOptions options) : options_(options) {}

std::size_t SessionChecker::must_count() const {
  return static_cast<std::size_t>(
      std::count_if(findings_.begin(), findings_.end(),
                    [](const CheckFinding& f) { return f.finding.level == Level::Must; }));
}

void SessionChecker::report(std::string_view rule, Level level, std::string message, std::int64_t t,
                            std::uint64_t conn, const std::string& frame_json) {
  CheckFinding f;
  f.finding = Finding{rule, level, Problem::ValueConstraint, 0, std::move(message)};
  f.t = t;
  f.conn = conn;
  f.frame = frame_json;
  const Rule* info = find_rule(rule);
  f.blamed = info && info->binds == Binds::Client   ? Sender::Client
             : info && info->binds == Binds::Server ? Sender::Server
                                                    : current_from_.value_or(Sender::Server);
  if (current_) {
    for (const auto& c : current_->recent) {  // rendered only when something is reported
      const char* verb = c.seen == Seen::Received  ? " read "
                         : c.seen == Seen::Written ? " wrote "
                                                   : " ";
      f.context.push_back((c.seen == Seen::Received ? other_side(c.from) : side_name(c.from)) +
                          verb + json_of(c.frame));
    }
  }
  findings_.push_back(std::move(f));
}

void SessionChecker::on_frame(const FrameRecord& r) {
  ++frames_;
  Session& s = sessions_[r.conn];
  if (s.client_key.empty()) s.client_key = "conn:" + std::to_string(r.conn);
  current_ = &s;
  current_from_.reset();
  check_deadlines(s, r.conn, r.t);
  current_from_ = r.from;
  const DecodedFrame d = decode_frame(r.frame);
  const bool written = r.seen != Seen::Received;
  const bool read = r.seen != Seen::Written;
  if (written) {  // frame rules judge the writer: encoding, framing, values
    Findings frame_findings = d.findings;
    if (d.message) validate(*d.message, r.from, frame_findings, 0);
    for (const auto& f : frame_findings) {
      report(f.rule, f.level, side_name(r.from) + " frame: " + f.message, r.t, r.conn,
             d.message ? json_of(*d.message) : json_of(r.frame));
    }
  }
  if (d.message && !has_must(d.findings)) {
    if (r.from == Sender::Client) {
      if (written) client_wrote(s, *d.message, r);
      if (read) server_read(s, *d.message, r);
    } else {
      if (written) server_wrote(s, *d.message, r);
      if (read) client_read(s, *d.message, r);
    }
  }
  s.recent.push_back(RecentFrame{r.from, r.seen, r.frame});
  if (s.recent.size() > kContextFrames) s.recent.pop_front();
  current_ = nullptr;
  current_from_.reset();
}

void SessionChecker::check_deadlines(Session& s, std::uint64_t conn, std::int64_t now) {
  if (s.gap_owed_since && now > *s.gap_owed_since + options_.resync_deadline_ns) {
    report("RESYNC-2", Level::Must,
           "no ResyncRequest within " + ms(options_.resync_deadline_ns) + " of " + s.gap_owed_what,
           *s.gap_owed_since + options_.resync_deadline_ns, conn, "");
    s.gap_owed_since.reset();
  }
}

// ---- the client's frames ----------------------------------------------------

void SessionChecker::client_wrote(Session& s, const Message& m, const FrameRecord& r) {
  const bool first = !s.client_spoke;
  s.client_spoke = true;
  auto flag = [&](std::string_view rule, Level level, std::string why) {
    report(rule, level, std::move(why), r.t, r.conn, json_of(m));
  };
  if (s.failed_ack) flag("HS-13", Level::Must, "client wrote a frame after a failed HandshakeAck");
  // CONN-3: a client whose newer connection is open still writing on an older
  // one has two at once. (A crashed client writes nothing more: no finding.)
  if (auto live = live_conn_.find(s.client_key);
      live != live_conn_.end() && live->second != r.conn && !s.conn3_reported) {
    auto newer = sessions_.find(live->second);
    if (newer != sessions_.end() && !newer->second.closed) {
      flag("CONN-3", Level::Must,
           "client " + s.client_key + " wrote on connection " + std::to_string(r.conn) +
               " while its newer connection " + std::to_string(live->second) + " is open");
      s.conn3_reported = true;
    }
  }
  if (const auto* h = std::get_if<Handshake>(&m)) {
    if (s.handshaken_here) {
      flag("SESSION-7", Level::Should,
           "a second Handshake on a connection whose handshake already succeeded");
    }
    if (!h->lite_id.empty()) {
      s.client_key = h->lite_id;
      live_conn_[h->lite_id] = r.conn;  // CONN-3: the client's newest connection
      auto [it, fresh] = epochs_.emplace(h->lite_id, h->epoch);
      if (!fresh && h->epoch <= it->second) {
        flag("HS-12", Level::Must,
             "Handshake epoch " + std::to_string(h->epoch) + " for lite_id " + h->lite_id +
                 " does not exceed the " + std::to_string(it->second) + " it sent before");
      }
      it->second = std::max(it->second, h->epoch);
    }
    return;
  }
  if (first) {
    flag("HS-1", Level::Must,
         "the client's first frame is " + std::string(message_name(m)) + ", not Handshake");
  } else if (!s.client_handshaken && !s.failed_ack) {
    const bool refresh = std::holds_alternative<TokenRefresh>(m);
    flag(refresh ? "TOKEN-4" : "HS-1", Level::Must,
         std::string(message_name(m)) +
             " before a successful HandshakeAck (the client must wait for it)");
  }
  if (const auto* p = std::get_if<DeltaPush>(&m)) {
    ClientRecord& rec = clients_[s.client_key];
    if (auto it = rec.purged_below.find(p->collection);
        it != rec.purged_below.end() && p->mutation_id <= it->second) {
      flag("PURGE-7", Level::Must,
           "DeltaPush of mutation " + std::to_string(p->mutation_id) + " to \"" + p->collection +
               "\", made before the client read its CollectionPurged (ids up to " +
               std::to_string(it->second) + " predate it)");
    }
    if (s.gap_owed_since) {
      flag("RESYNC-2", Level::Must,
           "DeltaPush before the ResyncRequest owed for " + s.gap_owed_what);
      s.gap_owed_since.reset();
    }
    rec.max_mutation_id = std::max(rec.max_mutation_id, p->mutation_id);
    s.in_flight.insert(p->mutation_id);
    if (s.in_flight.size() > 64) {
      flag("FLOW-1", Level::Must,
           std::to_string(s.in_flight.size()) +
               " mutations pushed and not yet answered on this connection (at most 64)");
      s.in_flight.clear();  // reported once per episode
    }
  } else if (const auto* rq = std::get_if<ResyncRequest>(&m)) {
    s.resync_sent = true;
    s.gap_owed_since.reset();
    if (const auto* g = std::get_if<resync_reason::SequenceGap>(&rq->reason);
        g && !s.gaps.count({g->expected, g->received})) {
      flag("RESYNC-4", Level::Must,
           "SequenceGap{expected " + std::to_string(g->expected) + ", received " +
               std::to_string(g->received) +
               "} matches no gap in the ShapeDeltas read on this connection");
    }
  } else if (const auto* th = std::get_if<Throttle>(&m)) {
    if (s.last_throttle.value_or(false) == th->throttle) {
      flag("THROTTLE-2", Level::Should,
           std::string("Throttle{throttle: ") + (th->throttle ? "true" : "false") +
               "} while the connection is already " + (th->throttle ? "throttled" : "unthrottled"));
    }
    s.last_throttle = th->throttle;
  } else if (std::holds_alternative<TokenRefresh>(m)) {
    if (s.refresh_outstanding) {
      flag("TOKEN-7", Level::Should, "TokenRefresh while an earlier one is unanswered");
    } else if (s.refresh_failed_at && r.t - *s.refresh_failed_at < 1000 * kMs) {
      flag("TOKEN-7", Level::Should,
           "TokenRefresh " + ms(r.t - *s.refresh_failed_at) +
               " after a failed one was answered (at least 1 s)");
    }
    s.refresh_outstanding = true;
  }
}

void SessionChecker::server_read(Session& s, const Message& m, const FrameRecord& r) {
  if (const auto* h = std::get_if<Handshake>(&m)) {
    s.handshakes.push_back({r.t, h->jwt_token.empty() ? std::optional<TokenClaims>(TokenClaims{})
                                                      : peek_token_claims(h->jwt_token)});
  } else if (const auto* p = std::get_if<DeltaPush>(&m)) {
    Push push{p->mutation_id, p->peer_id, p->collection, r.t};
    push.bad_crc = p->checksum != 0 && crc32c(p->delta) != p->checksum;
    s.outstanding.push_back(push);
    if (s.authenticated) s.touched.insert(p->collection);
  } else if (const auto* ping = std::get_if<PingPong>(&m); ping && !ping->is_pong) {
    s.pings.emplace_back(ping->timestamp_ms, r.t);
  } else if (const auto* sub = std::get_if<ShapeSubscribe>(&m)) {
    if (!s.authenticated) return;  // SESSION-6: only then owed
    s.subscribes_unanswered[sub->shape.shape_id].push_back(r.t);
    const std::string coll = shape_collection(sub->shape);
    s.shapes[sub->shape.shape_id] = coll;
    s.unsubscribed.erase(sub->shape.shape_id);
    if (!coll.empty()) s.touched.insert(coll);
  } else if (const auto* un = std::get_if<ShapeUnsubscribe>(&m)) {
    s.shapes.erase(un->shape_id);
    s.unsubscribed.insert(un->shape_id);
    s.snapshot_owed.erase(un->shape_id);
  } else if (const auto* rq = std::get_if<ResyncRequest>(&m)) {
    if (!s.authenticated) return;
    for (const auto& [id, coll] : s.shapes) {
      if (rq->collection.empty() || coll == rq->collection) s.snapshot_owed.emplace(id, r.t);
    }
  } else if (const auto* th = std::get_if<Throttle>(&m)) {
    if (!s.authenticated) return;
    if (th->throttle) {
      if (!s.throttled) {
        s.throttled_at = r.t;
        s.data_at.clear();
        s.throttle_reported = false;
      }
      s.throttled = true;
      s.throttle_rate = th->suggested_rate != 0 ? th->suggested_rate : 100;  // THROTTLE-4 default
    } else {
      s.throttled = false;
    }
  } else if (const auto* tr = std::get_if<TokenRefresh>(&m)) {
    s.refreshes.emplace_back(peek_token_claims(tr->new_token), r.t);
  } else if (std::holds_alternative<TimeseriesPush>(m)) {
    s.timeseries_owed.push_back(r.t);
  }
}

// ---- the server's frames ----------------------------------------------------

std::optional<SessionChecker::Push> SessionChecker::answer(Session& s, std::uint64_t mid,
                                                           const FrameRecord& r, const Message& m) {
  auto it = std::find_if(s.outstanding.begin(), s.outstanding.end(),
                         [&](const Push& p) { return p.mutation_id == mid; });
  if (it == s.outstanding.end()) {
    report("DELTA-9", Level::Must,
           s.skipped.count(mid)
               ? "answer to mutation " + std::to_string(mid) + " after answers to later pushes"
               : "answer to mutation " + std::to_string(mid) + ", which has no unanswered push",
           r.t, r.conn, json_of(m));
    return std::nullopt;
  }
  for (auto before = s.outstanding.begin(); before != it; ++before)
    s.skipped.insert(before->mutation_id);
  Push p = *it;
  s.outstanding.erase(s.outstanding.begin(), it + 1);
  const auto acc = s.accepted_max.find(p.peer_id);
  p.duplicate = acc != s.accepted_max.end() && p.mutation_id <= acc->second;
  return p;
}

void SessionChecker::answered_push(Session& s, const Push& p, bool accepted, bool expired_reject,
                                   const FrameRecord& r, const Message& m) {
  if (s.throttled && r.t - p.received_at > options_.control_delay_ns) {
    report("THROTTLE-5", Level::Must,
           "the answer to mutation " + std::to_string(p.mutation_id) + " left " +
               ms(r.t - p.received_at) + " after the push was read, while throttled",
           r.t, r.conn, json_of(m));
  }
  const auto read_at = server_ms(p.received_at), answered_at = server_ms(r.t);
  if (!read_at || !answered_at) return;
  // AUTH-3's 60 s leeway. exp is a third party's claim, any i64: clamped to
  // ±2^40 s (35 000 years) so the arithmetic cannot overflow (found by fuzz/).
  constexpr std::int64_t kFar = std::int64_t{1} << 40;
  const std::int64_t deadline_ms = (std::clamp(s.exp, -kFar, kFar) + 60) * 1000;
  if (accepted && s.exp > 0) {
    const std::int64_t read_ms = *read_at;
    if (read_ms > deadline_ms + options_.clock_tolerance_ms) {
      report("TOKEN-9", Level::Must,
             "mutation " + std::to_string(p.mutation_id) +
                 " accepted although the session's token expired at " + std::to_string(s.exp) +
                 " (read at server time " + std::to_string(read_ms / 1000) +
                 " s, leeway 60 s); expected DeltaReject \"token expired\"",
             r.t, r.conn, json_of(m));
    }
  }
  if (expired_reject) {
    const std::int64_t answer_ms = *answered_at;
    if (s.exp == 0 || answer_ms < deadline_ms - options_.clock_tolerance_ms) {
      report("TOKEN-9", Level::Must,
             "mutation " + std::to_string(p.mutation_id) +
                 " rejected as \"token expired\" but the token " +
                 (s.exp == 0 ? std::string("has no expiry")
                             : "is valid until " + std::to_string(s.exp) + " + 60 s"),
             r.t, r.conn, json_of(m));
    }
  }
}

void SessionChecker::server_wrote(Session& s, const Message& m, const FrameRecord& r) {
  const bool first = !s.server_spoke;
  s.server_spoke = true;
  auto flag = [&](std::string_view rule, Level level, std::string why) {
    report(rule, level, std::move(why), r.t, r.conn, json_of(m));  // rendered only if reported
  };
  if (const auto* ack = std::get_if<HandshakeAck>(&m)) {
    std::optional<TokenClaims> claims;
    if (s.handshakes.empty()) {
      flag("HS-2", Level::Must, "HandshakeAck without a Handshake to answer");
    } else {
      claims = s.handshakes.front().claims;
      s.handshakes.pop_front();
    }
    // SESSION-1: one id per connection, unique among open sessions.
    if (s.session_id && *s.session_id != ack->session_id) {
      flag("SESSION-1", Level::Must,
           "session_id changed from \"" + *s.session_id + "\" to \"" + ack->session_id + "\"");
    }
    if (!s.session_id) {
      auto [it, fresh] = open_ids_.emplace(ack->session_id, r.conn);
      if (!fresh && it->second != r.conn) {
        flag("SESSION-1", Level::Must,
             "session_id \"" + ack->session_id + "\" is already used by open connection " +
                 std::to_string(it->second));
      }
      s.session_id = ack->session_id;
    }
    s.authenticated = ack->success;
    s.fork_rejected = !ack->success && ack->fork_detected;
    if (ack->success) check_clock(s, ack->server_clock, r, m);
    if (ack->success) {
      s.ever_authenticated = true;
      s.tenant = claims ? claims->tenant_id : 0;
      s.exp = claims ? claims->exp : 0;
    }
    return;
  }
  if (first && !s.handshakes.empty()) {
    flag("HS-2", Level::Must,
         "the server's first frame is " + std::string(message_name(m)) + ", not HandshakeAck");
  }
  const bool server_initiated =
      std::holds_alternative<ShapeDelta>(m) || std::holds_alternative<DeltaPush>(m) ||
      std::holds_alternative<CollectionPurged>(m) || std::holds_alternative<PresenceBroadcast>(m) ||
      std::holds_alternative<PresenceLeave>(m) || std::holds_alternative<DefinitionSync>(m);
  if (server_initiated && s.fork_rejected) {
    flag("HS-10", Level::Must,
         std::string(message_name(m)) +
             " to a session whose handshake failed with fork_detected (it is not authenticated)");
  } else if (server_initiated && !s.ever_authenticated) {
    flag("HS-2", Level::Must,
         std::string(message_name(m)) + " before the first successful HandshakeAck");
  }
  if (is_data_frame(m) && s.throttled && r.t > s.throttled_at) {  // THROTTLE-4
    s.data_at.push_back(r.t);
    while (!s.data_at.empty() && s.data_at.front() <= r.t - options_.throttle_window_ns)
      s.data_at.pop_front();
    if (s.data_at.size() > s.throttle_rate && !s.throttle_reported) {
      flag("THROTTLE-4", Level::Should,
           std::to_string(s.data_at.size()) + " data frames within 1000 ms while the client " +
               "throttled the session to " + std::to_string(s.throttle_rate) + " per second");
      s.throttle_reported = true;
    }
  }

  auto accept = [&](const Push& p) {
    auto& mx = s.accepted_max[p.peer_id];
    mx = std::max(mx, p.mutation_id);
  };
  auto delivered = [&](const std::string& collection, std::uint64_t lsn) {
    auto& d = delivered_lsn_[{s.tenant, collection}];
    d = std::max(d, lsn);
  };
  if (const auto* ack = std::get_if<DeltaAck>(&m)) {
    const auto p = answer(s, ack->mutation_id, r, m);
    if (!p) return;
    if (!s.authenticated) {
      flag("SESSION-5", Level::Must, "DeltaAck on a session that is not authenticated");
    }
    if (p->bad_crc) {
      flag("DELTA-4", Level::Must,
           "mutation " + std::to_string(p->mutation_id) +
               " acknowledged although its checksum does not match its delta (expected "
               "DeltaReject \"CRC32C mismatch ...\")");
    }
    if (p->duplicate && ack->lsn != 0) {
      flag("DELTA-6", Level::Must,
           "duplicate of mutation " + std::to_string(p->mutation_id) + " acknowledged with lsn " +
               std::to_string(ack->lsn) + " (applied again; expected lsn 0)");
    }
    if (ack->lsn != 0) {
      auto& last = s.collection_lsn[p->collection];
      if (ack->lsn <= last) {
        flag("DELTA-8", Level::Must,
             "lsn " + std::to_string(ack->lsn) + " for \"" + p->collection +
                 "\" does not exceed the earlier " + std::to_string(last));
      }
      last = std::max(last, ack->lsn);
      delivered(p->collection, ack->lsn);
      accept(*p);
    }
    answered_push(s, *p, true, false, r, m);
    return;
  }
  if (const auto* rej = std::get_if<DeltaReject>(&m)) {
    const auto p = answer(s, rej->mutation_id, r, m);
    if (!p) return;
    if (!s.authenticated && rej->reason != "not authenticated") {
      flag("SESSION-5", Level::Must,
           "DeltaPush before the handshake rejected with \"" + rej->reason +
               "\", not \"not authenticated\"");
    }
    const bool pre = is_pre_acceptance_reason(rej->reason);
    if (p->bad_crc && !rej->reason.starts_with("CRC32C mismatch") &&
        rej->reason != "not authenticated" && rej->reason != "token expired") {
      flag("DELTA-4", Level::Must,
           "mutation " + std::to_string(p->mutation_id) + " has a wrong checksum but was " +
               "rejected with \"" + rej->reason + "\" (step 3 decides first)");
    }
    if (!pre) accept(*p);  // step 9 keeps the dedup update
    answered_push(s, *p, !pre, rej->reason == "token expired", r, m);
    return;
  }
  if (const auto* pong = std::get_if<PingPong>(&m); pong && pong->is_pong) {
    if (s.pings.empty()) {
      flag("PING-2", Level::Should, "Pong without an unanswered Ping");
      return;
    }
    if (s.pings.front().first != pong->timestamp_ms) {
      flag("PING-2", Level::Must,
           "Pong timestamp " + std::to_string(pong->timestamp_ms) + " does not echo the Ping's " +
               std::to_string(s.pings.front().first));
    }
    if (s.throttled && r.t - s.pings.front().second > options_.control_delay_ns) {
      flag("THROTTLE-5", Level::Must,
           "Pong left " + ms(r.t - s.pings.front().second) +
               " after the Ping was read, while throttled (control frames are never delayed)");
    }
    s.pings.pop_front();
    return;
  }
  if (const auto* snap = std::get_if<ShapeSnapshot>(&m)) {
    auto it = s.subscribes_unanswered.find(snap->shape_id);
    if (it != s.subscribes_unanswered.end() && !it->second.empty()) it->second.pop_front();
    s.shape_lsn[snap->shape_id] = snap->snapshot_lsn;
    s.snapshot_owed.erase(snap->shape_id);
    if (auto sh = s.shapes.find(snap->shape_id); sh != s.shapes.end() && !sh->second.empty())
      delivered(sh->second, snap->snapshot_lsn);
    return;
  }
  if (const auto* d = std::get_if<ShapeDelta>(&m)) {
    if (s.purged.count(d->collection)) {
      flag("PURGE-4", Level::Must,
           "ShapeDelta for \"" + d->collection + "\" after CollectionPurged");
    }
    if (s.unsubscribed.count(d->shape_id) && !s.shapes.count(d->shape_id)) {
      flag("SHAPE-6", Level::Must,
           "ShapeDelta for shape \"" + d->shape_id + "\" after its ShapeUnsubscribe was read");
    } else if (!s.shapes.count(d->shape_id)) {
      flag("SHAPE-15", Level::Must,
           "ShapeDelta for shape \"" + d->shape_id +
               "\", never subscribed on this session (subscribed_shapes creates no subscription)");
    }
    if (s.snapshot_owed.erase(d->shape_id)) {
      flag("RESYNC-8", Level::Should,
           "ShapeDelta for shape \"" + d->shape_id +
               "\" before the fresh ShapeSnapshot owed for the ResyncRequest");
    }
    auto it = s.shape_lsn.find(d->shape_id);
    if (it != s.shape_lsn.end() && d->lsn <= it->second) {
      flag("SHAPE-9", Level::Must,
           "ShapeDelta lsn " + std::to_string(d->lsn) + " for shape \"" + d->shape_id +
               "\" does not exceed " + std::to_string(it->second));
    }
    s.shape_lsn[d->shape_id] = std::max(it == s.shape_lsn.end() ? 0 : it->second, d->lsn);
    delivered(d->collection, d->lsn);
    return;
  }
  if (const auto* p = std::get_if<CollectionPurged>(&m)) {
    // Judged where the purge is first announced: telling a reconnecting
    // session about it later (PURGE-8) repeats a position that deliveries
    // since (a snapshot at the purge's lsn) may equal.
    const bool first_announced = !purges_seen_.count({p->tenant_id, p->name, p->purge_lsn});
    const auto d = delivered_lsn_.find({p->tenant_id, p->name});
    if (first_announced && d != delivered_lsn_.end() && p->purge_lsn <= d->second) {
      flag("PURGE-2", Level::Must,
           "purge_lsn " + std::to_string(p->purge_lsn) + " does not exceed lsn " +
               std::to_string(d->second) + ", already acknowledged or delivered for \"" + p->name +
               "\"");
    }
    s.purged.insert(p->name);
    s.purge_owed.erase(p->name);
    if (purges_seen_.emplace(p->tenant_id, p->name, p->purge_lsn).second)
      owe_purge(p->tenant_id, p->name, r.t);
    return;
  }
  if (const auto* push = std::get_if<DeltaPush>(&m)) {
    if (s.purged.count(push->collection)) {
      flag("PURGE-4", Level::Must,
           "DeltaPush for \"" + push->collection + "\" after CollectionPurged");
    }
    if (push->checksum != 0 && push->checksum != crc32c(push->delta)) {
      flag("DELTA-17", Level::Must,
           "server DeltaPush checksum " + std::to_string(push->checksum) +
               " is neither 0 nor the CRC32C of its delta");
    }
    return;
  }
  if (std::holds_alternative<TimeseriesAck>(m)) {
    if (s.timeseries_owed.empty()) {
      flag("TS-5", Level::Must, "TimeseriesAck without a TimeseriesPush to answer");
    } else {
      s.timeseries_owed.pop_front();
    }
    return;
  }
  if (const auto* vc = std::get_if<VectorClockSync>(&m)) {
    if (vc->sender_id != 0)
      flag("VCLOCK-1", Level::Must,
           "server VectorClockSync with sender_id " + std::to_string(vc->sender_id) + ", not 0");
    check_clock(s, vc->clocks, r, m);
    return;
  }
  if (const auto* ack = std::get_if<TokenRefreshAck>(&m)) {
    if (s.refreshes.empty()) {
      flag("TOKEN-1", Level::Must, "TokenRefreshAck without a TokenRefresh to answer");
      return;
    }
    const auto claims = s.refreshes.front().first;
    s.refreshes.pop_front();
    if (ack->success && claims) {
      s.exp = claims->exp;  // TOKEN-9: a successful refresh ends expiry
      s.tenant = claims->tenant_id;
    }
  }
}

void SessionChecker::client_read(Session& s, const Message& m, const FrameRecord& r) {
  if (const auto* ack = std::get_if<HandshakeAck>(&m)) {
    s.client_handshaken = s.client_handshaken || ack->success;
    s.handshaken_here = s.handshaken_here || ack->success;
    s.failed_ack = !ack->success;
  } else if (const auto* da = std::get_if<DeltaAck>(&m)) {
    s.in_flight.erase(da->mutation_id);
  } else if (const auto* dr = std::get_if<DeltaReject>(&m)) {
    s.in_flight.erase(dr->mutation_id);
  } else if (const auto* snap = std::get_if<ShapeSnapshot>(&m)) {
    s.seeded_t[snap->shape_id] = snap->snapshot_lsn;
  } else if (const auto* d = std::get_if<ShapeDelta>(&m)) {
    // A gap under either way of tracking t is one the client may report
    // (RESYNC-4); one under both, with a delta already read, is owed (RESYNC-2).
    const auto dt = s.delta_t.find(d->shape_id);
    const auto st = s.seeded_t.find(d->shape_id);
    const bool tracked = dt != s.delta_t.end();
    std::uint64_t t_max = 0;
    if (tracked) {
      t_max = dt->second;
      if (d->lsn > dt->second + 1) s.gaps.emplace(dt->second + 1, d->lsn);
    }
    if (st != s.seeded_t.end()) {
      const std::uint64_t t = std::max(st->second, tracked ? dt->second : 0);
      t_max = std::max(t_max, t);
      if (d->lsn > t + 1) s.gaps.emplace(t + 1, d->lsn);
    }
    if (tracked && d->lsn > t_max + 1 && !s.resync_sent && !s.gap_owed_since) {
      s.gap_owed_since = r.t;
      s.gap_owed_what = "the gap in shape \"" + d->shape_id + "\" (expected lsn " +
                        std::to_string(t_max + 1) + ", read " + std::to_string(d->lsn) + ")";
    }
    s.delta_t[d->shape_id] = std::max(tracked ? dt->second : 0, d->lsn);
  } else if (const auto* p = std::get_if<CollectionPurged>(&m)) {
    ClientRecord& rec = clients_[s.client_key];
    auto& below = rec.purged_below[p->name];
    below = std::max(below, rec.max_mutation_id);
  } else if (const auto* refresh_ack = std::get_if<TokenRefreshAck>(&m)) {
    s.refresh_outstanding = false;
    if (refresh_ack->success) {
      s.refresh_failed_at.reset();
    } else {
      s.refresh_failed_at = r.t;
    }
  }
}

// ---- connection ends, admin actions, the end of the trace -------------------

void SessionChecker::check_clock(Session& s, const std::map<std::string, std::uint64_t>& clock,
                                 const FrameRecord& r, const Message& m) {
  for (const auto& [key, value] : clock) {
    auto& last = s.clock[key];
    if (value < last) {
      report("VCLOCK-2", Level::Must,
             "server clock entry \"" + key + "\" went back from " + std::to_string(last) + " to " +
                 std::to_string(value),
             r.t, r.conn, json_of(m));
    }
    last = std::max(last, value);
  }
}

std::optional<std::int64_t> SessionChecker::server_ms(std::int64_t t) const {
  if (options_.server_unix_ms) return options_.server_unix_ms(t);
  if (options_.server_unix_epoch_ms) return *options_.server_unix_epoch_ms + t / kMs;
  return std::nullopt;
}

void SessionChecker::owe_purge(std::uint32_t tenant, const std::string& collection,
                               std::int64_t t) {
  for (auto& [conn, s] : sessions_) {
    if (s.closed || !s.authenticated || s.tenant != tenant) continue;
    if (!s.touched.count(collection) || s.purged.count(collection)) continue;
    s.purge_owed.emplace(collection, t);
  }
}

void SessionChecker::on_purge(std::uint32_t tenant, const std::string& collection, std::int64_t t) {
  owe_purge(tenant, collection, t);
}

void SessionChecker::on_close(std::uint64_t conn, std::int64_t t) {
  auto it = sessions_.find(conn);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  current_ = &s;
  check_deadlines(s, conn, t);
  current_ = nullptr;
  if (s.session_id && !s.closed) {
    auto id = open_ids_.find(*s.session_id);
    if (id != open_ids_.end() && id->second == conn) open_ids_.erase(id);
  }
  s.closed = true;
  // Answers and notices are owed only while the connection lives.
  s.pings.clear();
  s.subscribes_unanswered.clear();
  s.outstanding.clear();
  s.handshakes.clear();
  s.refreshes.clear();
  s.timeseries_owed.clear();
  s.snapshot_owed.clear();
  s.purge_owed.clear();
  s.gap_owed_since.reset();
  s.throttled = false;
}

void SessionChecker::finish(std::int64_t t, std::int64_t grace_ns) {
  options_.grace_ns = grace_ns;
  finish(t);
}

void SessionChecker::finish(std::int64_t t) {
  const std::int64_t cutoff = t - options_.grace_ns;  // younger requests may still be in flight
  for (auto& [id, s] : sessions_) {
    const std::uint64_t conn = id;  // clang 14 cannot capture a structured binding
    current_ = &s;
    check_deadlines(s, conn, t);
    auto owed = [&](std::string_view rule, Level level, std::string why) {
      report(rule, level, std::move(why), t, conn, "");
    };
    if (!s.handshakes.empty() && s.handshakes.front().read_at <= cutoff)
      owed("HS-2", Level::Must, "a Handshake was never answered");
    const auto old_pings = std::count_if(s.pings.begin(), s.pings.end(),
                                         [&](const auto& p) { return p.second <= cutoff; });
    if (old_pings > 0)
      owed("PING-2", Level::Must, std::to_string(old_pings) + " Ping(s) never answered");
    for (const auto& [shape, sent] : s.subscribes_unanswered) {
      if (!sent.empty() && sent.front() <= cutoff)
        owed("SHAPE-2", Level::Must, "ShapeSubscribe \"" + shape + "\" never answered");
    }
    if (!s.timeseries_owed.empty() && s.timeseries_owed.front() <= cutoff)
      owed("TS-5", Level::Must, "a TimeseriesPush was never answered");
    if (!s.refreshes.empty() && s.refreshes.front().second <= cutoff)
      owed("TOKEN-1", Level::Must, "a TokenRefresh was never answered");
    for (const auto& [shape, since] : s.snapshot_owed) {
      if (since <= cutoff)
        owed("RESYNC-8", Level::Should,
             "no fresh ShapeSnapshot for shape \"" + shape + "\" after the ResyncRequest");
    }
    for (const auto& [collection, since] : s.purge_owed) {
      if (since <= cutoff)
        owed("PURGE-1", Level::Must,
             "\"" + collection + "\" was purged but this session (tenant " +
                 std::to_string(s.tenant) +
                 ", which pushed to or subscribed it) never got CollectionPurged");
    }
    current_ = nullptr;
  }
}

}  // namespace syncsim::conformance
