// A deliberately simple sync server over raw TCP (PROTOCOL.md §2.4) with one
// defect chosen by --bug, so the tests can prove that `syncsim check` catches
// each one over a real socket and cites the right rule. It shares nothing with
// the reference server: only the protocol library (codec, frame stream,
// CRC32C, base64url), written apart and kept simple.
//
// What it does (clean): HS256 JWTs (--jwt-secret; without it only the empty
// token authenticates, in trust mode), fork detection, token expiry during a
// session and TokenRefresh; pushes validated in the order of §5.3.2 with a
// per-session rate bucket and per-(tenant, collection) LSNs (§1.1);
// last-writer-wins documents, snapshots holding them, ShapeDelta fan-out to
// every subscribed session of the tenant including the writer's own; resync
// answered by fresh snapshots; Throttle pacing and release; presence with
// leaves on disconnect and TTL; timeseries acks counting Gorilla samples;
// definitions and purges per tenant, replayed after each handshake; vector
// clocks; clock-skew warnings.
//
// Left out: RS256, rate-limit rejects (drops are silent, RATE-2), write
// policies, constraint rejects, Graph shape deltas, server-to-client DeltaPush.
//
// Admin port (--admin-port N, 0 = any; --admin-port-file PATH): one command a
// line, answered "ok" or "error <why>":
//   purge <tenant> <collection>
//   write <tenant> <collection> <document> <hex value>   ("-" = delete)
//   define <tenant> <function|trigger|procedure> <name> put <json>
//   define <tenant> <function|trigger|procedure> <name> delete
//
// Usage: faulty_server --list-bugs   (name, rule, family per line)
//        faulty_server --port N [--bug NAME] [--port-file PATH]
//          [--jwt-secret S] [--admin-port N] [--admin-port-file PATH]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <list>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "protocol/base64url.hpp"
#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/frame_stream.hpp"

using namespace syncsim::protocol;

