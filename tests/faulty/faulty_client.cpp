// A deliberately simple sync client over raw TCP (PROTOCOL.md §2.4) with one
// defect chosen by --bug, for proving what `syncsim check --client --exec`
// catches. Written apart from the reference client: it shares only the
// protocol library (codec, frame stream, CRC32C, base64url).
//
// It runs the session `check --client` starts it for: connect to
// $SYNCSIM_TARGET (tcp:// only), Handshake with $SYNCSIM_TOKEN (empty: trust
// mode), Ping at once and every 30 s, subscribe to one shape, push --writes
// mutations (one every --write-every-ms, on a 100-ms push tick, at most 64 in
// flight, resent after 2 s unanswered), apply ShapeDeltas at --apply-rate a
// second from a backlog (Throttle on at 1000, off at 250), ResyncRequest on
// the first sequence gap, answer Pings, refresh its token at 80 % of its
// lifetime and after a PermissionDenied reject (minting with
// $SYNCSIM_JWT_SECRET), wait retry_after_ms on RateLimited, and on
// CollectionPurged drop the collection's data and pending mutations and end
// its shapes. A refused handshake closes the connection; it reconnects after
// the backoff of CONN-1. It exits after --duration s (0: never).
//
// With SYNCSIM_DRIVER=1 (`syncsim run --client-exec --client-driver
// write,apply-rate,resubscribe,unsubscribe`) it takes the stdin driver
// contract v1 (docs/live.md): the application's writes come from `write`
// lines instead of --writes, `apply-rate` sets --apply-rate, `resubscribe`
// subscribes again, `unsubscribe` ends a collection's shapes, `quit` or the
// end of stdin ends it.
//
// Left out: WebSocket, fork-id regeneration (each run is a new instance with
// a new lite_id), timeseries and presence, persistence, deletes.
//
// Usage: faulty_client --list-bugs   (name, rule, family per line)
//        faulty_client [--bug NAME] [--collection C] [--writes N]
//          [--write-every-ms MS] [--apply-rate N] [--duration S]
#include <fcntl.h>
#include <netdb.h>
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
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "protocol/base64url.hpp"
#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/frame_stream.hpp"

using namespace syncsim::protocol;

