#include "conformance/checker/session_checker.hpp"

#include <algorithm>
#include <cstdio>

#include "protocol/codec.hpp"
#include "protocol/json.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr std::size_t kContextFrames = 5;

// Reasons of §5.3.3 that decide before acceptance; any other reason is a
// constraint reject of an accepted push (step 9), which still counts for dedup.
bool is_pre_acceptance_reason(const std::string& reason) {
  return reason == "not authenticated" || reason == "token expired" || reason == "empty delta" ||
         reason.starts_with("CRC32C mismatch") || reason == "identity not established" ||
         reason == "collection purged" || reason == "rate limited";
}

std::string side_name(Sender s) { return s == Sender::Client ? "client" : "server"; }

}  // namespace

std::string format_check_finding(const CheckFinding& f) {
  char t[32];
  std::snprintf(t, sizeof t, "%.3fs", static_cast<double>(f.t) / 1e9);  // display only
  return std::string(f.finding.rule) + " (" + std::string(level_name(f.finding.level)) +
         ") t=" + t + " conn " + std::to_string(f.conn) + ": " + f.finding.message;
}

std::size_t SessionChecker::must_count() const {
  return static_cast<std::size_t>(
      std::count_if(findings_.begin(), findings_.end(),
                    [](const CheckFinding& f) { return f.finding.level == Level::Must; }));
}

void SessionChecker::report(std::string_view rule, Level level, std::string message,
                            const FrameRecord& r, const std::string& frame_json) {
  CheckFinding f;
  f.finding = Finding{rule, level, Problem::ValueConstraint, 0, std::move(message)};
  f.t = r.t;
  f.conn = r.conn;
  f.frame = frame_json;
  if (current_) f.context.assign(current_->recent.begin(), current_->recent.end());
  findings_.push_back(std::move(f));
}

void SessionChecker::on_frame(const FrameRecord& r) {
  ++frames_;
  Session& s = sessions_[r.conn];
  current_ = &s;
  const DecodedFrame d = decode_frame(r.frame);
  const std::string json =
      d.message ? dump_json(message_to_json(*d.message))
                : "{\"msg_type\":" + std::to_string(d.msg_type) + ",\"undecodable\":true}";
  // Frame rules: encoding, framing and value constraints, graded as found.
  Findings frame_findings = d.findings;
  if (d.message) validate(*d.message, r.from, frame_findings, 0);
  for (const auto& f : frame_findings) {
    report(f.rule, f.level, side_name(r.from) + " frame: " + f.message, r, json);
  }
  if (d.message && !has_must(d.findings)) {
    if (r.from == Sender::Client) {
      client_frame(s, *d.message, r, json);
    } else {
      server_frame(s, *d.message, r, json);
    }
  }
  s.recent.push_back(side_name(r.from) + " " + json);
  if (s.recent.size() > kContextFrames) s.recent.pop_front();
  current_ = nullptr;
}

void SessionChecker::client_frame(Session& s, const Message& m, const FrameRecord& r,
                                  const std::string& json) {
  const bool first = !s.client_spoke;
  s.client_spoke = true;
  if (s.failed_ack) {
    report("HS-13", Level::Must, "client wrote a frame after a failed HandshakeAck", r, json);
  }
  if (std::holds_alternative<Handshake>(m)) {
    ++s.handshakes_unanswered;
    s.handshakes_at.push_back(r.t);
    return;
  }
  if (first) {
    report("HS-1", Level::Must,
           "the client's first frame is " + std::string(message_name(m)) + ", not Handshake", r,
           json);
  } else if (!s.client_handshaken && !s.failed_ack) {
    report("HS-1", Level::Must,
           std::string(message_name(m)) +
               " before a successful HandshakeAck (the client must wait for it)",
           r, json);
  }
  if (const auto* p = std::get_if<DeltaPush>(&m)) {
    s.outstanding.push_back(Push{p->mutation_id, p->peer_id, p->collection, false});
  } else if (const auto* ping = std::get_if<PingPong>(&m); ping && !ping->is_pong) {
    s.pings.emplace_back(ping->timestamp_ms, r.t);
  } else if (const auto* sub = std::get_if<ShapeSubscribe>(&m)) {
    if (s.authenticated)
      s.subscribes_unanswered[sub->shape.shape_id].push_back(r.t);  // SESSION-6: only then owed
  }
}

