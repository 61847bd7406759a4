#include "conformance/live/client_check.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "conformance/explore/hostile.hpp"
#include "conformance/live/child_process.hpp"
#include "conformance/live/frame_conn.hpp"
#include "conformance/live/round_trips.hpp"
#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/json.hpp"
#include "reference/jwt.hpp"
#include "reference/snapshot.hpp"
#include "reference/ws_runtime.hpp"

extern char** environ;

namespace syncsim::conformance {

using namespace protocol;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint64_t kSnapshotLsn = 100;
constexpr std::uint64_t kRetryAfterMs = 1500;  // honours-retry-after

// The client process of one case (`--exec`).
using ClientProcess = ChildProcess;

// The scripted server's side of one case: plain answers to whatever the
// client sends, the case's own frames, and waits with deadlines.
class Script {
 public:
  Script(boost::asio::io_context& ioc, const ClientCheckOptions& o, CaseResult& r)
      : tenant(o.tenant), ioc_(ioc), options_(o), result_(r), checker_(checker_options(o)) {}

  // Wired by the connection.
  std::function<void(Bytes)> write;
  std::function<void()> hang_up;

  // Policies a case may change before or during its run.
  bool refuse_handshake = false;
  bool reject_pushes = false;  // DeltaReject with a PermissionDenied hint
  bool drop_pushes = false;    // no answer at all (as a rate-limited push, RATE-2)
  // The first push is rejected "rate limited" with RateLimited{this}; 0: no.
  std::uint64_t rate_limit_first_ms = 0;
  std::optional<Clock::time_point> rate_limited_at;
  bool answer_subscribe = true;
  std::uint32_t tenant = 0;  // of CollectionPurged

  // State the script learns from the client.
  std::vector<Message> got;  // every decodable client frame, in order
  std::optional<ShapeDefinition> subscribed;
  std::vector<DeltaPush> pushes;
  bool authenticated = false, closed = false, sent_token = false;
  std::int64_t token_exp = 0;  // of the last Handshake's token (TOKEN-10)
  std::string close_reason;

  bool ws = false;  // the client's messages are judged whole (on_ws), their frames from them
  void on_ws(WsKind kind, std::span<const std::uint8_t> bytes) {
    // Control frames are Beast's business on our side (FRAME-12 binds the server: us).
    if (kind != WsKind::Binary && kind != WsKind::Text) return;
    checker_.on_ws_message(
        WsRecord{now_ns(), 1, Sender::Client, kind, Bytes(bytes.begin(), bytes.end()), Seen::Both});
  }
  void on_frame(const Bytes& frame) {
    if (!ws) judge(frame, Sender::Client);
    const DecodedFrame d = decode_frame(frame);
    note("<- " + (d.message ? describe(*d.message) : "undecodable " + to_hex(frame)));
    if (!d.message || got.size() >= 100'000) return;
    got.push_back(*d.message);
    answer(*d.message);
  }
  void on_close(const std::string& why) {
    closed = true;
    close_reason = why;
    if (why.empty()) checker_.on_hangup(1, Sender::Client, now_ns());  // FRAME-3/5/7/10
    checker_.on_close(1, now_ns());
    note(why.empty() ? "<- (the client closed the connection)"
                     : "<- (connection ended: " + why + ")");
  }

  void send(const Message& m) {
    const Bytes frame = encode_frame(m);
    note("-> " + describe(m));
    send_raw_frame(frame);
  }
  void send_raw(const Bytes& frame, const std::string& what) {
    note("-> " + what);
    send_raw_frame(frame);
  }
  // Many raw frames, one line in the case's frames.
  void send_raw_batch(const std::vector<Bytes>& frames, const std::string& what) {
    note("-> " + what);
    for (const auto& f : frames) send_raw_frame(f);
  }

  // Waits until `done` or the scaled budget runs out.
  bool wait(const std::function<bool()>& done, std::int64_t budget_ms) {
    const auto deadline = Clock::now() + options_.suite.scaled(budget_ms);
    while (!done()) {
      const auto now = Clock::now();
      if (now >= deadline) return false;
      if (ioc_.stopped()) ioc_.restart();
      ioc_.run_one_for(std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(20)));
    }
    return true;
  }

