#include "conformance/live/server_check.hpp"

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <functional>
#include <optional>

#include "conformance/live/hooks.hpp"
#include "conformance/live/server_case.hpp"
#include "conformance/live/server_scenarios.hpp"
#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/frame_stream.hpp"
#include "protocol/json.hpp"
#include "reference/jwt.hpp"
#include "reference/ws_runtime.hpp"

namespace syncsim::conformance {

using namespace protocol;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

using namespace server_case;

ShapeDefinition check_shape() { return document_shape("syncsim-check-all", "syncsim_check"); }

std::vector<Case> make_cases(const CaseContext& ctx) {
  const std::string& token = ctx.token;
  const auto ack_ok = expect<HandshakeAck>("HandshakeAck{success: true}",
                                           [](const HandshakeAck& a) { return a.success; });
  auto acked = [](std::uint64_t id, bool dup) {
    return expect<DeltaAck>(
        "DeltaAck{mutation_id: " + std::to_string(id) + (dup ? ", lsn: 0}" : "}"),
        [id, dup](const DeltaAck& a) { return a.mutation_id == id && (!dup || a.lsn == 0); });
  };
  Bytes unknown_code{0x99, 3, 0, 0, 0, 1, 2, 3};
  Bytes bad_body{0xFF, 1, 0, 0, 0, 0xC1};  // 0xc1 is never valid MessagePack
  const auto pong = [](std::uint64_t ts) {
    return expect<PingPong>("Pong{timestamp_ms: " + std::to_string(ts) + "}",
                            [ts](const PingPong& p) { return p.is_pong && p.timestamp_ms == ts; });
  };
  DeltaPush wrong_crc = push(11);
  wrong_crc.checksum ^= 0xDEAD;
  return {
      {{"handshake-answered-first", "HS-2", "a Handshake is answered by a HandshakeAck first",
        "handshake"},
       {send(handshake(token)), ack_ok}},
      {{"handshake-future-wire-version", "HS-4",
        "wire_version 5 fails with the fixed incompatible-version error", "handshake"},
       {send(handshake(token, 5)),
        expect<HandshakeAck>(
            "HandshakeAck{success: false, error: \"incompatible wire version...\"}",
            [](const HandshakeAck& a) {
              return !a.success && a.error && a.error->starts_with("incompatible wire version");
            })}},
      {{"ping-echoed", "PING-2", "a Ping is answered by a Pong echoing its timestamp", "ping"},
       {send(handshake(token)), ack_ok, send(PingPong{424242, false}), pong(424242)}},
      {{"ping-before-handshake", "SESSION-6", "before the handshake, a Ping is still answered",
        "ping"},
       {send(PingPong{777, false}), pong(777)}},
      {{"push-before-handshake-rejected", "SESSION-5",
        "a DeltaPush before the handshake is rejected \"not authenticated\"", "deltas"},
       {send(push(1)),
        expect<DeltaReject>("DeltaReject{mutation_id: 1, reason: \"not authenticated\"}",
                            [](const DeltaReject& r) {
                              return r.mutation_id == 1 && r.reason == "not authenticated";
                            })}},
      {{"push-acknowledged", "DELTA-7", "an accepted DeltaPush gets one DeltaAck", "deltas"},
       {send(handshake(token)), ack_ok, send(push(1)), acked(1, false)}},
      {{"answers-in-push-order", "DELTA-9", "three pushes are answered in push order", "deltas"},
       {send(handshake(token)), ack_ok, send(push(1)), send(push(2)), send(push(3)),
        acked(1, false), acked(2, false), acked(3, false)}},
      {{"duplicate-acked-with-lsn-0", "DELTA-6",
        "a duplicate of an accepted mutation is acknowledged with lsn 0, not applied", "deltas"},
       {send(handshake(token)), ack_ok, send(push(5)), acked(5, false), send(push(5)),
        acked(5, true)}},
      {{"checksum-mismatch-rejected", "DELTA-4",
        "a DeltaPush whose checksum does not match is rejected \"CRC32C mismatch ...\"", "deltas"},
       {send(handshake(token)), ack_ok, send(wrong_crc),
        expect<DeltaReject>("DeltaReject{mutation_id: 11, reason: \"CRC32C mismatch: ...\"}",
                            [](const DeltaReject& r) {
                              return r.mutation_id == 11 && r.reason.starts_with("CRC32C mismatch");
                            })}},
      {{"empty-delta-rejected", "DELTA-5", "an empty delta is rejected \"empty delta\"", "deltas"},
       {send(handshake(token)), ack_ok, send(push(12, {})),
        expect<DeltaReject>("DeltaReject{mutation_id: 12, reason: \"empty delta\"}",
                            [](const DeltaReject& r) {
                              return r.mutation_id == 12 && r.reason == "empty delta";
                            })}},
      {{"subscribe-gets-snapshot", "SHAPE-2", "a ShapeSubscribe gets a ShapeSnapshot of its id",
        "shapes"},
       {send(handshake(token)), ack_ok, send(ShapeSubscribe{check_shape()}),
        expect<ShapeSnapshot>(
            "ShapeSnapshot{shape_id: \"syncsim-check-all\"}",
            [](const ShapeSnapshot& s) { return s.shape_id == "syncsim-check-all"; })}},
      {{"resync-keeps-session", "RESYNC-7",
        "a ResyncRequest neither closes the session nor draws an error; a Ping after it is "
        "answered",
        "resync"},
       {send(handshake(token)), ack_ok, send(ShapeSubscribe{check_shape()}),
        expect<ShapeSnapshot>("ShapeSnapshot"),
        send(ResyncRequest{resync_reason::CorruptedState{}, 0, ""}), send(PingPong{31, false}),
        eventually(pong(31))}},  // a fresh snapshot may come first (RESYNC-8)
      {{"refresh-answered", "TOKEN-1",
        "a TokenRefresh with a bad token is answered once, success false with an error", "tokens"},
       {send(handshake(token)), ack_ok, send(TokenRefresh{"not.a.token"}),
        expect<TokenRefreshAck>(
            "TokenRefreshAck{success: false, error: ...}",
            [](const TokenRefreshAck& a) { return !a.success && a.error && !a.error->empty(); })}},
      {{"throttle-does-not-delay-pong", "THROTTLE-5",
        "after Throttle{true, rate 1}, a Ping is still answered at once", "throttle"},
       {send(handshake(token)), ack_ok, send(Throttle{true, 5000, 1}), send(PingPong{99, false}),
        pong(99)}},
      {{"unknown-code-skipped", "FRAME-3",
        "a frame of an unknown code is skipped and the connection kept", "framing"},
       {send(handshake(token)), ack_ok, send_raw(unknown_code), send(PingPong{3, false}), pong(3)}},
      {{"undecodable-body-ignored", "FRAME-10",
        "a frame whose body does not decode is ignored and the connection kept", "framing"},
       {send(handshake(token)), ack_ok, send_raw(bad_body), send(PingPong{4, false}), pong(4)}},
  };
}

// Drives one case over its connections, all of one transport. Frames are
// judged on the machine's steady clock since the case began, each
// connection a session of its own.
template <class Socket>
class CaseRun {
 public:
  CaseRun(boost::asio::io_context& ioc, const ServerCheckOptions& o, ServerCaseResult& result)
      : ioc_(ioc), options_(o), result_(result), checker_(checker_options()) {}
  ~CaseRun() { shut_all(); }
  CaseRun(const CaseRun&) = delete;
  CaseRun& operator=(const CaseRun&) = delete;