void SessionChecker::server_frame(Session& s, const Message& m, const FrameRecord& r,
                                  const std::string& json) {
  const bool first = !s.server_spoke;
  s.server_spoke = true;
  if (const auto* ack = std::get_if<HandshakeAck>(&m)) {
    if (s.handshakes_unanswered == 0) {
      report("HS-2", Level::Must, "HandshakeAck without a Handshake to answer", r, json);
    } else {
      --s.handshakes_unanswered;
      s.handshakes_at.pop_front();
    }
    // SESSION-1: one id per connection, unique among open sessions.
    if (s.session_id && *s.session_id != ack->session_id) {
      report("SESSION-1", Level::Must,
             "session_id changed from \"" + *s.session_id + "\" to \"" + ack->session_id + "\"", r,
             json);
    }
    if (!s.session_id) {
      auto [it, fresh] = open_ids_.emplace(ack->session_id, r.conn);
      if (!fresh && it->second != r.conn) {
        report("SESSION-1", Level::Must,
               "session_id \"" + ack->session_id + "\" is already used by open connection " +
                   std::to_string(it->second),
               r, json);
      }
      s.session_id = ack->session_id;
    }
    s.authenticated = ack->success;
    if (ack->success) {
      s.client_handshaken = true;
      s.failed_ack = false;
    } else {
      s.failed_ack = true;
    }
    return;
  }
  if (first && s.handshakes_unanswered > 0) {
    report("HS-2", Level::Must,
           "the server's first frame is " + std::string(message_name(m)) + ", not HandshakeAck", r,
           json);
  }
  const bool server_initiated =
      std::holds_alternative<ShapeDelta>(m) || std::holds_alternative<DeltaPush>(m) ||
      std::holds_alternative<CollectionPurged>(m) || std::holds_alternative<PresenceBroadcast>(m) ||
      std::holds_alternative<PresenceLeave>(m) || std::holds_alternative<DefinitionSync>(m);
  if (server_initiated && !s.client_handshaken) {
    report("HS-2", Level::Must,
           std::string(message_name(m)) + " before the first successful HandshakeAck", r, json);
  }

  // Answers to DeltaPush: one each, in push order (DELTA-7, DELTA-9).
  auto answer = [&](std::uint64_t mid) -> std::optional<Push> {
    auto it = std::find_if(s.outstanding.begin(), s.outstanding.end(),
                           [&](const Push& p) { return p.mutation_id == mid; });
    if (it == s.outstanding.end()) {
      report("DELTA-9", Level::Must,
             s.skipped.count(mid)
                 ? "answer to mutation " + std::to_string(mid) + " after answers to later pushes"
                 : "answer to mutation " + std::to_string(mid) + ", which has no unanswered push",
             r, json);
      return std::nullopt;
    }
    for (auto before = s.outstanding.begin(); before != it; ++before)
      s.skipped.insert(before->mutation_id);
    Push p = *it;
    s.outstanding.erase(s.outstanding.begin(), it + 1);
    const auto acc = s.accepted_max.find(p.peer_id);
    p.duplicate = acc != s.accepted_max.end() && p.mutation_id <= acc->second;
    return p;
  };
  auto accept = [&](const Push& p) {
    auto& mx = s.accepted_max[p.peer_id];
    mx = std::max(mx, p.mutation_id);
  };
  if (const auto* ack = std::get_if<DeltaAck>(&m)) {
    const auto p = answer(ack->mutation_id);
    if (!p) return;
    if (!s.authenticated) {
      report("SESSION-5", Level::Must, "DeltaAck on a session that is not authenticated", r, json);
    }
    if (p->duplicate && ack->lsn != 0) {
      report("DELTA-6", Level::Must,
             "duplicate of mutation " + std::to_string(p->mutation_id) + " acknowledged with lsn " +
                 std::to_string(ack->lsn) + " (applied again; expected lsn 0)",
             r, json);
    }
    if (ack->lsn != 0) {
      auto& last = s.collection_lsn[p->collection];
      if (ack->lsn <= last) {
        report("DELTA-8", Level::Must,
               "lsn " + std::to_string(ack->lsn) + " for \"" + p->collection +
                   "\" does not exceed the earlier " + std::to_string(last),
               r, json);
      }
      last = std::max(last, ack->lsn);
      accept(*p);
    }
    return;
  }
  if (const auto* rej = std::get_if<DeltaReject>(&m)) {
    const auto p = answer(rej->mutation_id);
    if (!p) return;
    if (!s.authenticated && rej->reason != "not authenticated") {
      report("SESSION-5", Level::Must,
             "DeltaPush before the handshake rejected with \"" + rej->reason +
                 "\", not \"not authenticated\"",
             r, json);
    }
    if (!is_pre_acceptance_reason(rej->reason)) accept(*p);  // step 9 keeps the dedup update
    return;
  }
  if (const auto* pong = std::get_if<PingPong>(&m); pong && pong->is_pong) {
    if (s.pings.empty()) {
      report("PING-2", Level::Should, "Pong without an unanswered Ping", r, json);
    } else {
      if (s.pings.front().first != pong->timestamp_ms) {
        report("PING-2", Level::Must,
               "Pong timestamp " + std::to_string(pong->timestamp_ms) +
                   " does not echo the Ping's " + std::to_string(s.pings.front().first),
               r, json);
      }
      s.pings.pop_front();
    }
    return;
  }
  if (const auto* snap = std::get_if<ShapeSnapshot>(&m)) {
    auto it = s.subscribes_unanswered.find(snap->shape_id);
    if (it != s.subscribes_unanswered.end() && !it->second.empty()) it->second.pop_front();
    s.shape_lsn[snap->shape_id] = snap->snapshot_lsn;
    return;
  }
  if (const auto* d = std::get_if<ShapeDelta>(&m)) {
    if (s.purged.count(d->collection)) {
      report("PURGE-4", Level::Must,
             "ShapeDelta for \"" + d->collection + "\" after CollectionPurged", r, json);
    }
    auto it = s.shape_lsn.find(d->shape_id);
    if (it != s.shape_lsn.end() && d->lsn <= it->second) {
      report("SHAPE-9", Level::Must,
             "ShapeDelta lsn " + std::to_string(d->lsn) + " for shape \"" + d->shape_id +
                 "\" does not exceed " + std::to_string(it->second),
             r, json);
    }
    s.shape_lsn[d->shape_id] = std::max(it == s.shape_lsn.end() ? 0 : it->second, d->lsn);
    return;
  }
  if (const auto* p = std::get_if<CollectionPurged>(&m)) {
    s.purged.insert(p->name);
    return;
  }
  if (const auto* push = std::get_if<DeltaPush>(&m); push && s.purged.count(push->collection)) {
    report("PURGE-4", Level::Must,
           "DeltaPush for \"" + push->collection + "\" after CollectionPurged", r, json);
  }
}