  // A client frame of type T (matching `ok`) from the cursor on; other
  // frames may come first. False with the verdict set when none comes.
  template <class T>
  bool expect(const std::string& want, std::int64_t budget_ms,
              std::function<bool(const T&)> ok = {}) {
    const std::size_t from = cursor_;
    std::optional<std::size_t> hit;
    auto find = [&] {
      for (std::size_t i = from; i < got.size(); ++i) {
        const auto* t = std::get_if<T>(&got[i]);
        if (t && (!ok || ok(*t))) {
          hit = i;
          return true;
        }
      }
      return closed;
    };
    wait(find, budget_ms);
    if (hit) {
      cursor_ = *hit + 1;
      return true;
    }
    return fail(closed ? Verdict::Fail : Verdict::Timeout,
                "expected " + want + " within " + scaled_text(budget_ms) + "; " +
                    (closed ? "the client closed the connection" : "nothing like it came"));
  }

  // No client frame matching `bad` for the whole window, and the
  // connection kept open (unless `close_ok`).
  bool quiet(const std::string& what, std::int64_t window_ms,
             const std::function<bool(const Message&)>& bad, bool close_ok = false) {
    const std::size_t from = got.size();
    std::optional<Message> culprit;
    wait(
        [&] {
          for (std::size_t i = from; i < got.size(); ++i) {
            if (bad(got[i])) {
              culprit = got[i];
              return true;
            }
          }
          return closed && !close_ok;
        },
        window_ms);
    cursor_ = got.size();
    if (culprit)
      return fail(Verdict::Fail, "expected no " + what + " within " + scaled_text(window_ms) +
                                     "; got " + describe(*culprit));
    if (closed && !close_ok)
      return fail(Verdict::Fail, "expected the connection kept open for " + scaled_text(window_ms) +
                                     "; the client closed it");
    return true;
  }

  // Needs a subscription (or a push) from the client; without one in the
  // budget the case cannot be run against this client.
  bool need_subscription(std::int64_t budget_ms) {
    if (wait([&] { return subscribed.has_value() || closed; }, budget_ms)) {
      if (subscribed) return true;
    }
    return fail(Verdict::Unsupported, "the client subscribed to no shape within " +
                                          scaled_text(budget_ms) +
                                          " (start it with a shape subscription to run this case)");
  }
  bool need_push(std::int64_t budget_ms) {
    if (wait([&] { return !pushes.empty() || closed; }, budget_ms) && !pushes.empty()) return true;
    return fail(Verdict::Unsupported, "the client pushed no mutation within " +
                                          scaled_text(budget_ms) +
                                          " (start it with writes to run this case)");
  }
  bool need_authenticated(std::int64_t budget_ms) {
    if (wait([&] { return authenticated || closed; }, budget_ms) && authenticated) return true;
    return fail(closed ? Verdict::Fail : Verdict::Timeout,
                "expected a Handshake within " + scaled_text(budget_ms) +
                    (closed ? "; the client closed the connection" : "; none came"));
  }

  ShapeDelta delta(std::uint64_t lsn, const std::string& doc) const {
    const auto* document = std::get_if<shape_type::Document>(&subscribed->shape_type);
    return ShapeDelta{subscribed->shape_id,
                      document ? document->collection : "syncsim_check",
                      doc,
                      "INSERT",
                      Bytes{1, 2, 3},
                      lsn};
  }
  std::string subscribed_collection() const {
    if (!subscribed) return "syncsim_check";
    const auto* document = std::get_if<shape_type::Document>(&subscribed->shape_type);
    return document ? document->collection : "syncsim_check";
  }

  bool fail(Verdict v, std::string detail) {
    if (result_.verdict == Verdict::Pass) {
      result_.verdict = v;
      result_.detail = std::move(detail);
    }
    return false;
  }

  std::int64_t tap_tolerance_ns() const { return checker_.tap_tolerance_ns(); }
  std::int64_t max_round_trip_ns() const { return round_trips_.max_ns().value_or(0); }
  // Real milliseconds as a budget that wait() scales back to them.
  std::int64_t unscaled(std::int64_t real_ms) const {
    return static_cast<std::int64_t>(static_cast<double>(real_ms) / options_.suite.time_scale);
  }

  void finish() {
    checker_.finish(now_ns());
    // The script breaks server rules on purpose (a refused handshake, a
    // server DeltaPush); only the client is judged.
    take_findings(result_, checker_.findings(), Sender::Client);
  }