namespace {

// Each defect breaks one rule, named beside it.
#define FAULTY_CLIENT_BUGS(X)                                                                      \
  X(ReusedMutationIds, "reused-mutation-ids", "DELTA-1",                                           \
    "deltas")                                             /* DELTA-1: every push is mutation 1 */  \
  X(EmptyDelta, "empty-delta", "DELTA-1", "deltas")       /* DELTA-1: deltas are empty */          \
  X(WrongChecksum, "wrong-checksum", "DELTA-2", "deltas") /* DELTA-2: CRC of other bytes */        \
  X(ResendAcked, "resend-acked", "DELTA-12", "deltas") /* DELTA-12: acked mutations sent again */  \
  X(AckServerPush, "ack-server-push", "DELTA-18",                                                  \
    "deltas") /* DELTA-18: answers a server DeltaPush */                                           \
  X(NoResyncOnGap, "no-resync-on-gap", "RESYNC-2", "resync") /* RESYNC-2: gaps go unreported */    \
  X(ResyncOnEveryDelta, "resync-on-every-delta", "RESYNC-4",                                       \
    "resync") /* RESYNC-4: in-order deltas re-sync */                                              \
  X(NeverThrottle, "never-throttle", "THROTTLE-2",                                                 \
    "throttle") /* THROTTLE-2: no Throttle on backlog */                                           \
  X(NeverReleaseThrottle, "never-release-throttle", "THROTTLE-2",                                  \
    "throttle") /* THROTTLE-2: no Throttle{false} */                                               \
  X(IgnoresRetryAfter, "ignores-retry-after", "DELTA-14",                                          \
    "deltas")                                           /* DELTA-14: RateLimited resent at once */ \
  X(PushToPurged, "push-to-purged", "PURGE-7", "purge") /* PURGE-7: pushes a purged collection */  \
  X(CloseOnRepeatedPurge, "close-on-repeated-purge", "PURGE-8",                                    \
    "purge")                                        /* PURGE-8: a second purge closes */           \
  X(NoPong, "no-pong", "PING-5", "ping")            /* PING-5: server Pings unanswered */          \
  X(NoFirstPing, "no-first-ping", "PING-1", "ping") /* PING-1: no Ping after the handshake */      \
  X(PushBeforeAck, "push-before-ack", "HS-1",                                                      \
    "handshake") /* HS-1: frames before the HandshakeAck */                                        \
  X(TalksAfterRefusal, "talks-after-refusal", "HS-13",                                             \
    "handshake") /* HS-13: keeps sending after a refusal */                                        \
  X(NoRefreshOnDenied, "no-refresh-on-denied", "TOKEN-6",                                          \
    "tokens") /* TOKEN-6: PermissionDenied, no refresh */                                          \
  X(NoProactiveRefresh, "no-proactive-refresh", "TOKEN-10",                                        \
    "tokens") /* TOKEN-10: lets its token expire */                                                \
  X(EmptyShapeId, "empty-shape-id", "SHAPE-1",                                                     \
    "shapes") /* SHAPE-1: subscribes with shape_id "" */                                           \
  X(CloseOnUnknownCode, "close-on-unknown-code", "FRAME-3",                                        \
    "framing") /* FRAME-3: an unknown code closes */                                               \
  X(PingBeforeHandshake, "ping-before-handshake", "HS-1",                                          \
    "handshake") /* HS-1: a Ping is the first frame */                                             \
  X(CloseOnBadBody, "close-on-bad-body", "FRAME-10",                                               \
    "framing") /* FRAME-10: an undecodable body closes */

enum class Bug {
  None,
#define X(id, name, rule, family) id,
  FAULTY_CLIENT_BUGS(X)
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
                             FAULTY_CLIENT_BUGS(X)
#undef X
};

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;
constexpr std::size_t kMaxInFlight = 64;         // FLOW-1
constexpr std::size_t kMaxBacklog = 20000;       // received, not yet applied
constexpr std::size_t kHigh = 1000, kLow = 250;  // THROTTLE-2 watermarks
constexpr auto kResend = Ms(2000);               // FLOW-3
constexpr auto kPingEvery = std::chrono::seconds(30);

std::int64_t unix_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t unix_ms() {
  return std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A fresh HS256 token with the claims of `token`, exp = now + lifetime.
std::string mint_like(const std::string& token, const std::string& secret, std::int64_t lifetime) {
  const auto d1 = token.find('.'), d2 = token.find('.', d1 + 1);
  nlohmann::json claims = nlohmann::json::object();
  if (d1 != std::string::npos && d2 != std::string::npos) {
    if (auto body = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1))) {
      auto parsed = nlohmann::json::parse(*body, nullptr, false);
      if (parsed.is_object()) claims = parsed;
    }
  }
  if (!claims.contains("sub")) claims["sub"] = "faulty-client";
  claims["exp"] = unix_s() + lifetime;
  const std::string signed_part =
      base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac, &len);
  return signed_part + "." +
         base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::int64_t token_exp(const std::string& token) {
  const auto claims = peek_token_claims(token);
  return claims ? claims->exp : 0;
}

struct Options {
  Bug bug = Bug::None;
  std::string collection = "orders";
  long writes = 2000, write_every_ms = 5, apply_rate = 200, duration_s = 0;
};

struct Mutation {
  std::uint64_t id;
  std::string collection, doc;
  Bytes delta;
  Clock::time_point sent{};  // epoch: not in flight
  bool in_flight = false;
};