  void run(const Case& c) {
    const auto budget_of = [&](const Step& s) {
      const auto scaled = options_.suite.scaled(s.ms > 0 ? s.ms : options_.answer_budget_ms);
      return s.unscaled ? std::max(scaled, std::chrono::milliseconds(s.ms)) : scaled;
    };
    for (const Step& step : c.steps) {
      if (!open(step.conn)) return finish();
      Conn& conn = *conns_[step.conn];
      switch (step.kind) {
        case Step::Kind::Send:
        case Step::Kind::SendRaw: {
          const Message m = step.make ? step.make() : step.message;
          const Bytes bytes = step.kind == Step::Kind::Send ? encode_frame(m) : step.raw;
          note(step.conn,
               "-> " + (step.kind == Step::Kind::Send ? describe(m) : "raw " + to_hex(bytes)));
          judge(bytes, Sender::Client, step.conn);
          write(conn, bytes);
          continue;
        }
        case Step::Kind::Close: {
          note(step.conn, "-- syncsim closes this connection");
          checker_.on_hangup(step.conn + 1, Sender::Client, now_ns());
          checker_.on_close(step.conn + 1, now_ns());
          error_code ignored;
          conn.socket.close(ignored);
          conn.closed = conn.hung_up = true;
          continue;
        }
        case Step::Kind::Hold: {
          const auto until = Clock::now() + budget_of(step);
          view_.step_started = Clock::now();
          wait_until([] { return false; }, until);
          if (const std::string wrong = step.judge ? step.judge(view_) : ""; !wrong.empty()) {
            result_.verdict = Verdict::Fail;
            result_.detail = wrong;
            return finish();
          }
          continue;
        }
        case Step::Kind::Await: {
          const auto budget = budget_of(step);
          view_.step_started = Clock::now();
          if (!wait_until([&] { return step.ready(view_); }, Clock::now() + budget)) {
            return fail_waiting(step, budget, "it did not happen");
          }
          continue;
        }
        case Step::Kind::Hook: {
          if (!call_hook(step)) return finish();
          continue;
        }
        case Step::Kind::Expect: break;
      }
      const auto budget = budget_of(step);
      const auto deadline = Clock::now() + budget;
      view_.step_started = Clock::now();
      for (;;) {
        if (!wait_until([&] { return conn.cursor < inbox(step.conn).size() || conn.closed; },
                        deadline)) {
          return fail_waiting(step, budget, "nothing came");
        }
        if (conn.cursor >= inbox(step.conn).size()) {  // closed
          result_.verdict = Verdict::Fail;
          result_.detail =
              "expected " + step.want + "; the server " +
              (conn.stream_error.empty() ? "closed the connection"
                                         : "sent bytes that are not frames: " + conn.stream_error);
          return finish();
        }
        const Message& got = inbox(step.conn)[conn.cursor++].message;
        if (step.matches(got)) break;
        if (step.forbidden && step.forbidden(got)) {
          result_.verdict = Verdict::Fail;
          result_.detail = step.forbidden_says + ": got " + describe(got) + " before " + step.want;
          return finish();
        }
        if (unsolicited(got) || step.others_allowed) continue;
        result_.verdict = Verdict::Fail;
        result_.detail = "expected " + step.want + "; got " + describe(got);
        return finish();
      }
    }
    finish();
  }