 private:
  static CheckerOptions checker_options(const ClientCheckOptions& o) {
    CheckerOptions c;
    c.resync_deadline_ns = o.suite.scaled(200).count() * 1'000'000;  // RESYNC-2 in real time
    c.at_tap = true;
    c.tap_tolerance_ns = o.suite.scaled(o.suite.tap_tolerance_floor_ms).count() * 1'000'000;
    c.server_unix_epoch_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    return c;
  }
  std::int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count();
  }
  std::string scaled_text(std::int64_t budget_ms) const {
    return std::to_string(options_.suite.scaled(budget_ms).count()) + " ms";
  }
  void note(std::string line) {
    if (result_.frames.size() < 80) result_.frames.push_back(std::move(line));
  }
  void judge(const Bytes& frame, Sender from) {
    const std::int64_t t = now_ns();
    // D118: the tolerance follows the round trips seen so far (D81).
    if (const auto d = decode_frame(frame); d.message) {
      round_trips_.frame(1, from, *d.message, t);
      checker_.set_tap_tolerance_ns(round_trips_.tolerance_ns(floor_ns()));
    }
    checker_.on_frame(FrameRecord{t, 1, from, frame, Seen::Both});
  }
  std::int64_t floor_ns() const {
    return options_.suite.scaled(options_.suite.tap_tolerance_floor_ms).count() * 1'000'000;
  }
  void send_raw_frame(const Bytes& frame) {
    if (closed) return;
    judge(frame, Sender::Server);
    if (write) write(frame);
  }
  ShapeSnapshot snapshot(const std::string& shape_id) const {
    return ShapeSnapshot{shape_id, reference::encode_snapshot_data({}), kSnapshotLsn, 0};
  }
  void answer(const Message& m) {
    if (const auto* h = std::get_if<Handshake>(&m)) {
      if (!h->jwt_token.empty()) sent_token = true;
      if (const auto claims = peek_token_claims(h->jwt_token)) token_exp = claims->exp;
      HandshakeAck ack;
      ack.server_wire_version = 4;  // HS-5
      if (refuse_handshake) {
        ack.error = "syncsim check: this handshake is refused on purpose (HS-13)";
      } else {
        ack.success = true;
        ack.session_id = "syncsim-check-" + std::to_string(++sessions_);
        authenticated = true;
      }
      return send(ack);
    }
    if (const auto* p = std::get_if<PingPong>(&m)) {
      if (!p->is_pong) send(PingPong{p->timestamp_ms, true});  // PING-2
      return;
    }
    if (!authenticated) return;
    if (const auto* push = std::get_if<DeltaPush>(&m)) {
      pushes.push_back(*push);
      if (rate_limit_first_ms > 0 && !rate_limited_at) {
        rate_limited_at = Clock::now();
        return send(DeltaReject{push->mutation_id, "rate limited",
                                compensation::RateLimited{rate_limit_first_ms}});
      }
      if (drop_pushes) return;
      if (reject_pushes) {
        return send(
            DeltaReject{push->mutation_id, "permission denied", compensation::PermissionDenied{}});
      }
      return send(DeltaAck{push->mutation_id, ++lsn_, std::nullopt});
    }
    if (const auto* sub = std::get_if<ShapeSubscribe>(&m)) {
      if (!subscribed) subscribed = sub->shape;
      if (answer_subscribe) send(snapshot(sub->shape.shape_id));
      return;
    }
    if (const auto* rs = std::get_if<ResyncRequest>(&m)) {
      (void)rs;
      if (subscribed) send(snapshot(subscribed->shape_id));  // RESYNC-8
      return;
    }
    if (const auto* tr = std::get_if<TokenRefresh>(&m)) {
      (void)tr;
      return send(TokenRefreshAck{true, std::nullopt, 3600});
    }
  }

  boost::asio::io_context& ioc_;
  const ClientCheckOptions& options_;
  CaseResult& result_;
  SessionChecker checker_;
  RoundTrips round_trips_;
  Clock::time_point started_ = Clock::now();
  std::size_t cursor_ = 0;
  std::uint64_t lsn_ = 1000;  // lsns of acked pushes
  int sessions_ = 0;
};

struct ClientCase {
  CaseInfo info;
  std::function<void(Script&)> before;  // policies set before the client connects
  std::function<void(Script&)> run;
  std::int64_t token_lifetime_ms = 3'600'000;  // of SYNCSIM_TOKEN, times the time scale
};

bool is_resync(const Message& m) { return std::holds_alternative<ResyncRequest>(m); }

