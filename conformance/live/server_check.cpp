#include "conformance/live/server_check.hpp"

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <functional>

#include "conformance/live/server_scenarios.hpp"
#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/frame_stream.hpp"
#include "protocol/json.hpp"
#include "reference/ws_runtime.hpp"

namespace syncsim::conformance {

using namespace protocol;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// One step of a case: send a message (or raw bytes), or expect an answer.
struct Step {
  enum class Kind { Send, SendRaw, Expect } kind = Kind::Send;
  Message message;
  Bytes raw;
  std::string want;                             // Expect: what must arrive, in words
  std::function<bool(const Message&)> matches;  // Expect: does this frame answer?
  bool others_allowed = false;                  // Expect: other answers may come first
};

struct Case {
  CaseInfo info;
  std::vector<Step> steps;
};

Step send(Message m) { return Step{Step::Kind::Send, std::move(m), {}, {}, {}, false}; }
Step send_raw(Bytes b) {
  return Step{Step::Kind::SendRaw, PingPong{}, std::move(b), {}, {}, false};
}
Step eventually(Step s) {
  s.others_allowed = true;
  return s;
}
template <class T>
Step expect(std::string want, std::function<bool(const T&)> ok = {}) {
  Step s;
  s.kind = Step::Kind::Expect;
  s.want = std::move(want);
  s.matches = [ok](const Message& m) {
    const auto* t = std::get_if<T>(&m);
    return t && (!ok || ok(*t));
  };
  return s;
}

// Frames a server may send on its own; they never answer a request.
bool unsolicited(const Message& m) {
  return std::holds_alternative<CollectionPurged>(m) || std::holds_alternative<DefinitionSync>(m) ||
         std::holds_alternative<PresenceBroadcast>(m) || std::holds_alternative<PresenceLeave>(m) ||
         std::holds_alternative<VectorClockSync>(m) || std::holds_alternative<ShapeDelta>(m) ||
         std::holds_alternative<DeltaPush>(m) ||
         (std::holds_alternative<PingPong>(m) && !std::get<PingPong>(m).is_pong);  // PING-7
}

Handshake handshake(const std::string& token, std::uint16_t wire_version = 1) {
  Handshake h;
  h.jwt_token = token;
  h.client_version = "syncsim-check/0.1";
  h.wire_version = wire_version;
  return h;
}

DeltaPush push(std::uint64_t id, Bytes delta = {7, 1}) {
  DeltaPush p;
  p.collection = "syncsim_check";
  p.document_id = "doc-" + std::to_string(id);
  p.delta = std::move(delta);
  p.peer_id = 0x5C5C;
  p.mutation_id = id;
  p.checksum = p.delta.empty() ? 0 : crc32c(p.delta);
  return p;
}

ShapeDefinition check_shape() {
  ShapeDefinition s;
  s.shape_id = "syncsim-check-all";
  s.shape_type = shape_type::Document{"syncsim_check", {}};
  return s;
}

std::vector<Case> make_cases(const std::string& token) {
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

// Drives one case over one connection of either transport.
template <class Socket>
class CaseRun {
 public:
  CaseRun(boost::asio::io_context& ioc, const ServerCheckOptions& o, ServerCaseResult& result)
      : ioc_(ioc), socket_(make_socket(ioc, o)), options_(o), result_(result) {
    if constexpr (std::is_same_v<Socket, reference::WsSocket>) {
      // The server's messages are judged whole (FRAME-4..7), their frames from them.
      socket_.observe([this](reference::WsSocket::Kind k, std::span<const std::uint8_t> b) {
        checker_.on_ws_message(WsRecord{++t_, 1, Sender::Server, static_cast<WsKind>(k),
                                        Bytes(b.begin(), b.end()), Seen::Both});
      });
    }
  }

  void run(const Case& c) {
    const auto budget = options_.suite.scaled(options_.answer_budget_ms);
    const auto deadline_for = [&] { return std::chrono::steady_clock::now() + budget; };
    bool connected = false;
    error_code connect_error;
    const tcp::endpoint at(boost::asio::ip::make_address(options_.target.host),
                           options_.target.port);
    socket_.async_connect(at, [&](error_code ec) {
      connect_error = ec;
      connected = true;
    });
    if (!wait_until([&] { return connected; }, deadline_for()) || connect_error) {
      error_code ignored;
      socket_.close(ignored);  // the pending connect completes (aborted) before we leave
      wait_until([&] { return connected; }, deadline_for());
      result_.verdict = Verdict::Unreachable;
      result_.detail = "cannot connect to " + options_.target.text() + ": " +
                       (connect_error ? connect_error.message() : "no answer in time");
      return;
    }
    read();
    for (const Step& step : c.steps) {
      if (step.kind != Step::Kind::Expect) {
        const Bytes bytes = step.kind == Step::Kind::Send ? encode_frame(step.message) : step.raw;
        note("-> " +
             (step.kind == Step::Kind::Send ? describe(step.message) : "raw " + to_hex(bytes)));
        judge(bytes, Sender::Client);
        write(bytes);
        continue;
      }
      const auto deadline = deadline_for();
      for (;;) {
        if (!wait_until([&] { return !inbox_.empty() || closed_; }, deadline)) {
          result_.verdict = Verdict::Timeout;
          result_.detail = "expected " + step.want + " within " + std::to_string(budget.count()) +
                           " ms; nothing came";
          return finish();
        }
        if (inbox_.empty()) {  // closed
          result_.verdict = Verdict::Fail;
          result_.detail =
              "expected " + step.want + "; the server " +
              (stream_error_.empty() ? "closed the connection"
                                     : "sent bytes that are not frames: " + stream_error_);
          return finish();
        }
        const Message got = std::move(inbox_.front());
        inbox_.pop_front();
        if (step.matches(got)) break;
        if (unsolicited(got) || step.others_allowed) continue;
        result_.verdict = Verdict::Fail;
        result_.detail = "expected " + step.want + "; got " + describe(got);
        return finish();
      }
    }
    finish();
  }

 private:
  static Socket make_socket(boost::asio::io_context& ioc, const ServerCheckOptions& o) {
    if constexpr (std::is_same_v<Socket, reference::WsSocket>) {
      return Socket(ioc, o.target.path);
    } else {
      return Socket(ioc);
    }
  }
  bool wait_until(const std::function<bool()>& done,
                  std::chrono::steady_clock::time_point deadline) {
    while (!done()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      if (ioc_.stopped()) ioc_.restart();  // it stops whenever it runs out of work
      ioc_.run_one_for(std::min<std::chrono::steady_clock::duration>(
          deadline - now, std::chrono::milliseconds(20)));
    }
    return true;
  }
  void note(std::string line) {
    if (result_.frames.size() < 64) result_.frames.push_back(std::move(line));
  }
  void judge(const Bytes& frame, Sender from) {
    checker_.on_frame(FrameRecord{++t_, 1, from, frame, Seen::Both});
  }
  void write(const Bytes& bytes) {
    outgoing_.push_back(bytes);
    if (outgoing_.size() == 1) write_next();
  }
  void write_next() {
    if (outgoing_.empty()) return;
    auto done = [this](error_code ec, std::size_t) {
      if (ec) {
        closed_ = true;
        return;
      }
      outgoing_.pop_front();
      write_next();
    };
    if constexpr (std::is_same_v<Socket, reference::WsSocket>) {
      socket_.async_write_frame(boost::asio::buffer(outgoing_.front()), done);
    } else {
      boost::asio::async_write(socket_, boost::asio::buffer(outgoing_.front()), done);
    }
  }
  void read() {
    socket_.async_read_some(boost::asio::buffer(buf_), [this](error_code ec, std::size_t n) {
      if (ec) {
        closed_ = true;
        return;
      }
      decoder_.feed(std::span<const std::uint8_t>(buf_.data(), n));
      for (;;) {
        StreamEvent ev = decoder_.next();
        if (ev.kind == StreamEvent::Kind::NeedMore) break;
        if (ev.kind == StreamEvent::Kind::Closed ||
            (ev.kind == StreamEvent::Kind::Error && ev.fatal)) {
          stream_error_ = std::string(ev.error.rule) + ": " + ev.error.message;
          closed_ = true;
          return;
        }
        if (ev.kind != StreamEvent::Kind::Frame) continue;
        Bytes frame{ev.msg_type, static_cast<std::uint8_t>(ev.body.size()),
                    static_cast<std::uint8_t>(ev.body.size() >> 8),
                    static_cast<std::uint8_t>(ev.body.size() >> 16),
                    static_cast<std::uint8_t>(ev.body.size() >> 24)};
        frame.insert(frame.end(), ev.body.begin(), ev.body.end());
        if constexpr (!std::is_same_v<Socket, reference::WsSocket>) judge(frame, Sender::Server);
        const DecodedFrame d = decode_frame(frame);
        note("<- " + (d.message ? describe(*d.message) : "undecodable " + to_hex(frame)));
        if (d.message) inbox_.push_back(*d.message);
      }
      read();
    });
  }
  void finish() {
    // Stop reading: close, then let pending handlers run before this object goes.
    error_code ignored;
    socket_.close(ignored);
    wait_until([] { return false; },
               std::chrono::steady_clock::now() + std::chrono::milliseconds(5));
    if (ioc_.stopped()) ioc_.restart();
    ioc_.poll();
    // The cases break client rules on purpose; only the server is judged.
    take_findings(result_, checker_.findings(), Sender::Server);
  }

  boost::asio::io_context& ioc_;
  Socket socket_;
  const ServerCheckOptions& options_;
  ServerCaseResult& result_;
  SessionChecker checker_;
  std::int64_t t_ = 0;
  FrameStream decoder_;
  std::array<std::uint8_t, 16384> buf_{};
  std::deque<Message> inbox_;
  std::deque<Bytes> outgoing_;
  bool closed_ = false;
  std::string stream_error_;
};

}  // namespace

const std::vector<CaseInfo>& server_cases() {
  static const std::vector<CaseInfo> kInfos = [] {
    std::vector<CaseInfo> out;
    for (const auto& c : make_cases("")) out.push_back(c.info);
    for (const auto& c : server_scenario_cases()) out.push_back(c);
    return out;
  }();
  return kInfos;
}

std::vector<CaseResult> check_server(boost::asio::io_context& ioc,
                                     const ServerCheckOptions& options) {
  std::vector<CaseResult> results;
  for (const Case& c : make_cases(options.token)) {
    if (!options.suite.selected(c.info)) continue;
    CaseResult r = start_result(c.info, options.suite);
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