namespace {

// Each defect breaks one rule, named beside it.
#define FAULTY_BUGS(X)                                                                             \
  X(NoPong, "no-pong", "PING-2", "ping") /* PING-2: Pings after the handshake */                   \
  X(AckDuplicateWithLsn, "ack-duplicate-with-lsn", "DELTA-6",                                      \
    "deltas") /* DELTA-6: duplicate gets an lsn */                                                 \
  X(AcceptBadChecksum, "accept-bad-checksum", "DELTA-4",                                           \
    "deltas")                                                 /* DELTA-4: CRC mismatch accepted */ \
  X(AcksOutOfOrder, "acks-out-of-order", "DELTA-9", "deltas") /* DELTA-9: answers reversed */      \
  X(SnapshotWrongId, "snapshot-wrong-id", "SHAPE-2",                                               \
    "shapes") /* SHAPE-2: snapshot of another id */                                                \
  X(CloseOnUnknownCode, "close-on-unknown-code", "FRAME-3",                                        \
    "framing") /* FRAME-3: unknown code closes */                                                  \
  X(AcceptEmptyDelta, "accept-empty-delta", "DELTA-5",                                             \
    "deltas") /* DELTA-5: empty delta accepted */                                                  \
  X(CloseOnBadBody, "close-on-bad-body", "FRAME-10",                                               \
    "framing") /* FRAME-10: undecodable body closes */                                             \
  X(ForkNotDetected, "fork-not-detected", "HS-9", "handshake") /* HS-9: an old epoch accepted */   \
  X(ForkStaysAuthed, "fork-stays-authed", "HS-10",                                                 \
    "handshake") /* HS-10: authed after a fork refusal */                                          \
  X(WrongWireVersion, "wrong-wire-version", "HS-5", "handshake") /* HS-5: server_wire_version 3 */ \
  X(SuccessWithError, "success-with-error", "HS-7",                                                \
    "handshake")                                        /* HS-7: success carries an error */       \
  X(LsnBackwards, "lsn-backwards", "DELTA-8", "deltas") /* DELTA-8: 4th LSN goes back */           \
  X(SkewUnsignedMarker, "skew-unsigned-marker", "ENC-3",                                           \
    "encoding")                                               /* ENC-3: i64 skew packed cc..cf */  \
  X(NoEchoToWriter, "no-echo-to-writer", "SHAPE-7", "shapes") /* SHAPE-7: writer gets no delta */  \
  X(DeltaBeforeSnapshot, "delta-before-snapshot", "SHAPE-3",                                       \
    "shapes") /* SHAPE-3: a delta precedes it */                                                   \
  X(UnsubscribeIgnored, "unsubscribe-ignored", "SHAPE-6", "shapes") /* SHAPE-6: deltas go on */    \
  X(ResyncIgnored, "resync-ignored", "RESYNC-8", "resync") /* RESYNC-8: no fresh snapshot */       \
  X(ResyncCloses, "resync-closes", "RESYNC-7", "resync")   /* RESYNC-7: resync ends the session */ \
  X(ThrottleIgnored, "throttle-ignored", "THROTTLE-4", "throttle") /* THROTTLE-4: no pacing */     \
  X(ThrottleNeverReleased, "throttle-never-released", "THROTTLE-4",                                \
    "throttle") /* THROTTLE-4: release ignored */                                                  \
  X(ThrottleDelaysPong, "throttle-delays-pong", "THROTTLE-5",                                      \
    "throttle") /* THROTTLE-5: pongs paced as data */                                              \
  X(ExpiredTokenAccepted, "expired-token-accepted", "TOKEN-9",                                     \
    "tokens") /* TOKEN-9: no expiry mid-session */                                                 \
  X(RefreshCrossTenant, "refresh-cross-tenant", "TOKEN-1",                                         \
    "tokens") /* TOKEN-1: other tenant accepted */                                                 \
  X(RefreshFailureWithExpiry, "refresh-failure-with-expiry", "TOKEN-2",                            \
    "tokens")                                             /* TOKEN-2: failed, 3600 */              \
  X(PurgeNoNotice, "purge-no-notice", "PURGE-1", "purge") /* PURGE-1: no CollectionPurged */       \
  X(PurgeNoticeOtherTenants, "purge-notice-other-tenants", "PURGE-1",                              \
    "purge") /* PURGE-1: to every tenant */                                                        \
  X(PushAfterPurgeAccepted, "push-after-purge-accepted", "PURGE-4",                                \
    "purge")                                              /* PURGE-4: purged, still acked */       \
  X(PurgeLsnStale, "purge-lsn-stale", "PURGE-2", "purge") /* PURGE-2: purge_lsn not above */       \
  X(PresenceEchoToSender, "presence-echo-to-sender", "PRES-2",                                     \
    "presence") /* PRES-2: sender gets its broadcast */                                            \
  X(PresenceNoLeave, "presence-no-leave", "PRES-5",                                                \
    "presence")                                             /* PRES-5: no leave on disconnect */   \
  X(TsAckMiscount, "ts-ack-miscount", "TS-3", "timeseries") /* TS-3: accepted = sample_count */    \
  X(TsLsnZero, "ts-lsn-zero", "TS-4", "timeseries") /* TS-4: lsn 0 with samples accepted */        \
  X(DefinitionsCrossTenant, "definitions-cross-tenant", "DEF-4",                                   \
    "definitions")                                        /* DEF-4: sent to every tenant */        \
  X(VclockNotMax, "vclock-not-max", "VCLOCK-1", "vclock") /* VCLOCK-1: last value, not max */      \
  X(PongWrongTimestamp, "pong-wrong-timestamp", "PING-2", "ping") /* PING-2: timestamp + 1 */

enum class Bug {
  None,
#define X(id, name, rule, family) id,
  FAULTY_BUGS(X)
#undef X
};
struct BugName {
  const char* name;
  const char* rule;  // the rule the defect breaks
  const char* family;
  Bug bug;
};
constexpr BugName kBugs[] = {{"none", "-", "-", Bug::None},
#define X(id, name, rule, family) {name, rule, family, Bug::id},
                             FAULTY_BUGS(X)
#undef X
};

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;
constexpr std::size_t kMaxConns = 64;
constexpr std::uint32_t kMaxBody = 1u << 20;  // a lower limit than 16 MiB is allowed (§2.5)
constexpr std::size_t kMaxOutbox = 8u << 20;  // a client that never reads is dropped
constexpr std::size_t kMaxDataQueue = 10000;  // THROTTLE-6
constexpr std::size_t kMaxAdminLine = 64 * 1024;
constexpr auto kIdleTimeout = std::chrono::seconds(300);  // SESSION-3
constexpr auto kHoldAcks = Ms(200);                       // acks-out-of-order only
constexpr auto kPresenceTtl = Ms(30000);                  // PRES-6
constexpr auto kPresenceSweep = Ms(5000);
constexpr std::uint16_t kWireVersion = 4;  // HS-5

std::int64_t unix_ms() {
  return std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- MessagePack pieces for snapshot data and the hand-packed DeltaAck ----
void mp_uint(Bytes& o, std::uint64_t v) {
  auto be = [&](int n) {
    for (int i = n - 1; i >= 0; --i) o.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  if (v < 128) {
    o.push_back(static_cast<std::uint8_t>(v));
  } else if (v < 256) {
    o.push_back(0xcc), be(1);
  } else if (v < 65536) {
    o.push_back(0xcd), be(2);
  } else if (v <= 0xffffffffu) {
    o.push_back(0xce), be(4);
  } else {
    o.push_back(0xcf), be(8);
  }
}
void mp_len(Bytes& o, std::size_t n, std::uint8_t fix, std::size_t fix_max, std::uint8_t m8,
            std::uint8_t m16, std::uint8_t m32) {
  if (n <= fix_max && fix != 0) {
    o.push_back(static_cast<std::uint8_t>(fix | n));
  } else if (n < 256 && m8 != 0) {
    o.push_back(m8), o.push_back(static_cast<std::uint8_t>(n));
  } else if (n < 65536) {
    o.push_back(m16), o.push_back(static_cast<std::uint8_t>(n >> 8)),
        o.push_back(static_cast<std::uint8_t>(n));
  } else {
    o.push_back(m32);
    for (int i = 3; i >= 0; --i) o.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  }
}
void mp_str(Bytes& o, const std::string& s) {
  mp_len(o, s.size(), 0xa0, 31, 0xd9, 0xda, 0xdb);
  o.insert(o.end(), s.begin(), s.end());
}
void mp_bin(Bytes& o, const Bytes& b) {
  mp_len(o, b.size(), 0, 0, 0xc4, 0xc5, 0xc6);
  o.insert(o.end(), b.begin(), b.end());
}
void mp_array(Bytes& o, std::size_t n) { mp_len(o, n, 0x90, 15, 0, 0xdc, 0xdd); }

// ---- Gorilla sample counting (Appendix B): walks the bits, keeps nothing ----
class Bits {
 public:
  explicit Bits(const Bytes& b) : b_(b) {}
  bool take(unsigned n, std::uint64_t& v) {
    v = 0;
    if (pos_ + n > (b_.size() - 4) * 8) return false;
    for (unsigned i = 0; i < n; ++i, ++pos_)
      v = (v << 1) | ((b_[4 + pos_ / 8] >> (7 - pos_ % 8)) & 1u);
    return true;
  }

 private:
  const Bytes& b_;
  std::size_t pos_ = 0;
};

std::uint64_t gorilla_samples(const Bytes& block) {
  if (block.size() < 4) return 0;
  const std::uint64_t count =
      block[0] | (block[1] << 8) | (block[2] << 16) | (static_cast<std::uint64_t>(block[3]) << 24);
  Bits bits(block);
  std::uint64_t v = 0, n = 0;
  unsigned win_lz = 0, win_tz = 0;
  bool window = false;
  for (; n < count; ++n) {
    if (n == 0) {
      if (!bits.take(64, v) || !bits.take(64, v)) break;
      continue;
    }
    // timestamp: 0 | 10+7 | 110+9 | 1110+12 | 1111+64
    unsigned ones = 0;
    bool ok = true;
    while (ones < 4) {
      if (!bits.take(1, v)) {
        ok = false;
        break;
      }
      if (v == 0) break;
      ++ones;
    }
    static constexpr unsigned kWidth[] = {0, 7, 9, 12, 64};
    if (!ok || (kWidth[ones] > 0 && !bits.take(kWidth[ones], v))) break;
    // value: 0 | 1 0 meaningful | 1 1 lz(6) len-1(6) meaningful
    if (!bits.take(1, v)) break;
    if (v == 0) continue;
    if (!bits.take(1, v)) break;
    if (v == 0) {
      if (!window || !bits.take(64 - win_lz - win_tz, v)) break;
      continue;
    }
    std::uint64_t lz = 0, len = 0;
    if (!bits.take(6, lz) || !bits.take(6, len)) break;
    ++len;
    if (lz + len > 64 || !bits.take(static_cast<unsigned>(len), v)) break;
    window = true;
    win_lz = static_cast<unsigned>(lz);
    win_tz = static_cast<unsigned>(64 - lz - len);
  }
  return n;
}

// ---- HS256 JWT (Appendix C; RS256 not configured) ----
struct Identity {
  std::string error;  // empty: valid
  std::uint32_t tenant = 0;
  std::string user;
  std::int64_t exp = 0;
};

Identity verify_jwt(const std::string& token, const std::string& secret) {
  Identity id;
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string::npos || token.find('.', d2 + 1) != std::string::npos) {
    id.error = "malformed JWT token";
    return id;
  }
  const std::string p1 = token.substr(0, d1), p2 = token.substr(d1 + 1, d2 - d1 - 1),
                    p3 = token.substr(d2 + 1);
  const auto header = base64url_decode(p1);
  if (!header) return id.error = "JWT base64 decoding error", id;
  const auto h = nlohmann::json::parse(*header, nullptr, false);
  if (!h.is_object() || !h.contains("alg") || !h["alg"].is_string())
    return id.error = "invalid JWT claims", id;
  const auto body = base64url_decode(p2);
  if (!body) return id.error = "JWT base64 decoding error", id;
  const auto c = nlohmann::json::parse(*body, nullptr, false);
  auto typed = [&](const char* k, bool (nlohmann::json::*is)() const noexcept) {
    return !c.contains(k) || (c[k].*is)();
  };
  if (!c.is_object() || !c.contains("sub") || !c["sub"].is_string() ||
      !typed("tenant_id", &nlohmann::json::is_number_unsigned) ||
      !typed("exp", &nlohmann::json::is_number_integer) ||
      !typed("nbf", &nlohmann::json::is_number_integer) ||
      !typed("user_id", &nlohmann::json::is_number_unsigned))
    return id.error = "invalid JWT claims", id;
  const auto sig = base64url_decode(p3);
  if (!sig) return id.error = "JWT base64 decoding error", id;
  if (h["alg"] != "HS256" || secret.empty())
    return id.error = "JWT algorithm not supported or not configured", id;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned mac_len = 0;
  const std::string signed_part = p1 + "." + p2;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac,
       &mac_len);
  if (sig->size() != mac_len || std::memcmp(sig->data(), mac, mac_len) != 0)
    return id.error = "JWT signature verification failed", id;
  const std::int64_t now = unix_ms() / 1000;
  id.exp = c.value("exp", std::int64_t{0});
  const std::int64_t nbf = c.value("nbf", std::int64_t{0});
  if (id.exp > 0 && now > id.exp + 60) return id.error = "JWT token expired", id;
  if (nbf > 0 && now + 60 < nbf) return id.error = "JWT token not yet valid", id;
  id.tenant = c.value("tenant_id", std::uint32_t{0});
  id.user = c["sub"].get<std::string>();
  if (id.user.empty()) id.user = "jwt_user_" + std::to_string(c.value("user_id", 0ull));
  return id;
}

// ---- sessions and server state ----
struct Queued {  // a data frame waiting for its turn (THROTTLE-4)
  std::string shape_id, collection;
  Bytes frame;
};

struct Conn {
  int fd = -1;
  std::string session_id;
  FrameStream stream{DecodeLimits{kMaxBody}};
  Bytes out;  // encoded frames not yet written
  bool authed = false, dead = false;
  std::uint32_t tenant = 0;
  std::string user;
  std::int64_t exp = 0;                          // token exp, Unix s; 0 = never (TOKEN-9)
  std::map<std::uint64_t, std::uint64_t> dedup;  // peer_id -> highest accepted mutation_id
  std::map<std::string, std::string> shapes;     // shape_id -> collection ("" for Graph)
  std::map<std::string, std::uint64_t> clock;    // the session's server clock (VCLOCK-1)
  std::set<std::string> channels;                // presence channels it is a peer of
  std::uint64_t processed = 0;                   // accepted pushes + samples (TS-4)
  double bucket = 200;                           // RATE-1
  Clock::time_point bucket_at = Clock::now();
  bool throttled = false;
  std::uint64_t rate = 0;
  std::deque<Queued> data;             // data frames held by the throttle
  std::deque<Clock::time_point> sent;  // when the last data frames left (1-s window)
  std::vector<Bytes> held;             // acks held back by acks-out-of-order
  std::vector<Bytes> held_pongs;       // throttle-delays-pong only
  Clock::time_point held_since, last_seen = Clock::now();
};

struct Collection {
  std::uint64_t lsn = 0;
  std::map<std::string, Bytes> docs;
  std::uint64_t purge_lsn = 0;  // 0: not purged
};

struct Peer {
  std::string session_id, user;
  Bytes state;
  Clock::time_point at;
};

class Server {
 public:
  Server(Bug bug, std::string secret) : bug_(bug), secret_(std::move(secret)) {}