 private:
  struct Conn {
    explicit Conn(Socket s) : socket(std::move(s)) {}
    Socket socket;
    FrameStream decoder;
    std::array<std::uint8_t, 16384> buf{};
    std::deque<Bytes> outgoing;
    std::size_t cursor = 0;  // Expect steps consume the inbox from here
    bool closed = false, hung_up = false;
    std::string stream_error;
  };

  // An operator hook (D132), run while the connections keep reading. False
  // (ERROR, not a finding) when it fails or outlives hook_timeout_s. The
  // checker is not told of a purge: the hook returns after the server acted,
  // and frames it wrote before may still be unread (D176); the case judges
  // who was told, the checker every notice it sees.
  bool call_hook(const Step& step) {
    const std::string command = hook_command(options_.hooks.at(step.hook), step.hook_values);
    note(0, "-- hook " + step.hook + ": " + command);
    HookProcess hook(step.hook, command, options_.hook_timeout_s);
    std::optional<HookOutcome> outcome;
    const auto limit =
        Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(
                           options_.hook_timeout_s * 1000 + 2000));  // poll() kills it first
    wait_until([&] { return (outcome = hook.poll()).has_value(); }, limit);
    if (!outcome) outcome = hook.abandon("did not end: an error of the run");
    note(0, "-- " + outcome->report);
    if (!outcome->ok) {
      result_.verdict = Verdict::Error;
      result_.detail = outcome->report;
      return false;
    }
    return true;
  }

  static CheckerOptions checker_options() {
    CheckerOptions c;
    c.server_unix_epoch_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    return c;
  }
  std::int64_t now_ns() {
    const std::int64_t t =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count();
    last_t_ = std::max(last_t_ + 1, t);  // strictly increasing
    return last_t_;
  }
  std::vector<Received>& inbox(std::size_t conn) { return view_.conns[conn]; }

  // A failed Expect or Await: TIMEOUT, or a FAIL naming the harness choice.
  void fail_waiting(const Step& step, std::chrono::milliseconds budget, const char* what) {
    const std::string in = std::to_string(budget.count()) + " ms";
    if (!step.choice.empty()) {
      result_.verdict = Verdict::Fail;
      result_.detail =
          step.choice + " [expected " + step.want + " within " + in + "; " + what + "]";
    } else {
      result_.verdict = Verdict::Timeout;
      result_.detail = "expected " + step.want + " within " + in + "; " + what;
    }
    finish();
  }

  static Socket make_socket(boost::asio::io_context& ioc, const ServerCheckOptions& o) {
    if constexpr (std::is_same_v<Socket, reference::WsSocket>) {
      return Socket(ioc, o.target.path);
    } else {
      return Socket(ioc);
    }
  }