class Client {
 public:
  Client(Options o, std::string host, std::string port)
      : o_(std::move(o)), host_(std::move(host)), port_(std::move(port)) {
    token_ = env("SYNCSIM_TOKEN");
    secret_ = env("SYNCSIM_JWT_SECRET");
    const std::int64_t exp = token_exp(token_);
    lifetime_ = exp > 0 ? std::max<std::int64_t>(1, exp - unix_s()) : 0;
    token_set_ = Clock::now();
    std::mt19937_64 rng(std::random_device{}());
    peer_id_ = rng();
    char id[40];
    std::snprintf(id, sizeof id, "%08llx-%04llx-7%03llx-8%03llx-%012llx",
                  static_cast<unsigned long long>(rng() & 0xffffffffu),
                  static_cast<unsigned long long>(rng() & 0xffffu),
                  static_cast<unsigned long long>(rng() & 0xfffu),
                  static_cast<unsigned long long>(rng() & 0xfffu),
                  static_cast<unsigned long long>(rng() & 0xffffffffffffull));
    lite_id_ = id;
    // `run --client-exec` names the scenario's collections (docs/live.md);
    // shape ids "<collection>-all", as the scenarios' expectations name them.
    const std::string listed = env("SYNCSIM_SHAPES");
    for (std::size_t at = 0; at < listed.size();) {
      const auto comma = std::min(listed.find(',', at), listed.size());
      if (comma > at)
        shapes_[listed.substr(at, comma - at) + "-all"] = listed.substr(at, comma - at);
      at = comma + 1;
    }
    if (shapes_.empty()) shapes_["faulty-shape"] = o_.collection;
    driver_ = env("SYNCSIM_DRIVER") == "1";
    if (driver_) {
      o_.writes = 0;  // the application's writes come from the driver
      ::fcntl(0, F_SETFL, ::fcntl(0, F_GETFL) | O_NONBLOCK);
    }
  }

  int run() {
    const auto end = o_.duration_s > 0 ? Clock::now() + std::chrono::seconds(o_.duration_s)
                                       : Clock::time_point::max();
    long attempt = 0;
    for (int sessions = 0; Clock::now() < end && sessions < 1000 && !quit_; ++sessions) {
      const bool clean = session(end);
      if (Clock::now() >= end || quit_) break;
      // CONN-1: min(1000 * 2^a, 60000) ms, which also keeps CONN-4's 1 s.
      const long wait = std::min(60000L, 1000L << std::min(attempt, 6L));
      attempt = clean ? 0 : attempt + 1;
      const auto until = Clock::now() + Ms(wait);
      while (Clock::now() < until && !quit_) {  // the driver is read meanwhile
        pollfd p{driver_ ? 0 : -1, POLLIN, 0};
        ::poll(&p, 1, 50);
        if (p.revents) read_driver();
      }
    }
    return driver_error_ ? 2 : 0;
  }