  std::list<Conn> conns;

  void on_bytes(Conn& c, std::span<const std::uint8_t> bytes) {
    c.last_seen = Clock::now();
    c.stream.feed(bytes);
    for (;;) {
      const StreamEvent ev = c.stream.next();
      if (ev.kind == StreamEvent::Kind::NeedMore) return;
      if (ev.kind == StreamEvent::Kind::Closed || ev.fatal) {
        c.dead = true;  // FRAME-9: nothing sensible follows a refused header
        return;
      }
      if (ev.kind == StreamEvent::Kind::Error) {  // unknown code: the stream skips it (FRAME-3)
        if (bug_ == Bug::CloseOnUnknownCode) c.dead = true;
        if (c.dead) return;
        continue;
      }
      const DecodedBody d = decode_body(ev.msg_type, ev.body);
      if (d.valid()) {
        handle(c, *d.message);
      } else if (bug_ == Bug::CloseOnBadBody) {
        c.dead = true;
        return;
      }  // else an undecodable body is ignored (FRAME-10)
    }
  }

  // Timers: held acks, throttle pacing, presence TTL.
  void tick(Conn& c) {
    if (!c.held.empty() &&
        (c.dead || c.held.size() >= 3 || Clock::now() - c.held_since >= kHoldAcks)) {
      for (auto it = c.held.rbegin(); it != c.held.rend(); ++it)
        c.out.insert(c.out.end(), it->begin(), it->end());
      c.held.clear();
    }
    pump(c);
  }
  bool waiting(const Conn& c) const { return !c.held.empty() || !c.data.empty(); }