std::vector<ClientCase> make_cases() {
  return {
      {{"handshake-first", "HS-1", "the client's first frame is a Handshake", "handshake"},
       {},
       [](Script& s) {
         if (!s.wait([&] { return !s.got.empty() || s.closed; }, 5000))
           return void(
               s.fail(Verdict::Timeout, "expected a Handshake within 5000 ms; nothing came"));
         if (s.got.empty()) {
           return void(s.fail(Verdict::Fail, "the client closed without a frame" +
                                                 (s.close_reason.empty() ? std::string()
                                                                         : ": " + s.close_reason)));
         }
         if (!std::holds_alternative<Handshake>(s.got.front()))
           s.fail(Verdict::Fail, "expected a Handshake first; got " + describe(s.got.front()));
       }},
      {{"refused-handshake-closes", "HS-13",
        "after HandshakeAck{success: false} the client sends nothing more and closes", "handshake"},
       [](Script& s) { s.refuse_handshake = true; },
       [](Script& s) {
         if (!s.expect<Handshake>("a Handshake", 5000)) return;
         const std::size_t before = s.got.size();
         if (!s.wait([&] { return s.closed; }, 3000))
           return void(s.fail(Verdict::Timeout, "expected the client to close within 3000 ms"));
         for (std::size_t i = before; i < s.got.size(); ++i) {
           if (!std::holds_alternative<PingPong>(s.got[i]))
             return void(
                 s.fail(Verdict::Fail, "after the refusal the client sent " + describe(s.got[i])));
         }
       }},
      {{"pings-after-handshake", "PING-1", "the client pings right after its handshake", "ping"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000)) return;
         s.expect<PingPong>("a Ping", 2000, [](const PingPong& p) { return !p.is_pong; });
       }},
      {{"answers-server-ping", "PING-5", "a Ping from the server is answered with its timestamp",
        "ping"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000)) return;
         s.send(PingPong{515151, false});
         s.expect<PingPong>("Pong{timestamp_ms: 515151}", 1000, [](const PingPong& p) {
           return p.is_pong && p.timestamp_ms == 515151;
         });
       }},
      {{"subscribes-after-auth", "SHAPE-1",
        "the client subscribes after authenticating, with a non-empty shape_id", "shapes"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000) || !s.need_subscription(3000)) return;
         if (s.subscribed->shape_id.empty()) s.fail(Verdict::Fail, "the shape_id is empty");
       }},
      {{"gap-triggers-resync", "RESYNC-2",
        "ShapeDelta lsn 101 then 105: ResyncRequest{SequenceGap} within 200 ms", "resync"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000) || !s.need_subscription(3000)) return;
         s.wait([] { return false; }, 100);  // the snapshot settles first
         s.send(s.delta(kSnapshotLsn + 1, "gap-1"));
         s.send(s.delta(kSnapshotLsn + 5, "gap-5"));
         // 200 ms from its read: the gap passed here up to a tap tolerance
         // before the client read it (D81, D118).
         s.expect<ResyncRequest>(
             "ResyncRequest{reason: SequenceGap}",
             200 + s.unscaled(s.tap_tolerance_ns() / 1'000'000), [](const ResyncRequest& r) {
               return std::holds_alternative<resync_reason::SequenceGap>(r.reason);
             });
       }},
      {{"in-order-deltas-no-resync", "RESYNC-4",
        "ShapeDelta lsn 101, 102, 103 in order draw no ResyncRequest", "resync"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000) || !s.need_subscription(3000)) return;
         s.wait([] { return false; }, 100);
         for (std::uint64_t i = 1; i <= 3; ++i)
           s.send(s.delta(kSnapshotLsn + i, "seq-" + std::to_string(i)));
         s.quiet("ResyncRequest", 1000, is_resync);
       }},
      {{"flood-throttles", "THROTTLE-2",
        "5000 ShapeDeltas at once: a client that cannot keep up sends Throttle{true}", "throttle"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000) || !s.need_subscription(3000)) return;
         s.wait([] { return false; }, 100);
         for (std::uint64_t i = 1; i <= 5000; ++i)
           s.send(s.delta(kSnapshotLsn + i, "flood-" + std::to_string(i % 50)));
         s.expect<Throttle>("Throttle{throttle: true}", 5000,
                            [](const Throttle& t) { return t.throttle; });
       }},
      {{"server-deltapush-tolerated", "DELTA-18",
        "a DeltaPush from the server is tolerated and never acknowledged", "deltas"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000)) return;
         DeltaPush p;
         p.collection = s.subscribed_collection();
         p.document_id = "pushed-by-server";
         p.delta = {9, 9};
         p.peer_id = 0;
         p.mutation_id = 77;
         p.checksum = crc32c(p.delta);
         s.send(p);
         s.quiet("DeltaAck or close", 1000,
                 [](const Message& m) { return std::holds_alternative<DeltaAck>(m); });
       }},
      {{"purge-keeps-session", "PURGE-8",
        "CollectionPurged twice and for an unknown collection: the session goes on", "purge"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000)) return;
         s.wait([&] { return s.subscribed.has_value(); }, 1000);  // purge what it holds, if any
         const std::string coll = s.subscribed_collection();
         s.send(CollectionPurged{s.tenant, coll, 200});
         s.send(CollectionPurged{s.tenant, coll, 200});
         s.send(CollectionPurged{s.tenant, "syncsim_never_seen", 201});
         if (!s.quiet("close", 1000, [](const Message&) { return false; })) return;
         s.send(PingPong{616161, false});
         s.expect<PingPong>("Pong{timestamp_ms: 616161}", 1000, [](const PingPong& p) {
           return p.is_pong && p.timestamp_ms == 616161;
         });
       }},
      {{"unknown-code-skipped", "FRAME-3",
        "a frame of an unknown code is skipped; the session goes on", "framing"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000)) return;
         s.send_raw(Bytes{0x99, 3, 0, 0, 0, 1, 2, 3}, "raw 9903000000010203 (code 0x99)");
         s.send(PingPong{717171, false});
         s.expect<PingPong>("Pong{timestamp_ms: 717171}", 1000, [](const PingPong& p) {
           return p.is_pong && p.timestamp_ms == 717171;
         });
       }},
      {{"undecodable-bodies-ignored", "FRAME-10",
        "300 hostile frames whose bodies do not decode are ignored; the session goes on",
        "framing"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000)) return;
         // Structure-aware mutations of valid server frames (the hostile
         // campaign's), re-framed so the stream stays in step, keeping only
         // those that do not decode: FRAME-10 says each is ignored.
         FrameMutator mutator(20261126);
         std::vector<Bytes> hostile;
         for (int tries = 0; hostile.size() < 300 && tries < 30'000; ++tries) {
           Mutation how{};
           Bytes f = mutator.next(how);
           if (f.size() < protocol::kFrameHeaderSize || f.size() > 64 * 1024) continue;
           const auto body = static_cast<std::uint32_t>(f.size() - protocol::kFrameHeaderSize);
           for (int k = 0; k < 4; ++k)
             f[1 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(body >> (8 * k));
           if (!protocol::is_known_code(f[0]) || protocol::decode_frame(f).valid()) continue;
           hostile.push_back(std::move(f));
         }
         s.send_raw_batch(hostile, std::to_string(hostile.size()) +
                                       " frames of known codes whose bodies do not decode");
         s.send(PingPong{818181, false});
         s.expect<PingPong>(
             "Pong{timestamp_ms: 818181} after the hostile frames", 3000,
             [](const PingPong& p) { return p.is_pong && p.timestamp_ms == 818181; });
       }},
      {{"token-refreshed-before-expiry", "TOKEN-10",
        "a token that expires in 5 s is refreshed before the server's 60 s leeway ends", "tokens"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000)) return;
         if (!s.sent_token || s.token_exp <= 0) {
           return void(s.fail(Verdict::Unsupported,
                              "the client sent no token with an expiry (give it SYNCSIM_TOKEN to "
                              "run this case)"));
         }
         // TOKEN-10 asks only that no push is ever rejected "token expired":
         // the server allows 60 s past exp (AUTH-3), so the refresh must
         // pass here by then, less a second for its trip (D119), not at a
         // set share of the lifetime (TOKEN-5 is the client's own plan).
         const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count();
         const std::int64_t left_ms = (s.token_exp + 60) * 1000 - 1000 - now_ms;
         s.expect<TokenRefresh>("a TokenRefresh before exp + 60 s (the server's leeway)",
                                s.unscaled(std::max<std::int64_t>(0, left_ms)));
       },
       5000},
      {{"permission-denied-refreshes", "TOKEN-6",
        "a push rejected with PermissionDenied makes the client refresh its token", "tokens"},
       [](Script& s) { s.reject_pushes = true; },
       [](Script& s) {
         if (!s.need_authenticated(5000) || !s.need_push(3000)) return;
         s.expect<TokenRefresh>("a TokenRefresh", 3000);
       }},
      {{"honours-retry-after", "DELTA-14",
        "a push rejected with RateLimited{retry_after_ms: 1500} is not sent again before 1500 ms, "
        "and is sent again after",
        "deltas"},
       [](Script& s) { s.rate_limit_first_ms = kRetryAfterMs; },
       [](Script& s) {
         if (!s.need_authenticated(5000) || !s.need_push(3000)) return;
         const DeltaPush first = s.pushes.front();
         const auto same = [first](const Message& m) {
           const auto* p = std::get_if<DeltaPush>(&m);
           return p && p->peer_id == first.peer_id && p->mutation_id == first.mutation_id;
         };
         // Real time from the reject: the client cannot have read it earlier
         // than it was sent, so a resend before then is early (50 ms for timers).
         const auto until = *s.rate_limited_at + std::chrono::milliseconds(kRetryAfterMs - 50);
         const auto left =
             std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
         if (left.count() > 0 &&
             !s.quiet("resend of mutation " + std::to_string(first.mutation_id) +
                          " before its retry_after_ms (" + std::to_string(kRetryAfterMs) + " ms)",
                      s.unscaled(left.count()), same))
           return;
         s.expect<DeltaPush>("mutation " + std::to_string(first.mutation_id) +
                                 " sent again after its retry_after_ms (DELTA-14, RATE-4)",
                             4000, [first](const DeltaPush& p) {
                               return p.peer_id == first.peer_id &&
                                      p.mutation_id == first.mutation_id;
                             });
       }},
      {{"distinct-mutation-ids", "DELTA-1",
        "the client's mutations carry distinct ids >= 1, first sent in increasing order", "deltas"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000) || !s.need_push(3000)) return;
         s.wait([&] { return s.pushes.size() >= 3 || s.closed; }, 2000);
         if (s.pushes.size() < 2) {
           return void(s.fail(Verdict::Unsupported,
                              "the client pushed only one mutation (start it with several writes "
                              "to run this case)"));
         }
         std::map<std::pair<std::uint64_t, std::uint64_t>, const DeltaPush*> by_id;
         std::map<std::uint64_t, std::uint64_t> last_new;  // peer -> last new id
         for (const auto& p : s.pushes) {
           if (p.mutation_id == 0)
             return void(s.fail(Verdict::Fail, "DELTA-1: mutation_id 0 in " + describe(p)));
           const auto [it, fresh] = by_id.emplace(std::pair{p.peer_id, p.mutation_id}, &p);
           if (!fresh) {
             const DeltaPush& was = *it->second;
             if (was.collection != p.collection || was.document_id != p.document_id ||
                 was.delta != p.delta)
               return void(s.fail(Verdict::Fail, "DELTA-1: mutation_id " +
                                                     std::to_string(p.mutation_id) +
                                                     " names two mutations: " + describe(was) +
                                                     " and " + describe(p)));
             continue;  // the same mutation sent again
           }
           if (p.mutation_id <= last_new[p.peer_id])
             return void(s.fail(Verdict::Fail, "DELTA-1: new mutation_id " +
                                                   std::to_string(p.mutation_id) + " after " +
                                                   std::to_string(last_new[p.peer_id])));
           last_new[p.peer_id] = p.mutation_id;
         }
       }},
      {{"throttle-released", "THROTTLE-2",
        "1200 ShapeDeltas at once: a client that throttles sends Throttle{false} once it has "
        "caught up",
        "throttle"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000) || !s.need_subscription(3000)) return;
         s.wait([] { return false; }, 100);
         for (std::uint64_t i = 1; i <= 1200; ++i)
           s.send(s.delta(kSnapshotLsn + i, "rel-" + std::to_string(i % 50)));
         if (!s.wait(
                 [&] {
                   return std::any_of(s.got.begin(), s.got.end(),
                                      [](const Message& m) {
                                        const auto* t = std::get_if<Throttle>(&m);
                                        return t && t->throttle;
                                      }) ||
                          s.closed;
                 },
                 5000) ||
             s.closed) {
           return void(s.fail(Verdict::Unsupported,
                              "the client sent no Throttle{true} for 1200 ShapeDeltas (it keeps "
                              "up, or never throttles: flood-throttles judges that)"));
         }
         s.expect<Throttle>("Throttle{throttle: false} once the backlog is applied", 20000,
                            [](const Throttle& t) { return !t.throttle; });
       }},
      {{"no-push-after-purge", "PURGE-7",
        "pushes left unanswered, then their collection purged: none of them is sent again",
        "purge"},
       [](Script& s) { s.drop_pushes = true; },
       [](Script& s) {
         if (!s.need_authenticated(5000) || !s.need_push(3000)) return;
         s.wait([] { return false; }, 200);  // the client's first batch
         const std::string coll = s.pushes.front().collection;
         std::uint64_t before = 0;  // the newest mutation of it sent before the purge
         for (const auto& p : s.pushes) {
           if (p.collection == coll) before = std::max(before, p.mutation_id);
         }
         s.send(CollectionPurged{s.tenant, coll, 10'000});
         // Unanswered pushes are sent again after 2000 ms (FLOW-3): wait past that.
         s.quiet("DeltaPush of purged \"" + coll +
                     "\" for a mutation made before the purge (id <= " + std::to_string(before) +
                     ")",
                 3000, [coll, before](const Message& m) {
                   const auto* p = std::get_if<DeltaPush>(&m);
                   return p && p->collection == coll && p->mutation_id <= before;
                 });
       }},
      {{"acked-not-resent", "DELTA-12", "a mutation once acknowledged is never sent again",
        "deltas"},
       {},
       [](Script& s) {
         if (!s.need_authenticated(5000) || !s.need_push(3000)) return;
         const DeltaPush first = s.pushes.front();
         s.quiet("resend of mutation " + std::to_string(first.mutation_id), 3000,
                 [first](const Message& m) {
                   const auto* p = std::get_if<DeltaPush>(&m);
                   return p && p->peer_id == first.peer_id && p->mutation_id == first.mutation_id;
                 });
       }},
  };
}

