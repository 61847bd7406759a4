// check --server cases of §5.8 (presence), §5.10 (timeseries), §5.12
// (vector clocks) and §3.2 (i64 encoding): state a server keeps per session
// and per tenant, and the one i64 field a server writes.
#include <chrono>
#include <memory>

#include "conformance/live/server_case.hpp"
#include "protocol/json.hpp"
#include "reference/gorilla.hpp"

namespace syncsim::conformance::server_case {

using namespace protocol;

namespace state_steps {

constexpr std::size_t kA = 0, kB = 1;

Step present(const std::string& channel, std::uint8_t state, std::size_t conn) {
  return send(PresenceUpdate{channel, {state}}, conn);
}

// A Ping answered on `conn`: every frame sent before it on `conn` was read.
std::vector<Step> barrier(std::uint64_t ts, std::size_t conn) {
  return {send(PingPong{ts, false}, conn), pong(ts, conn)};
}

std::vector<Step> joined(std::vector<std::vector<Step>> parts) {
  std::vector<Step> out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::size_t presence_frames(const View& v, std::size_t conn, const std::string& channel) {
  return count<PresenceBroadcast>(
             v, conn, [&](const PresenceBroadcast& b) { return b.channel == channel; }) +
         count<PresenceLeave>(v, conn,
                              [&](const PresenceLeave& l) { return l.channel == channel; });
}

}  // namespace state_steps

std::vector<Case> state_cases(const CaseContext& ctx) {
  using namespace state_steps;
  std::vector<Case> out;
  const std::string& token = ctx.token;
  const std::uint32_t other = ctx.tenant == 0xFFFF'FFFFu ? ctx.tenant - 1 : ctx.tenant + 1;

  {  // PRES-2: a PresenceBroadcast goes to the other peers, never to the sender.
    const std::string ch = ctx.collection("room-echo");
    out.push_back(
        {{"presence-not-echoed", "PRES-2",
          "two peers of a channel: each update is broadcast to the other peer (listing "
          "both), never to its sender",
          "presence"},
         joined({{send(handshake(token), kA), handshake_ok(kA), send(handshake(token), kB),
                  handshake_ok(kB), present(ch, 1, kA)},
                 barrier(41, kA),
                 {present(ch, 2, kB),
                  on(kA, expect<PresenceBroadcast>("PresenceBroadcast{channel, peers: [2 peers]}",
                                                   [ch](const PresenceBroadcast& b) {
                                                     return b.channel == ch && b.peers.size() == 2;
                                                   }))},
                 barrier(42, kB),
                 {hold(300, [ch](const View& v) -> std::string {
                   if (const auto n = presence_frames(v, kB, ch); n > 0)
                     return "PRES-2 broken: the sender of a PresenceUpdate got " +
                            std::to_string(n) + " presence frame(s) of its own update";
                   if (const auto n = presence_frames(v, kA, ch); n != 1)
                     return "PRES-2 broken: the first peer got " + std::to_string(n) +
                            " presence frames, expected 1 (the other peer's update; "
                            "never its own)";
                   return "";
                 })}})});
  }

  {  // PRES-5: a closed session leaves its channels.
    const std::string ch = ctx.collection("room-leave");
    out.push_back(
        {{"presence-leave-on-disconnect", "PRES-5",
          "a peer that disconnects is announced to the remaining peer by PresenceLeave",
          "presence"},
         joined(
             {{send(handshake(token), kA), handshake_ok(kA), send(handshake(token), kB),
               handshake_ok(kB), present(ch, 1, kA)},
              barrier(43, kA),
              {present(ch, 2, kB),
               on(kA, expect<PresenceBroadcast>(
                          "PresenceBroadcast{channel}",
                          [ch](const PresenceBroadcast& b) { return b.channel == ch; })),
               close_conn(kB),
               on(kA, expect<PresenceLeave>("PresenceLeave{channel}", [ch](const PresenceLeave& l) {
                    return l.channel == ch;
                  }))}})});
  }

  {  // PRES-7: channels of one name in two tenants are two channels.
    const std::string ch = ctx.collection("room-tenants");
    Case c{{"presence-stays-in-tenant", "PRES-7",
            "peers of a channel of the same name in another tenant get none of its presence",
            "presence"},
           joined({{send_made([ctx]() -> Message { return handshake(ctx.mint(ctx.tenant)); }, kA),
                    handshake_ok(kA),
                    send_made([ctx, other]() -> Message { return handshake(ctx.mint(other)); }, kB),
                    handshake_ok(kB), present(ch, 1, kA)},
                   barrier(44, kA),
                   {present(ch, 2, kB)},
                   barrier(45, kB),
                   {hold(300,
                         [ch](const View& v) -> std::string {
                           const auto a = presence_frames(v, kA, ch),
                                      b = presence_frames(v, kB, ch);
                           if (a + b > 0)
                             return "PRES-7 broken: sessions of two tenants on channel \"" + ch +
                                    "\" got " + std::to_string(a + b) +
                                    " presence frame(s) of each other";
                           return "";
                         })}}),
           true};
    out.push_back(std::move(c));
  }

  {  // TS-3: the ack counts what the blocks hold, not what sample_count says.
    const std::string coll = ctx.collection("ts");
    TimeseriesPush p;
    p.lite_id = "syncsim-check";
    p.collection = coll;
    const std::int64_t times[] = {1000, 2000, 3000};
    const double values[] = {1.5, 2.5, 3.5};
    p.ts_block = reference::ts_block_of(times);
    p.val_block = reference::val_block_of(values);
    p.sample_count = 5;  // two more than the blocks hold
    p.min_ts = 1000;
    p.max_ts = 3000;  // series_block empty: allowed (TS-7)
    out.push_back(
        {{"timeseries-ack-counts-blocks", "TS-3",
          "a TimeseriesPush whose blocks hold 3 samples but says 5 (and has no series_block, "
          "TS-7) is acked accepted 3, rejected 2, lsn > 0",
          "deltas"},
         {send(handshake(token)), handshake_ok(), send(p),
          expect<TimeseriesAck>("TimeseriesAck{collection, accepted: 3, rejected: 2, lsn > 0}",
                                [coll](const TimeseriesAck& a) {
                                  return a.collection == coll && a.accepted == 3 &&
                                         a.rejected == 2 && a.lsn > 0;
                                })}});
  }

  {  // VCLOCK-1/2: the session clock keeps the maximum per key.
    const std::string key = ctx.collection("clock");
    auto clock_says = [key](std::uint64_t want) {
      return expect<VectorClockSync>(
          "VectorClockSync{clocks: {\"" + key + "\": " + std::to_string(want) + "}}",
          [key, want](const VectorClockSync& v) {
            const auto it = v.clocks.find(key);
            return it != v.clocks.end() && it->second == want;
          });
    };
    out.push_back({{"vector-clock-keeps-maximum", "VCLOCK-1",
                    "VectorClockSync {k: 5} then {k: 3}: both answers hold k = 5", "deltas"},
                   {send(handshake(token)), handshake_ok(), send(VectorClockSync{{{key, 5}}, 1}),
                    clock_says(5), send(VectorClockSync{{{key, 3}}, 1}), clock_says(5)}});
  }

  {  // VCLOCK-6: a HandshakeAck's server_clock is the session's, empty at first.
    const std::string coll = ctx.collection("ackclock");
    out.push_back(
        {{"handshake-clock-is-the-sessions", "VCLOCK-6",
          "after another session wrote to a collection, a new session's HandshakeAck has an "
          "empty server_clock",
          "handshake"},
         {send(handshake(token), kB), handshake_ok(kB), send(push(1, {7, 1}, coll), kB),
          acked(1, kB), send(handshake(token), kA),
          on(kA, expect<HandshakeAck>(
                     "HandshakeAck{success: true, server_clock: {}}",
                     [](const HandshakeAck& a) { return a.success && a.server_clock.empty(); }))}});
  }

  {  // ENC-3 (§3.2): a positive i64 >= 128 is written with a signed marker.
    const std::string coll = ctx.collection("skew");
    DeltaPush p = push(1, {7, 1}, coll);
    p.device_valid_time_ms = 1;  // 1970: the server's clock is decades ahead (DELTA-15)
    out.push_back(
        {{"i64-in-smallest-signed-form", "ENC-3",
          "a push stamped in 1970 draws DeltaAck.clock_skew_warning_ms > 24 h, written with a "
          "signed marker (d3), which decodes",
          "deltas"},
         {send(handshake(token)), handshake_ok(), send(p),
          await("a DeltaAck{mutation_id: 1} (or a frame that does not decode)",
                [](const View& v) {
                  return count<DeltaAck>(v, 0, {}) > 0 || !v.undecodable[0].empty();
                }),
          hold(0, [](const View& v) -> std::string {
            if (!v.undecodable[0].empty())
              return "ENC-3 broken: a frame that does not decode under §3 (an i64 written with "
                     "an unsigned marker?): " +
                     to_hex(v.undecodable[0].front());
            for (const auto& r : v.of(0)) {
              const auto* a = std::get_if<DeltaAck>(&r.message);
              if (!a) continue;
              if (!a->clock_skew_warning_ms || *a->clock_skew_warning_ms <= 86'400'000)
                return "DELTA-15: expected clock_skew_warning_ms > 86400000 for a push stamped "
                       "at 1 ms after the epoch; got " +
                       describe(*a);
            }
            return "";
          })}});
  }
  return out;
}

}  // namespace syncsim::conformance::server_case