  // Connects connection `i` at its first use; false (UNREACHABLE) if it cannot.
  bool open(std::size_t i) {
    if (i < conns_.size() && conns_[i]) return true;
    if (conns_.size() <= i) {
      conns_.resize(i + 1);
      view_.conns.resize(i + 1);
      view_.undecodable.resize(i + 1);
    }
    conns_[i] = std::make_unique<Conn>(make_socket(ioc_, options_));
    Conn& c = *conns_[i];
    if constexpr (std::is_same_v<Socket, reference::WsSocket>) {
      // The server's messages are judged whole (FRAME-4..7), their frames from them.
      c.socket.observe([this, i](reference::WsSocket::Kind k, std::span<const std::uint8_t> b) {
        checker_.on_ws_message(WsRecord{now_ns(), i + 1, Sender::Server, static_cast<WsKind>(k),
                                        Bytes(b.begin(), b.end()), Seen::Both});
      });
    }
    const auto deadline = Clock::now() + options_.suite.scaled(options_.answer_budget_ms);
    bool connected = false;
    error_code connect_error;
    const tcp::endpoint at(boost::asio::ip::make_address(options_.target.host),
                           options_.target.port);
    c.socket.async_connect(at, [&](error_code ec) {
      connect_error = ec;
      connected = true;
    });
    if (!wait_until([&] { return connected; }, deadline) || connect_error) {
      error_code ignored;
      c.socket.close(ignored);  // the pending connect completes (aborted) before we leave
      wait_until([&] { return connected; }, deadline + std::chrono::seconds(1));
      c.closed = true;
      result_.verdict = Verdict::Unreachable;
      result_.detail = "cannot connect to " + options_.target.text() + ": " +
                       (connect_error ? connect_error.message() : "no answer in time");
      return false;
    }
    read(i);
    return true;
  }

  bool wait_until(const std::function<bool()>& done, Clock::time_point deadline) {
    while (!done()) {
      const auto now = Clock::now();
      if (now >= deadline) return false;
      if (ioc_.stopped()) ioc_.restart();  // it stops whenever it runs out of work
      ioc_.run_one_for(std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(20)));
    }
    return true;
  }
  void note(std::size_t conn, std::string line) {
    if (conns_.size() > 1 || conn > 0) line = "[" + std::to_string(conn + 1) + "] " + line;
    if (result_.frames.size() < 96) result_.frames.push_back(std::move(line));
  }
  void judge(const Bytes& frame, Sender from, std::size_t conn) {
    checker_.on_frame(FrameRecord{now_ns(), conn + 1, from, frame, Seen::Both});
  }
  void write(Conn& c, const Bytes& bytes) {
    if (c.closed) return;
    c.outgoing.push_back(bytes);
    if (c.outgoing.size() == 1) write_next(c);
  }
  void write_next(Conn& c) {
    if (c.outgoing.empty()) return;
    auto done = [this, &c](error_code ec, std::size_t) {
      if (ec) {
        c.closed = true;
        return;
      }
      c.outgoing.pop_front();
      write_next(c);
    };
    if constexpr (std::is_same_v<Socket, reference::WsSocket>) {
      c.socket.async_write_frame(boost::asio::buffer(c.outgoing.front()), done);
    } else {
      boost::asio::async_write(c.socket, boost::asio::buffer(c.outgoing.front()), done);
    }
  }
  void read(std::size_t i) {
    Conn& c = *conns_[i];
    c.socket.async_read_some(
        boost::asio::buffer(c.buf), [this, i, &c](error_code ec, std::size_t n) {
          if (ec) {
            if (!c.closed && !c.hung_up) checker_.on_close(i + 1, now_ns());
            c.closed = true;
            return;
          }
          c.decoder.feed(std::span<const std::uint8_t>(c.buf.data(), n));
          for (;;) {
            StreamEvent ev = c.decoder.next();
            if (ev.kind == StreamEvent::Kind::NeedMore) break;
            if (ev.kind == StreamEvent::Kind::Closed ||
                (ev.kind == StreamEvent::Kind::Error && ev.fatal)) {
              c.stream_error = std::string(ev.error.rule) + ": " + ev.error.message;
              c.closed = true;
              return;
            }
            if (ev.kind != StreamEvent::Kind::Frame) continue;
            Bytes frame{ev.msg_type, static_cast<std::uint8_t>(ev.body.size()),
                        static_cast<std::uint8_t>(ev.body.size() >> 8),
                        static_cast<std::uint8_t>(ev.body.size() >> 16),
                        static_cast<std::uint8_t>(ev.body.size() >> 24)};
            frame.insert(frame.end(), ev.body.begin(), ev.body.end());
            if constexpr (!std::is_same_v<Socket, reference::WsSocket>) {
              judge(frame, Sender::Server, i);
            }
            const DecodedFrame d = decode_frame(frame);
            note(i, "<- " + (d.message ? describe(*d.message) : "undecodable " + to_hex(frame)));
            if (d.message && inbox(i).size() < kMaxInbox)
              inbox(i).push_back(Received{*d.message, Clock::now()});
            if (!d.message && view_.undecodable[i].size() < 64)
              view_.undecodable[i].push_back(frame);
          }
          read(i);
        });
  }
  void shut_all() {
    bool any = false;
    for (auto& c : conns_) {
      if (!c) continue;
      error_code ignored;
      c->socket.close(ignored);
      any = true;
    }
    if (!any) return;
    // Let pending handlers run before the sockets go.
    wait_until([] { return false; }, Clock::now() + std::chrono::milliseconds(5));
    if (ioc_.stopped()) ioc_.restart();
    ioc_.poll();
  }
  void finish() {
    shut_all();
    // The cases break client rules on purpose; only the server is judged.
    take_findings(result_, checker_.findings(), Sender::Server);
  }

  static constexpr std::size_t kMaxInbox = 100'000;
  boost::asio::io_context& ioc_;
  const ServerCheckOptions& options_;
  ServerCaseResult& result_;
  SessionChecker checker_;
  Clock::time_point started_ = Clock::now();
  std::int64_t last_t_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
  View view_;
};