// One case over one accepted connection of either transport.
template <class Acceptor, class Socket>
void run_case(boost::asio::io_context& ioc, Acceptor& acceptor, const ClientCheckOptions& o,
              const ClientCase& c, ClientProcess* process, CaseResult& r, ClientCheckRun& run) {
  Script script(ioc, o, r);
  if (c.before) c.before(script);
  std::optional<Socket> accepted;
  bool accept_done = false;
  acceptor.async_accept([&](error_code ec, Socket s) {
    accept_done = true;
    if (!ec) accepted.emplace(std::move(s));
  });
  std::optional<int> exit_status;
  script.wait(
      [&] {
        if (process && !exit_status) exit_status = process->exited();
        return accept_done || exit_status.has_value();
      },
      o.connect_budget_ms);
  if (!accepted) {
    acceptor.close();  // the pending accept completes (aborted) before we leave
    script.wait([&] { return accept_done; }, 1000);
    r.verdict = Verdict::Unreachable;
    r.detail =
        exit_status
            ? "the client exited with status " + std::to_string(*exit_status) + " before connecting"
            : "no client connected to " + o.listen.text() + " within " +
                  std::to_string(o.suite.scaled(o.connect_budget_ms).count()) + " ms";
    return;
  }
  auto conn = std::make_shared<FrameConn<Socket>>(std::move(*accepted));
  if constexpr (std::is_same_v<Socket, reference::WsSocket>) {
    script.ws = true;
    conn->socket().observe([&script](reference::WsSocket::Kind k, std::span<const std::uint8_t> b) {
      script.on_ws(static_cast<WsKind>(k), b);
    });
  }
  conn->on_frame = [&script](const Bytes& f) { script.on_frame(f); };
  conn->on_close = [&script](const std::string& why) { script.on_close(why); };
  script.write = [conn](Bytes f) { conn->send(std::move(f)); };
  conn->start();
  c.run(script);
  conn->close();
  script.wait([] { return false; }, 5);  // let the aborted handlers run
  if (ioc.stopped()) ioc.restart();
  ioc.poll();
  script.finish();
  run.max_tap_tolerance_ns = std::max(run.max_tap_tolerance_ns, script.tap_tolerance_ns());
  run.max_round_trip_ns = std::max(run.max_round_trip_ns, script.max_round_trip_ns());
}