  void sweep_presence() {
    const auto now = Clock::now();
    if (now - last_sweep_ < kPresenceSweep) return;
    last_sweep_ = now;
    for (auto ch = presence_.begin(); ch != presence_.end();) {
      const std::string& channel = ch->first.second;
      auto& peers = ch->second;
      for (auto it = peers.begin(); it != peers.end();) {
        if (now - it->second.at <= kPresenceTtl) {
          ++it;
          continue;
        }
        const std::string user = it->second.user;
        if (Conn* c = by_session(it->first)) c->channels.erase(channel);
        it = peers.erase(it);
        for (auto& [sid, p] : peers)
          if (Conn* o = by_session(sid)) send(*o, PresenceLeave{channel, user});
      }
      ch = peers.empty() ? presence_.erase(ch) : std::next(ch);  // no empty channels kept
    }
  }

  // SESSION-9 / PRES-5: forget the session, tell the channels it leaves.
  void closing(Conn& c) {
    for (const std::string& channel : c.channels) {
      auto& peers = presence_[{c.tenant, channel}];
      peers.erase(c.session_id);
      if (bug_ != Bug::PresenceNoLeave)
        for (auto& [sid, p] : peers)
          if (Conn* o = by_session(sid)) send(*o, PresenceLeave{channel, c.user});
      if (peers.empty()) presence_.erase({c.tenant, channel});
    }
    c.channels.clear();
  }

  std::uint64_t next_connection() { return ++accepted_; }

  // One admin line; the answer ends in a newline.
  std::string admin(const std::string& line) {
    std::istringstream in(line);
    std::string cmd, coll, a, b;
    std::uint32_t tenant = 0;
    in >> cmd >> tenant;
    if (!in) return "error usage: purge|write|define <tenant> ...\n";
    if (cmd == "purge" && in >> coll) return purge(tenant, coll);
    if (cmd == "write" && in >> coll >> a >> b) {
      Bytes value;
      if (b != "-") {
        if (b.size() % 2 != 0) return "error odd hex\n";
        for (std::size_t i = 0; i < b.size(); i += 2)
          value.push_back(static_cast<std::uint8_t>(std::stoul(b.substr(i, 2), nullptr, 16)));
      }
      Collection& col = colls_[{tenant, coll}];
      if (col.purge_lsn != 0) return "error collection purged\n";
      apply(tenant, coll, a, value, nullptr);
      return "ok\n";
    }
    std::string type, name, action, json;
    if (cmd == "define" && (in >> type >> name >> action)) {
      std::getline(in, json);
      json.erase(0, json.find_first_not_of(' '));
      if (action != "put" && action != "delete") return "error action put|delete\n";
      DefinitionSync d{type, name, action,
                       action == "put" ? Bytes(json.begin(), json.end()) : Bytes{}};
      if (action == "put")
        defs_[tenant][{type, name}] = d;
      else
        defs_[tenant].erase({type, name});
      for (Conn& o : conns)  // DEF-4: every session of the tenant
        if (o.authed && (o.tenant == tenant || bug_ == Bug::DefinitionsCrossTenant)) send(o, d);
      return "ok\n";
    }
    return "error unknown command\n";
  }

 private:
  void send(Conn& c, const Message& m) {
    if (bug_ == Bug::ThrottleDelaysPong && std::holds_alternative<PingPong>(m) && c.throttled &&
        c.held_pongs.size() < 64)
      return c.held_pongs.push_back(encode_frame(m));  // until the release
    append_frame(m, c.out);
  }

  // Data frames (ShapeDelta) go through the throttle queue (THROTTLE-4, -6).
  void queue_data(Conn& c, const std::string& shape, const std::string& coll, Bytes frame) {
    if (c.data.size() >= kMaxDataQueue) return;  // THROTTLE-6: the newest is dropped
    c.data.push_back(Queued{shape, coll, std::move(frame)});
    pump(c);
  }
  void pump(Conn& c) {
    const auto now = Clock::now();
    while (!c.sent.empty() && now - c.sent.front() >= Ms(1000)) c.sent.pop_front();
    while (!c.data.empty()) {
      const std::uint64_t limit = c.rate == 0 ? 100 : c.rate;
      if (c.throttled && bug_ != Bug::ThrottleIgnored && c.sent.size() >= limit) return;
      const Bytes& f = c.data.front().frame;
      c.out.insert(c.out.end(), f.begin(), f.end());
      c.data.pop_front();
      if (c.throttled) c.sent.push_back(now);
    }
  }
  void drop_queued(Conn& c, const std::string* shape, const std::string* coll) {
    std::erase_if(c.data, [&](const Queued& q) {
      return (shape && q.shape_id == *shape) || (coll && q.collection == *coll);
    });
  }

