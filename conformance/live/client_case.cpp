// The scripted server of `check --client` (client_case.hpp) and the
// executor of the cases' steps.
#include "conformance/live/client_case.hpp"

#include <algorithm>

#include "protocol/base64url.hpp"
#include "protocol/codec.hpp"
#include "protocol/json.hpp"
#include "reference/snapshot.hpp"

namespace syncsim::conformance::client_case {

using namespace protocol;

namespace {

CheckerOptions checker_options(const ClientCheckOptions& o) {
  CheckerOptions c;
  c.resync_deadline_ns = o.suite.scaled(200).count() * 1'000'000;  // RESYNC-2 in real time
  c.at_tap = true;
  c.tap_tolerance_ns = o.suite.scaled(o.suite.tap_tolerance_floor_ms).count() * 1'000'000;
  c.server_unix_epoch_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  return c;
}

ShapeSnapshot snapshot(const std::string& shape_id) {
  return ShapeSnapshot{shape_id, reference::encode_snapshot_data({}), kSnapshotLsn, 0};
}

}  // namespace

Script::Script(boost::asio::io_context& ioc, const ClientCheckOptions& o, CaseResult& r, Policy p)
    : policy(p),
      tenant(o.tenant),
      ioc_(ioc),
      options_(o),
      result_(r),
      checker_(checker_options(o)) {}

void Script::on_ws(WsKind kind, std::span<const std::uint8_t> bytes) {
  // Control frames are Beast's business on our side (FRAME-12 binds the server: us).
  if (kind != WsKind::Binary && kind != WsKind::Text) return;
  checker_.on_ws_message(
      WsRecord{now_ns(), 1, Sender::Client, kind, Bytes(bytes.begin(), bytes.end()), Seen::Both});
}

void Script::on_frame(const Bytes& frame) {
  if (!ws) judge(frame, Sender::Client);
  const DecodedFrame d = decode_frame(frame);
  note("<- " + (d.message ? describe(*d.message) : "undecodable " + to_hex(frame)));
  if (!d.message || got.size() >= 100'000) return;
  got.push_back(*d.message);
  answer(*d.message);
}

void Script::on_close(const std::string& why) {
  closed = true;
  close_reason = why;
  if (why.empty()) checker_.on_hangup(1, Sender::Client, now_ns());  // FRAME-3/5/7/10
  checker_.on_close(1, now_ns());
  note(why.empty() ? "<- (the client closed the connection)"
                   : "<- (connection ended: " + why + ")");
}

void Script::send(const Message& m) {
  if (const auto* purge = std::get_if<CollectionPurged>(&m)) {
    std::uint64_t newest = 0;  // of the collection, pushed before the purge
    for (const auto& p : pushes) {
      if (p.collection == purge->name) newest = std::max(newest, p.mutation_id);
    }
    if (purged.size() < 100) purged.emplace_back(purge->name, newest);
  }
  const Bytes frame = encode_frame(m);
  note("-> " + describe(m));
  send_raw_frame(frame);
}

void Script::send_raw_batch(const std::vector<Bytes>& frames, const std::string& what) {
  note("-> " + what);
  for (const auto& f : frames) send_raw_frame(f);
}

bool Script::wait(const std::function<bool()>& done, std::int64_t budget_ms) {
  const auto deadline = Clock::now() + options_.suite.scaled(budget_ms);
  for (;;) {
    release_held_ack();
    if (done()) return true;
    const auto now = Clock::now();
    if (now >= deadline) return false;
    if (ioc_.stopped()) ioc_.restart();
    ioc_.run_one_for(std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(20)));
  }
}

void Script::release_held_ack() {
  if (!held_ack_ || Clock::now() < held_ack_->first) return;
  frames_before_ack = got.size();
  authenticated = true;
  const HandshakeAck ack = std::move(held_ack_->second);
  held_ack_.reset();
  send(ack);
}

bool Script::expect(const std::string& want, std::int64_t budget_ms,
                    const std::function<bool(const Message&)>& ok) {
  const std::size_t from = cursor_;
  std::optional<std::size_t> hit;
  auto find = [&] {
    for (std::size_t i = from; i < got.size(); ++i) {
      if (ok(got[i])) {
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

bool Script::quiet(const std::string& what, std::int64_t window_ms,
                   const std::function<bool(const Message&)>& bad, bool close_ok) {
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

bool Script::fail(Verdict v, std::string detail) {
  if (result_.verdict == Verdict::Pass) {
    result_.verdict = v;
    result_.detail = std::move(detail);
  }
  return false;
}

ShapeDelta Script::delta(std::uint64_t lsn, const std::string& doc) const {
  return ShapeDelta{
      subscribed->shape_id, subscribed_collection(), doc, "INSERT", Bytes{1, 2, 3}, lsn};
}

std::string Script::subscribed_collection() const {
  if (!subscribed) return "syncsim_check";
  const auto* document = std::get_if<shape_type::Document>(&subscribed->shape_type);
  return document ? document->collection : "syncsim_check";
}

std::string Script::scaled_text(std::int64_t budget_ms) const {
  return std::to_string(options_.suite.scaled(budget_ms).count()) + " ms";
}

std::int64_t Script::unscaled(std::int64_t real_ms) const {
  return static_cast<std::int64_t>(static_cast<double>(real_ms) / options_.suite.time_scale);
}

void Script::finish() {
  checker_.finish(now_ns());
  // The script breaks server rules on purpose (a refused handshake, a
  // server DeltaPush); only the client is judged.
  take_findings(result_, checker_.findings(), Sender::Client);
}

std::int64_t Script::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count();
}

void Script::note(std::string line) {
  if (result_.frames.size() < 80) result_.frames.push_back(std::move(line));
}

void Script::judge(const Bytes& frame, Sender from) {
  const std::int64_t t = now_ns();
  // D118: the tolerance follows the round trips seen so far (D81).
  if (const auto d = decode_frame(frame); d.message) {
    // A HandshakeAck held on purpose is no round trip (D145): its Handshake is not timed.
    const bool held = policy.hold_ack_ms > 0 && std::holds_alternative<Handshake>(*d.message);
    if (!held) round_trips_.frame(1, from, *d.message, t);
    const std::int64_t floor_ns =
        options_.suite.scaled(options_.suite.tap_tolerance_floor_ms).count() * 1'000'000;
    checker_.set_tap_tolerance_ns(round_trips_.tolerance_ns(floor_ns));
  }
  checker_.on_frame(FrameRecord{t, 1, from, frame, Seen::Both});
}

void Script::send_raw_frame(const Bytes& frame) {
  if (closed) return;
  judge(frame, Sender::Server);
  if (write) write(frame);
}

void Script::answer(const Message& m) {
  if (const auto* h = std::get_if<Handshake>(&m)) {
    if (!h->jwt_token.empty()) sent_token = true;
    if (const auto claims = peek_token_claims(h->jwt_token)) token_exp = claims->exp;
    HandshakeAck ack;
    ack.server_wire_version = 4;  // HS-5
    if (policy.refuse_handshake) {
      ack.error = "syncsim check: this handshake is refused on purpose (HS-13)";
    } else {
      ack.success = true;
      ack.session_id = "syncsim-check-" + std::to_string(++sessions_);
      if (policy.hold_ack_ms > 0 && !held_ack_ && !frames_before_ack) {
        held_ack_.emplace(Clock::now() + options_.suite.scaled(policy.hold_ack_ms), ack);
        return note("   (the HandshakeAck is held " + scaled_text(policy.hold_ack_ms) + ")");
      }
      authenticated = true;
    }
    return send(ack);
  }
  if (const auto* p = std::get_if<PingPong>(&m)) {
    if (!p->is_pong) send(PingPong{p->timestamp_ms, true});  // PING-2
    return;
  }
  if (!authenticated) return;
  if (const auto* push = std::get_if<DeltaPush>(&m)) return answer_push(*push);
  if (const auto* sub = std::get_if<ShapeSubscribe>(&m)) {
    if (!subscribed) subscribed = sub->shape;
    if (policy.answer_subscribe) send(snapshot(sub->shape.shape_id));
    return;
  }
  if (std::holds_alternative<ResyncRequest>(m)) {
    if (subscribed) send(snapshot(subscribed->shape_id));  // RESYNC-8
    return;
  }
  if (std::holds_alternative<TokenRefresh>(m)) send(TokenRefreshAck{true, std::nullopt, 3600});
}

void Script::answer_push(const DeltaPush& push) {
  pushes.push_back(push);
  if (policy.rate_limit_first_ms > 0 && !rate_limited_at) {
    rate_limited_at = Clock::now();
    return send(DeltaReject{push.mutation_id, "rate limited",
                            compensation::RateLimited{policy.rate_limit_first_ms}});
  }
  if (policy.drop_pushes) return;
  if (policy.reject_pushes) {
    return send(
        DeltaReject{push.mutation_id, "permission denied", compensation::PermissionDenied{}});
  }
  send(DeltaAck{push.mutation_id, ++lsn_, std::nullopt});
}

// ---- the steps ---------------------------------------------------------------

namespace {

bool run_need(Script& s, const Step& step) {
  switch (step.needs) {
    case Step::Needs::Handshake:
      if (s.wait([&] { return s.authenticated || s.closed; }, step.ms) && s.authenticated)
        return true;
      return s.fail(s.closed ? Verdict::Fail : Verdict::Timeout,
                    "expected a Handshake within " + s.scaled_text(step.ms) +
                        (s.closed ? "; the client closed the connection" : "; none came"));
    case Step::Needs::Subscription:
      if (s.wait([&] { return s.subscribed.has_value() || s.closed; }, step.ms) && s.subscribed)
        return true;
      return s.fail(Verdict::Unsupported,
                    "the client subscribed to no shape within " + s.scaled_text(step.ms) +
                        " (start it with a shape subscription to run this case)");
    case Step::Needs::Push:
      if (s.wait([&] { return !s.pushes.empty() || s.closed; }, step.ms) && !s.pushes.empty())
        return true;
      return s.fail(Verdict::Unsupported, "the client pushed no mutation within " +
                                              s.scaled_text(step.ms) +
                                              " (start it with writes to run this case)");
  }
  return true;
}

bool run_send(Script& s, const Step& step) {
  const Outgoing out = step.make(s);
  for (const auto& m : out.messages) s.send(m);
  if (!out.raw.empty()) s.send_raw_batch(out.raw, out.raw_what);
  return true;
}

bool run_await(Script& s, const Step& step) {
  const std::size_t from = s.got.size();
  const bool ready = s.wait([&] { return step.ready(s); }, step.ms);
  if (!ready && step.timeout) return s.fail(step.timeout->verdict, step.timeout->detail);
  if (!step.judge) return true;
  Outcome o = step.judge(s, from);
  return o.verdict == Verdict::Pass || s.fail(o.verdict, std::move(o.detail));
}

bool run_step(Script& s, const Step& step) {
  const std::int64_t ms = step.ms_of ? step.ms_of(s) : step.ms;
  switch (step.kind) {
    case Step::Kind::Need: return run_need(s, step);
    case Step::Kind::Pause: s.wait([] { return false; }, step.ms); return true;
    case Step::Kind::Send: return run_send(s, step);
    case Step::Kind::Expect:
      return s.expect(step.what(s), ms, [&](const Message& m) { return step.matches(s, m); });
    case Step::Kind::Quiet:
      if (ms <= 0 && step.ms_of) return true;
      return s.quiet(
          step.what(s), ms, [&](const Message& m) { return step.matches(s, m); }, step.close_ok);
    case Step::Kind::Await: return run_await(s, step);
  }
  return true;
}

}  // namespace

void run_steps(Script& script, const Case& c) {
  for (const Step& step : c.steps) {
    if (!run_step(script, step) || script.failed()) return;
  }
}

Step need(Step::Needs what, std::int64_t ms) {
  Step s;
  s.kind = Step::Kind::Need;
  s.needs = what;
  s.ms = ms;
  return s;
}

Step pause(std::int64_t ms) {
  Step s;
  s.kind = Step::Kind::Pause;
  s.ms = ms;
  return s;
}

Step send(Message m) {
  return send_made([m = std::move(m)](const View&) { return Outgoing{{m}, {}, ""}; });
}

Step send_made(std::function<Outgoing(const View&)> make) {
  Step s;
  s.kind = Step::Kind::Send;
  s.make = std::move(make);
  return s;
}

Step expect_frame(std::string want, std::int64_t ms,
                  std::function<bool(const View&, const Message&)> matches) {
  Step s;
  s.kind = Step::Kind::Expect;
  s.ms = ms;
  s.what = [want = std::move(want)](const View&) { return want; };
  s.matches = std::move(matches);
  return s;
}

Step quiet(std::string what, std::int64_t ms, std::function<bool(const Message&)> bad,
           bool close_ok) {
  Step s;
  s.kind = Step::Kind::Quiet;
  s.ms = ms;
  s.what = [what = std::move(what)](const View&) { return what; };
  s.matches = [bad = std::move(bad)](const View&, const Message& m) { return bad(m); };
  s.close_ok = close_ok;
  return s;
}

Step quiet_made(std::function<std::string(const View&)> what,
                std::function<std::int64_t(const View&)> ms_of,
                std::function<bool(const View&, const Message&)> bad) {
  Step s;
  s.kind = Step::Kind::Quiet;
  s.ms_of = std::move(ms_of);
  s.what = std::move(what);
  s.matches = std::move(bad);
  return s;
}

Step await(std::function<bool(const View&)> ready, std::int64_t ms, std::optional<Outcome> timeout,
           std::function<Outcome(const View&, std::size_t from)> judge) {
  Step s;
  s.kind = Step::Kind::Await;
  s.ready = std::move(ready);
  s.ms = ms;
  s.timeout = std::move(timeout);
  s.judge = std::move(judge);
  return s;
}

Step judge(std::function<Outcome(const View&)> verdict) {
  return await([](const View&) { return true; }, 0, std::nullopt,
               [verdict = std::move(verdict)](const View& v, std::size_t) { return verdict(v); });
}

Step with_budget(std::function<std::int64_t(const View&)> ms_of, Step s) {
  s.ms_of = std::move(ms_of);
  return s;
}

Step handshaken() { return need(Step::Needs::Handshake, 5000); }
Step subscribed() { return need(Step::Needs::Subscription, 3000); }
Step pushed() { return need(Step::Needs::Push, 3000); }

Step pong(std::uint64_t ts, std::int64_t ms, const std::string& after) {
  return expect<PingPong>("Pong{timestamp_ms: " + std::to_string(ts) + "}" + after, ms,
                          [ts](const PingPong& p) { return p.is_pong && p.timestamp_ms == ts; });
}

}  // namespace syncsim::conformance::client_case