// tcp::acceptor with WsAcceptor's accept signature.
struct TcpAcceptAdapter {
  tcp::acceptor& a;
  void async_accept(std::function<void(error_code, tcp::socket)> h) {
    a.async_accept(std::move(h));
  }
  void close() {
    error_code ignored;
    a.close(ignored);
  }
};

std::string mint_token(const ClientCheckOptions& o, std::int64_t lifetime_ms) {
  reference::JwtClaims claims;
  claims.sub = "syncsim-check-client";
  claims.tenant_id = o.tenant;
  claims.user_id = 1;
  claims.exp = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() +
               (lifetime_ms + 999) / 1000;
  return reference::mint_hs256(claims, o.jwt_secret);
}

// Listens for one case: a fresh acceptor each time, so a connection left
// over from the previous case's client is never taken for this one's.
template <class Acceptor, class Socket>
bool case_on(boost::asio::io_context& ioc, const ClientCheckOptions& o, std::uint16_t& port,
             const ClientCase& c, CaseResult& r, ClientCheckRun& run) {
  std::string& error = run.error;
  Acceptor acceptor(ioc);
  error_code ec;
  auto& raw = [&]() -> tcp::acceptor& {
    if constexpr (std::is_same_v<Acceptor, reference::WsAcceptor>) {
      return acceptor.tcp_acceptor();
    } else {
      return acceptor;
    }
  }();
  const tcp::endpoint at(boost::asio::ip::make_address(o.listen.host, ec), port);
  if (!ec) raw.open(at.protocol(), ec);
  if (!ec) raw.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) raw.bind(at, ec);
  if (!ec) raw.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen on " + o.listen.text() + ": " + ec.message();
    return false;
  }
  port = raw.local_endpoint().port();  // port 0: keep the one picked for every case
  Endpoint shown = o.listen;
  shown.port = port;
  std::optional<ClientProcess> process;
  if (!o.exec.empty()) {
    process.emplace(
        o.exec,
        std::vector<std::string>{
            "SYNCSIM_TARGET=" + shown.text(), "SYNCSIM_CASE=" + c.info.id,
            "SYNCSIM_TOKEN=" + mint_token(o, o.suite.scaled(c.token_lifetime_ms).count()),
            "SYNCSIM_JWT_SECRET=" + o.jwt_secret},
        o.show_client_output);
    if (!process->started()) {
      error = "cannot start the client: /bin/sh -c \"" + o.exec + "\"";
      return false;
    }
  } else if (o.progress) {
    o.progress("case " + c.info.id + ": waiting for the client on " + shown.text());
  }

  if constexpr (std::is_same_v<Acceptor, reference::WsAcceptor>) {
    run_case<reference::WsAcceptor, Socket>(ioc, acceptor, o, c, process ? &*process : nullptr, r,
                                            run);
  } else {
    TcpAcceptAdapter adapter{acceptor};
    run_case<TcpAcceptAdapter, Socket>(ioc, adapter, o, c, process ? &*process : nullptr, r, run);
  }
  if (process) {
    process->stop();
    if (counts_as_failure(r.verdict) || r.verdict == Verdict::Unreachable) {
      for (const auto& line : process->tail(8)) r.frames.push_back("client| " + line);
    }
  }
  return true;
}

}  // namespace