void SessionChecker::on_close(std::uint64_t conn, std::int64_t) {
  auto it = sessions_.find(conn);
  if (it == sessions_.end()) return;
  if (it->second.session_id) open_ids_.erase(*it->second.session_id);
  it->second.pings.clear();  // answers are owed only while the connection lives
  it->second.subscribes_unanswered.clear();
  it->second.outstanding.clear();
  it->second.handshakes_unanswered = 0;
  it->second.handshakes_at.clear();
}

void SessionChecker::finish(std::int64_t t, std::int64_t grace) {
  const std::int64_t cutoff = t - grace;  // younger requests may still be in flight
  for (auto& [conn, s] : sessions_) {
    FrameRecord where;
    where.t = t;
    where.conn = conn;
    current_ = &s;
    if (!s.handshakes_at.empty() && s.handshakes_at.front() <= cutoff) {
      report("HS-2", Level::Must, "a Handshake was never answered", where, "");
    }
    const auto old_pings = std::count_if(s.pings.begin(), s.pings.end(),
                                         [&](const auto& p) { return p.second <= cutoff; });
    if (old_pings > 0)
      report("PING-2", Level::Must, std::to_string(old_pings) + " Ping(s) never answered", where,
             "");
    for (const auto& [shape, sent] : s.subscribes_unanswered) {
      if (!sent.empty() && sent.front() <= cutoff) {
        report("SHAPE-2", Level::Must, "ShapeSubscribe \"" + shape + "\" never answered", where,
               "");
      }
    }
    current_ = nullptr;
  }
}

}  // namespace syncsim::conformance