std::vector<Case> all_cases(const CaseContext& ctx) {
  std::vector<Case> out = make_cases(ctx);
  for (auto* family : {&token_cases, &shape_cases, &state_cases, &fork_cases, &purge_cases}) {
    for (auto& c : (*family)(ctx)) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

const std::vector<CaseInfo>& server_cases() {
  static const std::vector<CaseInfo> kInfos = [] {
    std::vector<CaseInfo> out;
    for (const auto& c : all_cases(CaseContext{})) out.push_back(c.info);
    for (const auto& c : server_scenario_cases()) out.push_back(c);
    return out;
  }();
  return kInfos;
}

std::vector<CaseResult> check_server(boost::asio::io_context& ioc,
                                     const ServerCheckOptions& options) {
  std::vector<CaseResult> results;
  CaseContext ctx;
  ctx.token = options.token;
  ctx.jwt_secret = options.jwt_secret;
  ctx.tenant = options.tenant;
  ctx.tag = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
  for (const Case& c : all_cases(ctx)) {
    if (!options.suite.selected(c.info)) continue;
    CaseResult r = start_result(c.info, options.suite);
    if (r.verdict != Verdict::Unsupported && c.mints_tokens && options.jwt_secret.empty()) {
      r.verdict = Verdict::Unsupported;
      r.detail =
          "mints its own tokens: give the target's HS256 key (jwt_secret in the target "
          "file, or --jwt-secret)";
    }
    for (const std::string& hook : hooks_of(c)) {
      if (r.verdict == Verdict::Unsupported || options.hooks.count(hook)) continue;
      r.verdict = Verdict::Unsupported;
      r.detail = "needs the operator hook \"" + hook +
                 "\": declare it under hooks: in the target file (--target, D132)";
    }
    if (r.verdict == Verdict::Unsupported) {
      results.push_back(std::move(r));
      continue;
    }
    const auto started = std::chrono::steady_clock::now();
    if (options.target.transport == Endpoint::Transport::WebSocket) {
      CaseRun<reference::WsSocket>(ioc, options, r).run(c);
    } else {
      CaseRun<tcp::socket>(ioc, options, r).run(c);
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const bool unreachable = r.verdict == Verdict::Unreachable;
    apply_baseline(r, options.suite);
    results.push_back(std::move(r));
    if (unreachable) return results;  // fail fast: the rest would wait for the same nothing
  }
  for (const CaseInfo& c : server_scenario_cases()) {
    if (!options.suite.selected(c)) continue;
    if (!options.suite.supported(c)) {
      results.push_back(start_result(c, options.suite));
      continue;
    }
    const auto started = std::chrono::steady_clock::now();
    CaseResult r = run_server_scenario(ioc, options, c);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    apply_baseline(r, options.suite);
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace syncsim::conformance