 private:
  static std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
  }

  // One connection, from connect to close. True when it ended after a
  // successful handshake.
  bool session(Clock::time_point end) {
    fd_ = connect_to();
    if (fd_ < 0) return false;
    reset_connection();
    Handshake h;
    h.jwt_token = token_;
    h.client_version = "faulty-client/0.2";
    h.lite_id = lite_id_;
    h.epoch = ++epoch_;  // HS-12: above every earlier one of this lite_id
    h.wire_version = 1;  // HS-3
    for (const auto& [id, coll] : shapes_) h.subscribed_shapes.push_back(id);
    if (o_.bug == Bug::PingBeforeHandshake)
      send(PingPong{static_cast<std::uint64_t>(unix_ms()), false});
    send(h);
    if (o_.bug == Bug::PushBeforeAck) {
      subscribe();
      send(PingPong{static_cast<std::uint64_t>(unix_ms()), false});
    }
    std::vector<std::uint8_t> buf(64 * 1024);
    const auto handshake_deadline = Clock::now() + std::chrono::seconds(10);  // HS-14
    while (!closed_ && Clock::now() < end && !quit_) {
      if (!authed_ && Clock::now() > handshake_deadline) break;
      pollfd ps[2] = {{fd_, static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0},
                      {driver_ ? 0 : -1, POLLIN, 0}};
      if (::poll(ps, 2, 10) < 0 && errno != EINTR) break;
      if (ps[1].revents) read_driver();
      const pollfd& p = ps[0];
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = ::read(fd_, buf.data(), buf.size());
        if (n > 0) {
          on_bytes(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          closed_ = true;
        }
      }
      if (authed_ && !closed_) timers();
      flush();
    }
    flush();
    ::close(fd_);
    fd_ = -1;
    return authed_;
  }

  // The driver contract v1 (docs/live.md): whole lines from stdin, each
  // at most 4096 bytes; quit or the end of stdin ends the run.
  void read_driver() {
    char chunk[4096];
    const ssize_t n = ::read(0, chunk, sizeof chunk);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      driver_ = false;
      quit_ = true;
      return;
    }
    if (n < 0) return;
    driver_in_.append(chunk, static_cast<std::size_t>(n));
    for (auto nl = driver_in_.find('\n'); nl != std::string::npos; nl = driver_in_.find('\n')) {
      driver_line(driver_in_.substr(0, nl));
      driver_in_.erase(0, nl + 1);
    }
    if (driver_in_.size() > 4096) driver_fail("a line over 4096 bytes");
  }

  void driver_fail(const std::string& why) {
    std::fprintf(stderr, "faulty_client: driver: %s\n", why.c_str());
    driver_error_ = quit_ = true;
  }

  void driver_line(const std::string& line) {
    std::vector<std::string> w;
    for (std::size_t at = 0; at <= line.size();) {
      const auto sp = std::min(line.find(' ', at), line.size());
      w.push_back(line.substr(at, sp - at));
      at = sp + 1;
    }
    if (w[0] == "hello") {
      if (w.size() != 2 || w[1] != "1") driver_fail("unknown contract version: " + line);
    } else if (w[0] == "write" && w.size() == 4) {
      driver_write(w[1], w[2], w[3]);
    } else if (w[0] == "apply-rate" && w.size() == 2) {
      o_.apply_rate = std::max(1L, std::atol(w[1].c_str()));
      if (w[1] == "0") o_.apply_rate = 1000000;  // at once
    } else if (w[0] == "resubscribe") {
      if (authed_) subscribe();
    } else if (w[0] == "unsubscribe" && w.size() == 2) {
      for (auto s = shapes_.begin(); s != shapes_.end();) {  // SHAPE-6: for good
        if (s->second != w[1]) {
          ++s;
          continue;
        }
        if (authed_) send(ShapeUnsubscribe{s->first});
        seq_.erase(s->first);
        s = shapes_.erase(s);
      }
    } else if (w[0] == "quit") {
      quit_ = true;
    } else {
      driver_fail("a line it does not take: " + line);
    }
  }

  void driver_write(const std::string& coll, const std::string& doc, const std::string& hex) {
    if (hex == "-") return;  // deletes are left out
    Bytes value;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
      value.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    if (stopped_.count(coll) || pending_.size() >= 10000) return;
    if (o_.bug == Bug::EmptyDelta) value.clear();
    pending_.push_back(
        Mutation{o_.bug == Bug::ReusedMutationIds ? 1 : ++mutation_id_, coll, doc, value});
  }

  int connect_to() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res) != 0 || !res) return -1;
    int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
    ::freeaddrinfo(res);
    return fd;
  }

  // CONN-2: per-connection state starts again; pending mutations stay.
  void reset_connection() {
    stream_ = FrameStream{};
    out_.clear();
    authed_ = refused_ = closed_ = false;
    throttled_ = resync_sent_ = refreshing_ = paused_ = false;
    seq_.clear();
    backlog_.clear();
    for (auto& m : pending_) m.in_flight = false;
  }

  void send(const Message& m) { append_frame(m, out_); }
  void flush() {
    while (!out_.empty() && fd_ >= 0) {
      const ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
      if (n <= 0) {
        closed_ = true;
        out_.clear();
        break;
      }
      out_.erase(out_.begin(), out_.begin() + n);
    }
  }

  void on_bytes(std::span<const std::uint8_t> bytes) {
    stream_.feed(bytes);
    for (;;) {
      const StreamEvent ev = stream_.next();
      if (ev.kind == StreamEvent::Kind::NeedMore) return;
      if (ev.kind == StreamEvent::Kind::Closed || ev.fatal) {
        closed_ = true;
        return;
      }
      if (ev.kind == StreamEvent::Kind::Error) {  // an unknown code is skipped (FRAME-3)
        if (o_.bug == Bug::CloseOnUnknownCode && authed_) closed_ = true;
        if (closed_) return;
        continue;
      }
      const DecodedBody d = decode_body(ev.msg_type, ev.body);
      if (d.valid()) {
        handle(*d.message);
      } else if (o_.bug == Bug::CloseOnBadBody && authed_) {
        closed_ = true;  // FRAME-10 asks that an undecodable body be ignored
      }
      if (closed_) return;
    }
  }

  void subscribe() {
    for (const auto& [id, coll] : shapes_) {  // SHAPE-14: every active shape again
      ShapeSubscribe s;
      s.shape.shape_id = o_.bug == Bug::EmptyShapeId ? "" : id;
      s.shape.shape_type = shape_type::Document{coll, {}};
      send(s);
    }
  }

  void handle(const Message& m) {
    if (refused_) return;
    if (const auto* a = std::get_if<HandshakeAck>(&m)) {
      if (!a->success) {  // HS-13: nothing more; close and reconnect later
        refused_ = true;
        // An expired token: the next attempt takes a fresh one (TOKEN-10).
        if (a->error && a->error->find("expired") != std::string::npos && !secret_.empty()) {
          token_ = mint_like(token_, secret_, lifetime_ > 0 ? lifetime_ : 3600);
          token_set_ = Clock::now();
        }
        if (o_.bug == Bug::TalksAfterRefusal) {
          send(PingPong{static_cast<std::uint64_t>(unix_ms()), false});
          subscribe();
          refused_ = false;
          return;
        }
        closed_ = true;
        return;
      }
      authed_ = true;
      if (o_.bug != Bug::NoFirstPing) send(PingPong{static_cast<std::uint64_t>(unix_ms()), false});
      next_ping_ = Clock::now() + kPingEvery;  // PING-1
      if (o_.bug != Bug::PushBeforeAck) subscribe();
      return;
    }
    if (!authed_) return;
    if (const auto* p = std::get_if<PingPong>(&m)) {
      if (!p->is_pong && o_.bug != Bug::NoPong) send(PingPong{p->timestamp_ms, true});  // PING-5
      return;
    }
    if (const auto* s = std::get_if<ShapeSnapshot>(&m)) {
      seq_[s->shape_id] = std::max(seq_[s->shape_id], s->snapshot_lsn);  // SHAPE-11, RESYNC-3
      applied_snapshots_++;
      return;
    }
    if (const auto* d = std::get_if<ShapeDelta>(&m)) return on_delta(*d);
    if (const auto* a = std::get_if<DeltaAck>(&m)) {
      if (o_.bug == Bug::ResendAcked) {  // acknowledged, but sent again on the next tick
        for (auto& p : pending_)
          if (p.id == a->mutation_id) p.in_flight = false;
        return;
      }
      std::erase_if(pending_, [&](const Mutation& p) { return p.id == a->mutation_id; });
      return;
    }
    if (const auto* r = std::get_if<DeltaReject>(&m)) return on_reject(*r);
    if (const auto* t = std::get_if<TokenRefreshAck>(&m)) {
      refreshing_ = false;
      if (t->success) {
        token_ = next_token_;  // TOKEN-8
        token_set_ = Clock::now();
        if (t->expires_in_secs > 0) lifetime_ = static_cast<std::int64_t>(t->expires_in_secs);
        paused_ = false;
      } else {
        refresh_after_ = Clock::now() + Ms(1000);  // TOKEN-7
      }
      return;
    }
    if (const auto* p = std::get_if<CollectionPurged>(&m)) return on_purge(*p);
    if (const auto* p = std::get_if<DeltaPush>(&m)) {
      // DELTA-18: tolerated, never answered; applied only when its CRC is right.
      if (o_.bug == Bug::AckServerPush) send(DeltaAck{p->mutation_id, 0, std::nullopt});
      return;
    }
    if (const auto* d = std::get_if<DefinitionSync>(&m)) {  // DEF-2, DEF-3
      if (d->action == "put")
        definitions_[{d->definition_type, d->name}] = d->payload;
      else if (d->action == "delete")
        definitions_.erase({d->definition_type, d->name});
      return;
    }
    // VectorClockSync, presence, TimeseriesAck, Throttle and ResyncRequest from
    // the server: nothing to do (VCLOCK-4, THROTTLE-1, RESYNC-9 has no unacked
    // mutations to add beyond those the push tick resends anyway).
  }

  void on_delta(const ShapeDelta& d) {
    const auto purged = purged_.find(d.collection);
    if (purged != purged_.end() && d.lsn <= purged->second) return;  // PURGE-7
    const auto t = seq_.find(d.shape_id);
    const bool gap = t != seq_.end() && d.lsn > t->second + 1;  // RESYNC-2, RESYNC-4
    if (o_.bug == Bug::ResyncOnEveryDelta ||
        (gap && !resync_sent_ && o_.bug != Bug::NoResyncOnGap)) {
      const std::uint64_t expected = t == seq_.end() ? d.lsn : t->second + 1;
      send(ResyncRequest{resync_reason::SequenceGap{expected, d.lsn}, expected, ""});
      resync_sent_ = true;
    }
    if (t == seq_.end() || d.lsn > t->second) seq_[d.shape_id] = d.lsn;
    if (backlog_.size() < kMaxBacklog) backlog_.push_back(d);
    throttle_check();
  }

  void throttle_check() {
    const std::size_t depth = backlog_.size();
    if (!throttled_ && depth >= kHigh && o_.bug != Bug::NeverThrottle) {
      send(Throttle{true, depth, static_cast<std::uint64_t>(o_.apply_rate)});
      throttled_ = true;
    } else if (throttled_ && depth <= kLow && o_.bug != Bug::NeverReleaseThrottle) {
      send(Throttle{false, depth, 0});
      throttled_ = false;
    }
  }

  void on_reject(const DeltaReject& r) {
    auto it = std::find_if(pending_.begin(), pending_.end(),
                           [&](const Mutation& p) { return p.id == r.mutation_id; });
    if (it == pending_.end()) return;
    const auto* hint = r.compensation ? &*r.compensation : nullptr;
    if (hint && std::holds_alternative<compensation::PermissionDenied>(*hint) && !secret_.empty() &&
        o_.bug != Bug::NoRefreshOnDenied) {
      it->in_flight = false;  // TOKEN-6: stop, refresh, resume after success
      paused_ = true;
      refresh();
      return;
    }
    if (hint && std::holds_alternative<compensation::IntegrityViolation>(*hint)) {
      it->in_flight = false;  // sent again with a fresh checksum
      return;
    }
    if (hint && std::holds_alternative<compensation::RateLimited>(*hint)) {
      it->in_flight = false;
      if (o_.bug != Bug::IgnoresRetryAfter)
        hold_until_ = Clock::now() + Ms(std::get<compensation::RateLimited>(*hint).retry_after_ms);
      return;
    }
    pending_.erase(it);  // DELTA-14: rolled back
  }

  void on_purge(const CollectionPurged& p) {
    auto [it, fresh] = purged_.try_emplace(p.name, p.purge_lsn);
    if (!fresh && p.purge_lsn <= it->second) {  // PURGE-8: nothing changes
      if (o_.bug == Bug::CloseOnRepeatedPurge) closed_ = true;
      return;
    }
    it->second = p.purge_lsn;
    if (o_.bug != Bug::PushToPurged)  // PURGE-6: pending mutations of it are discarded
      std::erase_if(pending_, [&](const Mutation& m) { return m.collection == p.name; });
    std::erase_if(backlog_, [&](const ShapeDelta& d) { return d.collection == p.name; });
    for (auto s = shapes_.begin(); s != shapes_.end();) {
      if (s->second != p.name) {
        ++s;
        continue;
      }
      send(ShapeUnsubscribe{s->first});
      seq_.erase(s->first);
      s = shapes_.erase(s);
    }
    if (o_.bug != Bug::PushToPurged) stopped_.insert(p.name);
  }

  void refresh() {
    if (refreshing_ || secret_.empty() || Clock::now() < refresh_after_) return;
    next_token_ = mint_like(token_, secret_, lifetime_ > 0 ? lifetime_ : 3600);
    send(TokenRefresh{next_token_});
    refreshing_ = true;
  }

  void timers() {
    const auto now = Clock::now();
    if (now >= next_ping_) {
      send(PingPong{static_cast<std::uint64_t>(unix_ms()), false});
      next_ping_ = now + kPingEvery;
    }
    // TOKEN-5: at 80 % of the token's lifetime, checked every 250 ms.
    if (lifetime_ > 0 && o_.bug != Bug::NoProactiveRefresh && now >= next_refresh_check_) {
      next_refresh_check_ = now + Ms(250);
      if (now - token_set_ >= Ms(lifetime_ * 800)) refresh();
    }
    if (paused_ && !refreshing_) refresh();
    // Apply the backlog at apply_rate a second.
    const auto step = Ms(std::max(1L, 1000 / std::max(1L, o_.apply_rate)));
    if (last_apply_ == Clock::time_point{}) last_apply_ = now;
    while (!backlog_.empty() && now - last_apply_ >= step) {
      const ShapeDelta& d = backlog_.front();
      if (d.operation == "DELETE")
        docs_.erase({d.collection, d.document_id});
      else
        docs_[{d.collection, d.document_id}] = d.delta;
      backlog_.pop_front();
      last_apply_ += step;
    }
    if (backlog_.empty()) last_apply_ = now;
    throttle_check();
    // New local writes.
    while (written_ < o_.writes && now >= next_write_ && pending_.size() < 10000) {
      ++written_;
      const std::string coll = o_.collection;
      next_write_ = now + Ms(o_.write_every_ms);
      if (stopped_.count(coll)) continue;
      std::string value = "v" + std::to_string(written_);
      Mutation m{o_.bug == Bug::ReusedMutationIds ? 1 : ++mutation_id_, coll,
                 "doc-" + std::to_string(written_ % 10),
                 o_.bug == Bug::EmptyDelta ? Bytes{} : Bytes(value.begin(), value.end())};
      pending_.push_back(std::move(m));
    }
    // The 100-ms push tick (FLOW-2): in id order, at most 64 in flight.
    if (now < next_tick_ || paused_ || now < hold_until_) return;
    next_tick_ = now + Ms(100);
    std::size_t in_flight = 0;
    for (auto& p : pending_) {
      if (p.in_flight && now - p.sent >= kResend) p.in_flight = false;  // FLOW-3
      in_flight += p.in_flight ? 1 : 0;
    }
    for (auto& p : pending_) {
      if (in_flight >= kMaxInFlight) break;
      if (p.in_flight) continue;
      DeltaPush d;
      d.collection = p.collection;
      d.document_id = p.doc;
      d.delta = p.delta;
      d.peer_id = peer_id_;
      d.mutation_id = p.id;
      d.checksum = crc32c(p.delta);
      if (o_.bug == Bug::WrongChecksum) d.checksum ^= 0x1;
      d.device_valid_time_ms = unix_ms();
      send(d);
      p.in_flight = true;
      p.sent = now;
      ++in_flight;
    }
  }

  Options o_;
  bool driver_ = false, driver_error_ = false, quit_ = false;
  std::string driver_in_;  // stdin bytes not yet a whole line
  std::string host_, port_, token_, next_token_, secret_, lite_id_;
  std::int64_t lifetime_ = 0;  // s; 0: the token never expires
  std::uint64_t peer_id_ = 0, epoch_ = 0, mutation_id_ = 0;
  int fd_ = -1;
  FrameStream stream_;
  Bytes out_;
  bool authed_ = false, refused_ = false, closed_ = false, throttled_ = false, resync_sent_ = false,
       refreshing_ = false, paused_ = false;
  std::map<std::string, std::string> shapes_;  // shape_id -> collection
  std::map<std::string, std::uint64_t> seq_;   // shape_id -> t (RESYNC-1)
  std::deque<ShapeDelta> backlog_;
  std::deque<Mutation> pending_;
  std::map<std::string, std::uint64_t> purged_;  // collection -> purge_lsn
  std::set<std::string> stopped_;                // purged: no new writes
  std::map<std::pair<std::string, std::string>, Bytes> docs_, definitions_;
  long written_ = 0;
  std::uint64_t applied_snapshots_ = 0;
  Clock::time_point token_set_, next_ping_, next_refresh_check_, refresh_after_, hold_until_,
      next_write_, next_tick_, last_apply_;
};