  Conn* by_session(const std::string& sid) {
    for (Conn& c : conns)
      if (c.session_id == sid && !c.dead) return &c;
    return nullptr;
  }

  void handle(Conn& c, const Message& m) {
    if (const auto* h = std::get_if<Handshake>(&m)) return handshake(c, *h);
    if (const auto* p = std::get_if<DeltaPush>(&m)) return push(c, *p);
    if (const auto* ping = std::get_if<PingPong>(&m)) {
      // PING-2; a Pong from the client needs no answer (PING-3).
      if (ping->is_pong || (bug_ == Bug::NoPong && c.authed)) return;
      return send(c,
                  PingPong{ping->timestamp_ms + (bug_ == Bug::PongWrongTimestamp ? 1 : 0), true});
    }
    if (const auto* ts = std::get_if<TimeseriesPush>(&m)) return timeseries(c, *ts);
    if (!c.authed) return;  // SESSION-6: before the handshake only Handshake and Ping count
    if (const auto* sub = std::get_if<ShapeSubscribe>(&m)) {
      std::string coll;
      if (const auto* d = std::get_if<shape_type::Document>(&sub->shape.shape_type))
        coll = d->collection;
      if (const auto* v = std::get_if<shape_type::Vector>(&sub->shape.shape_type))
        coll = v->collection;
      const std::string& id = sub->shape.shape_id;
      c.shapes[id] = coll;
      if (bug_ == Bug::DeltaBeforeSnapshot && !coll.empty()) {
        const Collection& col = colls_[{c.tenant, coll}];
        if (!col.docs.empty()) {
          const auto& [doc, value] = *col.docs.rbegin();
          send(c, ShapeDelta{id, coll, doc, "UPDATE", value, col.lsn});
        }
      }
      snapshot(c, id, coll);
    } else if (const auto* un = std::get_if<ShapeUnsubscribe>(&m)) {
      if (bug_ == Bug::UnsubscribeIgnored) return;
      c.shapes.erase(un->shape_id);  // SHAPE-6: no answer
      drop_queued(c, &un->shape_id, nullptr);
    } else if (const auto* rq = std::get_if<ResyncRequest>(&m)) {
      if (bug_ == Bug::ResyncCloses) {
        c.dead = true;
        return;
      }
      if (bug_ == Bug::ResyncIgnored) return;
      for (const auto& [id, coll] : c.shapes)  // RESYNC-8: fresh snapshots, in shape_id order
        if (rq->collection.empty() || rq->collection == coll) snapshot(c, id, coll);
    } else if (const auto* tr = std::get_if<TokenRefresh>(&m)) {
      refresh(c, *tr);
    } else if (const auto* vc = std::get_if<VectorClockSync>(&m)) {
      for (const auto& [k, v] : vc->clocks)
        c.clock[k] = bug_ == Bug::VclockNotMax ? v : std::max(c.clock[k], v);
      send(c, VectorClockSync{c.clock, 0});
    } else if (const auto* th = std::get_if<Throttle>(&m)) {
      if (!th->throttle && bug_ == Bug::ThrottleNeverReleased) return;
      c.throttled = th->throttle;
      c.rate = th->suggested_rate;
      if (!c.throttled)
        for (const Bytes& f : std::exchange(c.held_pongs, {}))
          c.out.insert(c.out.end(), f.begin(), f.end());
      c.sent.clear();
      pump(c);
    } else if (const auto* pu = std::get_if<PresenceUpdate>(&m)) {
      presence(c, *pu);
    }
    // Frames in the wrong direction: ignored (FRAME-11).
  }

  void handshake(Conn& c, const Handshake& h) {
    const unsigned v = h.wire_version == 0 ? 1 : h.wire_version;  // 0 is a legacy 1 (HS-3)
    HandshakeAck a{false,   c.session_id,
                   c.clock, std::nullopt,
                   false,   bug_ == Bug::WrongWireVersion ? std::uint16_t{3} : kWireVersion};
    Identity id;
    if (v > kWireVersion) {  // HS-4, checked before the token
      a.error = "incompatible wire version: version compatibility: remote wire version " +
                std::to_string(v) + " is newer than local 4; upgrade this node";
    } else {
      if (h.jwt_token.empty()) {
        id.user = "sync-client";  // AUTH-1: trust mode
      } else {
        id = verify_jwt(h.jwt_token, secret_);
      }
      if (!id.error.empty()) {
        a.error = id.error;
        a.server_clock.clear();  // HS-8
      } else if (!h.lite_id.empty() && h.epoch != 0 && forks_.count(h.lite_id) != 0 &&
                 h.epoch <= forks_[h.lite_id] && bug_ != Bug::ForkNotDetected) {
        a.error = "FORK_DETECTED: regenerate LiteId and reconnect";  // HS-9
        a.fork_detected = true;
        if (bug_ == Bug::ForkStaysAuthed) c.authed = true;
        return send(c, a);
      } else {
        if (!h.lite_id.empty() && h.epoch != 0)
          forks_[h.lite_id] = std::max(forks_[h.lite_id], h.epoch);
        a.success = true;
        if (bug_ == Bug::SuccessWithError) a.error = "ok";
      }
    }
    c.authed = a.success;  // a failed handshake leaves the session unauthenticated (HS-4)
    if (a.success) {
      c.tenant = id.tenant;
      c.user = id.user;
      c.exp = id.exp;
    }
    send(c, a);
    if (!a.success) return;
    for (const CollectionPurged& p : purges_[c.tenant]) send(c, p);  // PURGE-5
    for (const auto& [key, d] : defs_[c.tenant]) send(c, d);         // DEF-4
  }