const std::vector<CaseInfo>& client_cases() {
  static const std::vector<CaseInfo> kInfos = [] {
    std::vector<CaseInfo> out;
    for (const auto& c : make_cases()) out.push_back(c.info);
    return out;
  }();
  return kInfos;
}

ClientCheckRun check_client(boost::asio::io_context& ioc, const ClientCheckOptions& options) {
  ClientCheckRun run;
  std::uint16_t port = options.listen.port;
  for (const ClientCase& c : make_cases()) {
    if (!options.suite.selected(c.info)) continue;
    CaseResult r = start_result(c.info, options.suite);
    if (r.verdict == Verdict::Unsupported) {
      run.results.push_back(std::move(r));
      continue;
    }
    const auto started = Clock::now();
    const bool ran =
        options.listen.transport == Endpoint::Transport::WebSocket
            ? case_on<reference::WsAcceptor, reference::WsSocket>(ioc, options, port, c, r, run)
            : case_on<tcp::acceptor, tcp::socket>(ioc, options, port, c, r, run);
    if (!ran) return run;
    run.port = port;
    r.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    const bool unreachable = r.verdict == Verdict::Unreachable;
    if (!unreachable) apply_baseline(r, options.suite);
    run.results.push_back(std::move(r));
    if (unreachable) break;  // the rest would wait for the same absent client
  }
  return run;
}

}  // namespace syncsim::conformance
