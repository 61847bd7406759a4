// check --client cases of §3-§4 and §5.1: the handshake, pings, the first
// subscription, and frames a client must skip.
#include <algorithm>

#include "conformance/explore/hostile.hpp"
#include "conformance/live/client_case.hpp"
#include "protocol/codec.hpp"

namespace syncsim::conformance::client_case {

using namespace protocol;

namespace {

constexpr std::int64_t kHoldAckMs = 500;  // nothing-before-ack

Outcome first_frame_is_handshake(const View& s, std::size_t) {
  if (s.got.empty()) {
    return {Verdict::Fail, "the client closed without a frame" +
                               (s.close_reason.empty() ? std::string() : ": " + s.close_reason)};
  }
  if (!std::holds_alternative<Handshake>(s.got.front()))
    return {Verdict::Fail, "expected a Handshake first; got " + describe(s.got.front())};
  return ok();
}

// After the refusal only pings may still come (a Ping already on its way).
Outcome nothing_after_refusal(const View& s, std::size_t from) {
  for (std::size_t i = from; i < s.got.size(); ++i) {
    if (!std::holds_alternative<PingPong>(s.got[i]))
      return {Verdict::Fail, "after the refusal the client sent " + describe(s.got[i])};
  }
  return ok();
}

// HS-1: between its Handshake and the (held) HandshakeAck the client sent
// nothing else. Frames that came before the ack was written were sent before
// the client could have read it, whatever the tap tolerance (D145).
Outcome nothing_before_ack(const View& s) {
  const auto first = std::find_if(s.got.begin(), s.got.end(), [](const Message& m) {
    return std::holds_alternative<Handshake>(m);
  });
  const std::size_t until = std::min(s.got.size(), s.frames_before_ack.value_or(0));
  for (auto i = static_cast<std::size_t>(first - s.got.begin()) + 1; i < until; ++i) {
    if (!std::holds_alternative<Handshake>(s.got[i]))
      return {Verdict::Fail, "HS-1: the client sent " + describe(s.got[i]) +
                                 " before its HandshakeAck (held " + s.scaled_text(kHoldAckMs) +
                                 ")"};
  }
  return ok();
}

std::vector<Case> handshake_cases() {
  Policy refuse;
  refuse.refuse_handshake = true;
  Policy hold;
  hold.hold_ack_ms = kHoldAckMs;
  return {
      {{"handshake-first", "HS-1", "the client's first frame is a Handshake", "handshake"},
       {},
       {await([](const View& s) { return !s.got.empty() || s.closed; }, 5000,
              Outcome{Verdict::Timeout, "expected a Handshake within 5000 ms; nothing came"},
              first_frame_is_handshake)}},
      {{"refused-handshake-closes", "HS-13",
        "after HandshakeAck{success: false} the client sends nothing more and closes", "handshake"},
       refuse,
       {expect<Handshake>("a Handshake", 5000),
        await([](const View& s) { return s.closed; }, 3000,
              Outcome{Verdict::Timeout, "expected the client to close within 3000 ms"},
              nothing_after_refusal)}},
      {{"nothing-before-ack", "HS-1",
        "with its HandshakeAck held 500 ms, the client sends nothing but the Handshake until the "
        "ack comes",
        "handshake"},
       hold,
       {handshaken(), judge(nothing_before_ack)}},
  };
}

std::vector<Case> ping_cases() {
  return {
      {{"pings-after-handshake", "PING-1", "the client pings right after its handshake", "ping"},
       {},
       {handshaken(),
        expect<PingPong>("a Ping", 2000, [](const PingPong& p) { return !p.is_pong; })}},
      {{"answers-server-ping", "PING-5", "a Ping from the server is answered with its timestamp",
        "ping"},
       {},
       {handshaken(), send(PingPong{515151, false}), pong(515151)}},
  };
}

std::vector<Case> shape_cases() {
  return {
      {{"subscribes-after-auth", "SHAPE-1",
        "the client subscribes after authenticating, with a non-empty shape_id", "shapes"},
       {},
       {handshaken(), subscribed(), judge([](const View& s) {
          return s.subscribed->shape_id.empty() ? Outcome{Verdict::Fail, "the shape_id is empty"}
                                                : ok();
        })}},
  };
}

// Structure-aware mutations of valid server frames (the hostile campaign's),
// re-framed so the stream stays in step, keeping only those that do not
// decode: FRAME-10 says each is ignored.
Outgoing undecodable_frames(const View&) {
  FrameMutator mutator(20261126);
  Outgoing out;
  for (int tries = 0; out.raw.size() < 300 && tries < 30'000; ++tries) {
    Mutation how{};
    Bytes f = mutator.next(how);
    if (f.size() < kFrameHeaderSize || f.size() > 64 * 1024) continue;
    const auto body = static_cast<std::uint32_t>(f.size() - kFrameHeaderSize);
    for (int k = 0; k < 4; ++k)
      f[1 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(body >> (8 * k));
    if (!is_known_code(f[0]) || decode_frame(f).valid()) continue;
    out.raw.push_back(std::move(f));
  }
  out.raw_what =
      std::to_string(out.raw.size()) + " frames of known codes whose bodies do not decode";
  return out;
}

std::vector<Case> framing_cases() {
  return {
      {{"unknown-code-skipped", "FRAME-3",
        "a frame of an unknown code is skipped; the session goes on", "framing"},
       {},
       {handshaken(), send_made([](const View&) {
          return Outgoing{
              {}, {Bytes{0x99, 3, 0, 0, 0, 1, 2, 3}}, "raw 9903000000010203 (code 0x99)"};
        }),
        send(PingPong{717171, false}), pong(717171)}},
      {{"undecodable-bodies-ignored", "FRAME-10",
        "300 hostile frames whose bodies do not decode are ignored; the session goes on",
        "framing"},
       {},
       {handshaken(), send_made(undecodable_frames), send(PingPong{818181, false}),
        pong(818181, 3000, " after the hostile frames")}},
  };
}

}  // namespace

std::vector<Case> session_cases() {
  std::vector<Case> out;
  for (auto group : {handshake_cases, ping_cases, shape_cases, framing_cases}) {
    for (auto& c : group()) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace syncsim::conformance::client_case