  bool expired(const Conn& c) const {
    return c.exp > 0 && unix_ms() / 1000 > c.exp + 60 && bug_ != Bug::ExpiredTokenAccepted;
  }

  void refresh(Conn& c, const TokenRefresh& tr) {
    TokenRefreshAck a{false, std::nullopt, 0};
    const Identity id = tr.new_token.empty() ? Identity{"empty token", 0, "", 0}
                                             : verify_jwt(tr.new_token, secret_);
    if (!id.error.empty()) {
      a.error = id.error;
    } else if (id.tenant != c.tenant && bug_ != Bug::RefreshCrossTenant) {
      a.error = "tenant mismatch";  // TOKEN-1
    } else {
      a.success = true;
      c.tenant = id.tenant;
      c.user = id.user;
      c.exp = id.exp;
      const std::int64_t left = id.exp - unix_ms() / 1000;
      a.expires_in_secs =
          id.exp == 0 ? 3600 : static_cast<std::uint64_t>(std::max<std::int64_t>(0, left));
    }
    if (!a.success && bug_ == Bug::RefreshFailureWithExpiry) a.expires_in_secs = 3600;
    send(c, a);
  }

  // The validation order of §5.3.2 (no identity step, no write policies).
  void push(Conn& c, const DeltaPush& p) {
    DeltaReject rej{p.mutation_id, {}, std::nullopt};
    const std::uint32_t crc = crc32c(p.delta);
    if (!c.authed) {
      rej.reason = "not authenticated";
      rej.compensation = compensation::PermissionDenied{};
    } else if (expired(c)) {
      rej.reason = "token expired";  // TOKEN-9
      rej.compensation = compensation::PermissionDenied{};
    } else if (p.delta.empty() && bug_ != Bug::AcceptEmptyDelta) {
      rej.reason = "empty delta";
    } else if (p.checksum != 0 && crc != p.checksum && bug_ != Bug::AcceptBadChecksum) {
      char text[80];
      std::snprintf(text, sizeof text, "CRC32C mismatch: expected 0x%08x, computed 0x%08x",
                    p.checksum, crc);
      rej.reason = text;
      rej.compensation = compensation::IntegrityViolation{};
    }
    if (!rej.reason.empty()) return answer(c, encode_frame(rej));

    const auto seen = c.dedup.find(p.peer_id);
    const bool duplicate = seen != c.dedup.end() && p.mutation_id <= seen->second;
    if (duplicate) {  // step 4
      DeltaAck ack{p.mutation_id, 0, std::nullopt};
      if (bug_ == Bug::AckDuplicateWithLsn) ack.lsn = colls_[{c.tenant, p.collection}].lsn + 1;
      return answer(c, encode_frame(ack));
    }
    // step 6: the rate bucket (RATE-1, RATE-2: an empty bucket drops silently)
    const auto now = Clock::now();
    c.bucket =
        std::min(200.0, c.bucket + std::chrono::duration<double>(now - c.bucket_at).count() * 100);
    c.bucket_at = now;
    if (c.bucket < 1) return;
    c.bucket -= 1;
    Collection& col = colls_[{c.tenant, p.collection}];
    if (col.purge_lsn != 0 && bug_ != Bug::PushAfterPurgeAccepted) {  // PURGE-4
      c.dedup[p.peer_id] = p.mutation_id;
      return answer(
          c, encode_frame(DeltaReject{p.mutation_id, "collection purged",
                                      compensation::Custom{"collection_purged", p.collection}}));
    }
    c.dedup[p.peer_id] = p.mutation_id;  // step 8
    ++c.processed;
    std::optional<std::int64_t> skew;
    if (p.device_valid_time_ms) {
      const std::int64_t s = unix_ms() - *p.device_valid_time_ms;  // DELTA-15
      if (s > 86'400'000 || s < -86'400'000) skew = s;
    }
    // The ack leaves before the deltas it causes (its own session's included).
    const std::uint64_t lsn = next_lsn(col);
    answer(c, ack_frame(p.mutation_id, lsn, skew));
    deliver(c.tenant, p.collection, p.document_id, p.delta, lsn, &c);
  }

  std::uint64_t next_lsn(Collection& col) {
    ++col.lsn;
    if (bug_ == Bug::LsnBackwards && col.lsn == 4) col.lsn = 2;  // 1, 2, 3, 2, 3, ...
    return col.lsn;
  }

  Bytes ack_frame(std::uint64_t id, std::uint64_t lsn, std::optional<std::int64_t> skew) {
    if (bug_ != Bug::SkewUnsignedMarker || !skew || *skew < 128)
      return encode_frame(DeltaAck{id, lsn, skew});
    Bytes body{0x93};  // the skew with unsigned markers (what msgpack-cxx does for int64_t)
    mp_uint(body, id);
    mp_uint(body, lsn);
    mp_uint(body, static_cast<std::uint64_t>(*skew));
    Bytes f{0x11};
    for (int i = 0; i < 4; ++i) f.push_back(static_cast<std::uint8_t>(body.size() >> (8 * i)));
    f.insert(f.end(), body.begin(), body.end());
    return f;
  }

  void answer(Conn& c, Bytes frame) {
    if (bug_ != Bug::AcksOutOfOrder) {
      c.out.insert(c.out.end(), frame.begin(), frame.end());
      return;
    }
    if (c.held.empty()) c.held_since = Clock::now();
    c.held.push_back(std::move(frame));
  }