int usage(const char* why) {
  std::fprintf(stderr,
               "faulty_client: %s\nusage: faulty_client [--bug NAME] [--collection C] "
               "[--writes N] [--write-every-ms MS] [--apply-rate N] [--duration S]\n"
               "environment: SYNCSIM_TARGET=tcp://HOST:PORT, SYNCSIM_TOKEN, SYNCSIM_JWT_SECRET\n"
               "bugs:",
               why);
  for (const auto& b : kBugs) std::fprintf(stderr, " %s", b.name);
  std::fprintf(stderr, "\n");
  return 2;
}

int run(int argc, char** argv) {
  Options o;
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
      return *value != '\0' && *end == '\0' && out >= 0;
    };
    if (arg == "--bug") {
      const auto* b = std::find_if(std::begin(kBugs), std::end(kBugs), [&](const BugName& x) {
        return std::strcmp(x.name, value) == 0;
      });
      if (b == std::end(kBugs))
        return usage(("unknown bug \"" + std::string(value) + "\"").c_str());
      o.bug = b->bug;
    } else if (arg == "--collection") {
      o.collection = value;
    } else if (arg == "--writes") {
      if (!number(o.writes)) return usage("bad --writes");
    } else if (arg == "--write-every-ms") {
      if (!number(o.write_every_ms)) return usage("bad --write-every-ms");
    } else if (arg == "--apply-rate") {
      if (!number(o.apply_rate) || o.apply_rate == 0) return usage("bad --apply-rate");
    } else if (arg == "--duration") {
      if (!number(o.duration_s)) return usage("bad --duration");
    } else {
      return usage(("unknown option " + arg).c_str());
    }
  }
  const std::string target = std::getenv("SYNCSIM_TARGET") ? std::getenv("SYNCSIM_TARGET") : "";
  if (target.rfind("tcp://", 0) != 0) return usage("SYNCSIM_TARGET must be tcp://HOST:PORT");
  std::string hostport = target.substr(6);
  if (const auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return usage("SYNCSIM_TARGET has no port");
  std::string host = hostport.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return Client(o, host, hostport.substr(colon + 1)).run();
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "faulty_client: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "faulty_client: unknown error\n");
  }
  return 1;
}