  // Applies a mutation (LSN already taken when from a push) and fans it out.
  void apply(std::uint32_t tenant, const std::string& coll, const std::string& doc,
             const Bytes& value, Conn* writer) {
    Collection& col = colls_[{tenant, coll}];
    deliver(tenant, coll, doc, value, next_lsn(col), writer);
  }
  void deliver(std::uint32_t tenant, const std::string& coll, const std::string& doc,
               const Bytes& value, std::uint64_t lsn, Conn* writer) {
    Collection& col = colls_[{tenant, coll}];
    const bool existed = col.docs.count(doc) != 0;
    const std::string op = value.empty() ? "DELETE" : existed ? "UPDATE" : "INSERT";
    if (value.empty())
      col.docs.erase(doc);
    else
      col.docs[doc] = value;
    for (Conn& o : conns) {
      if (!o.authed || o.dead || o.tenant != tenant) continue;  // SHAPE-8
      if (&o == writer && bug_ == Bug::NoEchoToWriter) continue;
      for (const auto& [id, sc] : o.shapes)
        if (sc == coll)
          queue_data(o, id, coll, encode_frame(ShapeDelta{id, coll, doc, op, value, lsn}));
    }
  }

  void snapshot(Conn& c, const std::string& id, const std::string& coll) {
    drop_queued(c, &id, nullptr);  // older deltas of the shape would fall at or below it
    // SHAPE-4: [[document_id, value], ...] sorted by document_id.
    Bytes data;
    std::uint64_t lsn = 0, n = 0;
    if (!coll.empty()) {
      const Collection& col = colls_[{c.tenant, coll}];
      lsn = col.lsn;
      n = col.docs.size();
      mp_array(data, col.docs.size());
      for (const auto& [doc, value] : col.docs) {
        mp_array(data, 2);
        mp_str(data, doc);
        mp_bin(data, value);
      }
    } else {
      mp_array(data, 0);
    }
    send(c, ShapeSnapshot{bug_ == Bug::SnapshotWrongId ? id + "-other" : id, data, lsn, n});
  }

  std::string purge(std::uint32_t tenant, const std::string& coll) {
    Collection& col = colls_[{tenant, coll}];
    if (col.purge_lsn != 0) return "error already purged\n";
    col.purge_lsn = bug_ == Bug::PurgeLsnStale ? col.lsn : ++col.lsn;  // PURGE-2
    col.docs.clear();
    const CollectionPurged notice{tenant, coll, col.purge_lsn};
    purges_[tenant].push_back(notice);
    for (Conn& o : conns) {
      if (!o.authed || o.dead) continue;
      if (o.tenant != tenant && bug_ != Bug::PurgeNoticeOtherTenants) continue;
      if (o.tenant == tenant) drop_queued(o, nullptr, &coll);  // PURGE-3, PURGE-4
      if (bug_ != Bug::PurgeNoNotice) send(o, notice);
    }
    return "ok\n";
  }

  void presence(Conn& c, const PresenceUpdate& u) {
    auto& peers = presence_[{c.tenant, u.channel}];
    const bool member = c.channels.count(u.channel) != 0;
    if (!member && (c.channels.size() >= 64 || peers.size() >= 1024)) return;  // PRES-4
    c.channels.insert(u.channel);
    const auto now = Clock::now();
    peers[c.session_id] = Peer{c.session_id, c.user, u.state, now};
    PresenceBroadcast b{u.channel, {}};
    for (const auto& [sid, p] : peers)  // session-id order (PRES-11)
      b.peers.push_back(PeerPresence{
          p.user, p.state,
          static_cast<std::uint64_t>(std::chrono::duration_cast<Ms>(now - p.at).count())});
    for (const auto& [sid, p] : peers) {
      if (sid == c.session_id && bug_ != Bug::PresenceEchoToSender) continue;  // PRES-2
      if (Conn* o = by_session(sid)) send(*o, b);
    }
  }

  void timeseries(Conn& c, const TimeseriesPush& ts) {
    TimeseriesAck a{ts.collection, 0, ts.sample_count, 0};  // TS-2
    if (c.authed && !expired(c)) {
      const std::uint64_t k = std::min(gorilla_samples(ts.ts_block), gorilla_samples(ts.val_block));
      if (k > 0) {  // TS-3, TS-4
        c.processed += k;
        a.accepted = bug_ == Bug::TsAckMiscount ? ts.sample_count : k;
        a.rejected = ts.sample_count > a.accepted ? ts.sample_count - a.accepted : 0;
        a.lsn = bug_ == Bug::TsLsnZero ? 0 : c.processed;
      }
    }
    send(c, a);  // TS-5
  }

  Bug bug_;
  std::string secret_;
  std::uint64_t accepted_ = 0;
  std::map<std::pair<std::uint32_t, std::string>, Collection> colls_;
  std::map<std::string, std::uint64_t> forks_;  // lite_id -> highest accepted epoch (HS-9)
  std::map<std::uint32_t, std::vector<CollectionPurged>> purges_;
  std::map<std::uint32_t, std::map<std::pair<std::string, std::string>, DefinitionSync>> defs_;
  // (tenant, channel) -> session -> peer: channels never cross tenants (PRES-7)
  std::map<std::pair<std::uint32_t, std::string>, std::map<std::string, Peer>> presence_;
  Clock::time_point last_sweep_ = Clock::now();
};

// Writes what the socket takes now; the rest waits for POLLOUT.
void flush(int fd, Bytes& out, bool& dead) {
  while (!out.empty()) {
    const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    if (n <= 0) {
      dead = true;
      break;
    }
    out.erase(out.begin(), out.begin() + n);
  }
  if (out.size() > kMaxOutbox) dead = true;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "faulty_server: %s\nusage: faulty_server --port N [--bug NAME] [--port-file PATH] "
               "[--jwt-secret S] [--admin-port N] [--admin-port-file PATH]\nbugs:",
               why);
  for (const auto& b : kBugs) std::fprintf(stderr, " %s", b.name);
  std::fprintf(stderr, "\n");
  return 2;
}

int listen_on(long port, unsigned& actual) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, 16) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return -1;
  actual = ntohs(addr.sin_port);
  return fd;
}

bool write_port_file(const std::string& path, unsigned port) {
  if (path.empty()) return true;
  const std::string tmp = path + ".tmp";  // written whole, then renamed
  FILE* f = std::fopen(tmp.c_str(), "w");
  return f && std::fprintf(f, "%u\n", port) >= 0 && std::fclose(f) == 0 &&
         std::rename(tmp.c_str(), path.c_str()) == 0;
}

struct AdminConn {
  int fd;
  std::string in;
  Bytes out;
  bool dead = false;
};

int run(int argc, char** argv) {
  long port = -1, admin_port = -1;
  Bug bug = Bug::None;
  std::string port_file, admin_port_file, secret;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--list-bugs") {  // name, rule broken, family: one defect a line
      for (const auto& b : kBugs)
        if (b.bug != Bug::None) std::printf("%s %s %s\n", b.name, b.rule, b.family);
      return 0;
    }
    if (i + 1 >= argc) return usage(("missing value after " + arg).c_str());
    const char* value = argv[++i];
    auto number = [&](long& out) {
      char* end = nullptr;
      out = std::strtol(value, &end, 10);
      return *value != '\0' && *end == '\0' && out >= 0 && out <= 65535;
    };
    if (arg == "--port") {
      if (!number(port)) return usage("bad --port");
    } else if (arg == "--admin-port") {
      if (!number(admin_port)) return usage("bad --admin-port");
    } else if (arg == "--bug") {
      const auto* b = std::find_if(std::begin(kBugs), std::end(kBugs), [&](const BugName& x) {
        return std::strcmp(x.name, value) == 0;
      });
      if (b == std::end(kBugs))
        return usage(("unknown bug \"" + std::string(value) + "\"").c_str());
      bug = b->bug;
    } else if (arg == "--port-file") {
      port_file = value;
    } else if (arg == "--admin-port-file") {
      admin_port_file = value;
    } else if (arg == "--jwt-secret") {
      secret = value;
    } else {
      return usage(("unknown option " + arg).c_str());
    }
  }
  if (port < 0) return usage("--port is required");

  unsigned actual = 0, admin_actual = 0;
  const int lfd = listen_on(port, actual);
  const int afd = admin_port < 0 ? -2 : listen_on(admin_port, admin_actual);
  if (lfd < 0 || afd == -1) {
    std::perror("faulty_server: listen");
    return 1;
  }
  if (!write_port_file(admin_port_file, admin_actual) || !write_port_file(port_file, actual)) {
    std::perror("faulty_server: port file");
    return 1;
  }
  std::printf("%u\n", actual);
  std::fflush(stdout);

  Server server(bug, secret);
  std::list<Conn>& conns = server.conns;
  std::list<AdminConn> admins;
  std::vector<pollfd> fds;
  std::vector<std::uint8_t> buf(64 * 1024);
  for (;;) {
    fds.assign(1, pollfd{lfd, POLLIN, 0});
    fds.push_back(pollfd{afd >= 0 ? afd : -1, POLLIN, 0});
    bool waiting = false;
    for (const Conn& c : conns) {
      fds.push_back(pollfd{c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
      waiting = waiting || server.waiting(c);
    }
    for (const AdminConn& a : admins)
      fds.push_back(pollfd{a.fd, static_cast<short>(POLLIN | (a.out.empty() ? 0 : POLLOUT)), 0});
    if (::poll(fds.data(), fds.size(), waiting ? 10 : 500) < 0 && errno != EINTR) {
      std::perror("faulty_server: poll");
      return 1;
    }
    std::size_t i = 2;  // conns, then admins, in fds order
    for (Conn& c : conns) {
      const short ev = fds[i++].revents;
      if (ev & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = ::read(c.fd, buf.data(), buf.size());
        if (n > 0) {
          server.on_bytes(c,
                          std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          c.dead = true;  // end of stream (mid-frame: a FRAME-8 truncation) or an error
        }
      }
      if (Clock::now() - c.last_seen > kIdleTimeout) c.dead = true;
    }
    for (AdminConn& a : admins) {
      const short ev = fds[i++].revents;
      if (ev & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = ::read(a.fd, buf.data(), buf.size());
        if (n > 0) {
          a.in.append(reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          a.dead = true;
        }
      }
      for (std::size_t nl; (nl = a.in.find('\n')) != std::string::npos;) {
        std::string line = a.in.substr(0, nl);
        a.in.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        const std::string reply = server.admin(line);
        a.out.insert(a.out.end(), reply.begin(), reply.end());
      }
      if (a.in.size() > kMaxAdminLine) a.dead = true;
      flush(a.fd, a.out, a.dead);
    }
    server.sweep_presence();
    for (Conn& c : conns) {
      server.tick(c);
      flush(c.fd, c.out, c.dead);
    }
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->dead) {
        server.closing(*it);  // its leaves are written to the others next round
        ::close(it->fd);
      }
      it = it->dead ? conns.erase(it) : std::next(it);
    }
    for (auto it = admins.begin(); it != admins.end();) {
      if (it->dead) ::close(it->fd);
      it = it->dead ? admins.erase(it) : std::next(it);
    }
    if (fds[1].revents & POLLIN) {
      const int fd = ::accept4(afd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0 && admins.size() >= 8) {
        ::close(fd);
      } else if (fd >= 0) {
        admins.push_back(AdminConn{fd, {}, {}, false});
      }
    }
    if (fds[0].revents & POLLIN) {
      sockaddr_in peer{};
      socklen_t plen = sizeof peer;
      const int fd =
          ::accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0 && conns.size() >= kMaxConns) {
        ::close(fd);  // full: closed at once, without a frame (SESSION-2)
      } else if (fd >= 0) {
        Conn& c = conns.emplace_back();
        c.fd = fd;
        // SESSION-1: Origin's form, sync-<peer ip>:<peer port>-<n>.
        char ip[INET_ADDRSTRLEN] = "?";
        ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        c.session_id = "sync-" + std::string(ip) + ":" + std::to_string(ntohs(peer.sin_port)) +
                       "-" + std::to_string(server.next_connection());
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a vanished client is a failed write, not a death
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "faulty_server: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "faulty_server: unknown error\n");
  }
  return 1;
}
