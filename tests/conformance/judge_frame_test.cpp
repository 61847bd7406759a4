// The framing judge's WebSocket and receiver rules (FRAME-3/4/5/7/10/12,
// ENC-11), the answers judge (FRAME-13, HS-4) and the definition judge
// (DEF-2/3/4): for each rule a trace that breaks it and one that keeps it.
#include <gtest/gtest.h>

#include <sstream>

#include "checker_trace.hpp"
#include "conformance/checker/trace_reader.hpp"
#include "conformance/checker/trace_writer.hpp"

namespace syncsim::test {
namespace {

using namespace checker_trace;
using conformance::StateNote;
using conformance::WsKind;
using conformance::WsRecord;

// A finding of `rule` blamed on `side`.
bool flagged(const Trace& tr, std::string_view rule, Sender side) {
  for (const auto& f : tr.checker.findings()) {
    if (f.finding.rule == rule && f.blamed == side) return true;
  }
  return false;
}

void ws(Trace& tr, Sender from, WsKind kind, Bytes payload, Seen seen = Seen::Both) {
  tr.checker.on_ws_message(WsRecord{tr.t += 1000, 1, from, kind, std::move(payload), seen});
}
Bytes frame(const Message& m) { return encode_frame(m); }
Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
PingPong ping(std::uint64_t ts = 1) { return PingPong{ts, false}; }
PingPong pong(std::uint64_t ts = 1) { return PingPong{ts, true}; }
void hangup(Trace& tr, Sender side, std::int64_t after_ns = 1000) {
  tr.checker.on_hangup(1, side, tr.t += after_ns);
}

// ---- FRAME-4 / FRAME-6: one frame per binary message -------------------------

TEST(SESSION_2, FRAME_4_TwoFramesInOneMessageBlameTheSender) {
  Trace tr;
  ws(tr, Sender::Server, WsKind::Binary, cat(frame(pong()), frame(pong(2))));
  EXPECT_TRUE(flagged(tr, "FRAME-4", Sender::Server)) << tr.all();
}

TEST(SESSION_2, FRAME_4_ShortMessageHoldsNoFrame) {
  Trace tr;
  Bytes cut = frame(ping());
  cut.pop_back();
  ws(tr, Sender::Client, WsKind::Binary, cut);
  EXPECT_TRUE(flagged(tr, "FRAME-4", Sender::Client)) << tr.all();
}

TEST(SESSION_2, FRAME_4_OneFramePerMessageIsClean) {
  Trace tr;
  ws(tr, Sender::Client, WsKind::Binary, frame(hs()));
  ws(tr, Sender::Server, WsKind::Binary, frame(ok_ack()));
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
  EXPECT_EQ(tr.checker.frames(), 2u);  // the frames are judged from the messages
}

TEST(SESSION_2, FRAME_6_BytesAfterTheFrameAreAWarning) {
  Trace tr;
  ws(tr, Sender::Client, WsKind::Binary, cat(frame(hs()), Bytes{0, 0}));
  EXPECT_TRUE(flagged(tr, "FRAME-6", Sender::Client)) << tr.all();
  EXPECT_FALSE(tr.has("FRAME-4")) << tr.all();
}

// The frame a message carries is judged as on_frame would: a server that
// answers the message's Handshake keeps HS-2.
TEST(SESSION_2, FRAME_4_MessageFrameReachesTheSessionJudges) {
  Trace tr;
  ws(tr, Sender::Client, WsKind::Binary, cat(frame(hs()), Bytes{1}));
  tr.checker.finish(tr.t += 20'000 * kMs);
  EXPECT_TRUE(tr.has("HS-2")) << tr.all();  // the Handshake was read and never answered
}

// ---- FRAME-5 / FRAME-7: messages the receiver ignores ---------------------------

TEST(SESSION_2, FRAME_5_ReceiverHangsUpAfterShortMessage) {
  Trace tr;
  ws(tr, Sender::Client, WsKind::Binary, Bytes{0xff, 1});
  hangup(tr, Sender::Server, 5 * kMs);
  EXPECT_TRUE(flagged(tr, "FRAME-5", Sender::Server)) << tr.all();
}

TEST(SESSION_2, FRAME_5_ReceiverThatGoesOnIsClean) {
  Trace tr;
  ws(tr, Sender::Client, WsKind::Binary, Bytes{0xff, 1});
  ws(tr, Sender::Server, WsKind::Binary, frame(pong()));
  hangup(tr, Sender::Server, 5 * kMs);
  EXPECT_FALSE(tr.has("FRAME-5")) << tr.all();
  // ... and so is a hang-up long after, or one by the sender itself.
  Trace late;
  ws(late, Sender::Client, WsKind::Binary, Bytes{0xff, 1});
  hangup(late, Sender::Server, 2000 * kMs);
  hangup(late, Sender::Client, 1000);
  EXPECT_FALSE(late.has("FRAME-5")) << late.all();
}

TEST(SESSION_2, FRAME_7_SyncFrameInTextMessage) {
  Trace tr;
  ws(tr, Sender::Client, WsKind::Text, frame(ping()));
  EXPECT_TRUE(flagged(tr, "FRAME-7", Sender::Client)) << tr.all();
}

TEST(SESSION_2, FRAME_7_ReceiverHangsUpAfterText) {
  Trace tr;
  ws(tr, Sender::Client, WsKind::Text, Bytes{'h', 'i'});
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();  // text without a frame is allowed
  hangup(tr, Sender::Server, 1 * kMs);
  EXPECT_TRUE(flagged(tr, "FRAME-7", Sender::Server)) << tr.all();
  // A message the receiver never got (a proxy read it: Seen::Written) binds nobody.
  Trace proxy;
  ws(proxy, Sender::Client, WsKind::Text, Bytes{'h', 'i'}, Seen::Written);
  hangup(proxy, Sender::Server, 1 * kMs);
  EXPECT_TRUE(proxy.checker.findings().empty()) << proxy.all();
}

// ---- FRAME-12: WebSocket Ping and Close ------------------------------------------

TEST(SESSION_2, FRAME_12_PingNeverAnswered) {
  Trace tr;
  ws(tr, Sender::Client, WsKind::Ping, Bytes{7});
  tr.checker.finish(tr.t += 20'000 * kMs);
  EXPECT_TRUE(flagged(tr, "FRAME-12", Sender::Server)) << tr.all();
}

TEST(SESSION_2, FRAME_12_PingAnsweredWithItsPayload) {
  Trace tr;
  ws(tr, Sender::Client, WsKind::Ping, Bytes{7});
  ws(tr, Sender::Client, WsKind::Ping, Bytes{8});
  ws(tr, Sender::Server, WsKind::Pong, Bytes{8});  // the latest only (RFC 6455)
  tr.checker.finish(tr.t += 20'000 * kMs);
  EXPECT_FALSE(tr.has("FRAME-12")) << tr.all();
  Trace wrong;
  ws(wrong, Sender::Client, WsKind::Ping, Bytes{7});
  ws(wrong, Sender::Server, WsKind::Pong, Bytes{9});
  wrong.checker.finish(wrong.t += 20'000 * kMs);
  EXPECT_TRUE(wrong.has("FRAME-12")) << wrong.all();
}

TEST(SESSION_2, FRAME_12_ServerGoesOnAfterClose) {
  Trace tr;
  ws(tr, Sender::Client, WsKind::Close, {});
  tr.wait_ms(1000);
  ws(tr, Sender::Server, WsKind::Binary, frame(pong()));
  EXPECT_TRUE(flagged(tr, "FRAME-12", Sender::Server)) << tr.all();
  Trace ok;
  ws(ok, Sender::Client, WsKind::Close, {});
  ws(ok, Sender::Server, WsKind::Close, {});
  ok.on_close_both(1);
  ok.checker.finish(ok.t += 20'000 * kMs);
  EXPECT_FALSE(ok.has("FRAME-12")) << ok.all();
}

// ---- FRAME-3 / FRAME-10 / ENC-11: frames the receiver ignores or accepts ---------

TEST(SESSION_2, FRAME_3_ReceiverHangsUpAfterUnknownCode) {
  Trace tr;
  tr.checker.on_frame(
      FrameRecord{tr.t += 1000, 1, Sender::Server, Bytes{0x99, 0, 0, 0, 0}, Seen::Received});
  hangup(tr, Sender::Client, 0);
  EXPECT_TRUE(flagged(tr, "FRAME-3", Sender::Client)) << tr.all();
}

TEST(SESSION_2, FRAME_3_ReceiverThatReadsOnIsClean) {
  Trace tr;
  tr.checker.on_frame(
      FrameRecord{tr.t += 1000, 1, Sender::Server, Bytes{0x99, 0, 0, 0, 0}, Seen::Received});
  tr.cr(ok_ack());  // a good frame read since: the hang-up may answer it
  hangup(tr, Sender::Client, 0);
  EXPECT_FALSE(tr.has("FRAME-3")) << tr.all();
  // In the simulator the reader hangs up in the instant it reads.
  Trace later;
  later.checker.on_frame(
      FrameRecord{later.t += 1000, 1, Sender::Server, Bytes{0x99, 0, 0, 0, 0}, Seen::Received});
  hangup(later, Sender::Client, 1);
  EXPECT_FALSE(later.has("FRAME-3")) << later.all();
}

TEST(SESSION_2, FRAME_10_ReceiverHangsUpAfterUndecodableBody) {
  Trace tr;
  tr.c(hs());
  tr.checker.on_frame(FrameRecord{tr.t += 1000, 1, Sender::Client, Bytes{0xff, 1, 0, 0, 0, 0xc1}});
  hangup(tr, Sender::Server, 3 * kMs);
  EXPECT_TRUE(flagged(tr, "FRAME-10", Sender::Server)) << tr.all();
  // A header over 16 MiB closes the connection by right (FRAME-9).
  Trace big;
  big.checker.on_frame(
      FrameRecord{big.t += 1000, 1, Sender::Client, Bytes{0xff, 0xff, 0xff, 0xff, 0x7f}});
  hangup(big, Sender::Server, 3 * kMs);
  EXPECT_FALSE(big.has("FRAME-10")) << big.all();
}

TEST(SESSION_2, FRAME_10_ReceiverThatAnswersIsClean) {
  Trace tr;
  tr.checker.on_frame(FrameRecord{tr.t += 1000, 1, Sender::Client, Bytes{0xff, 1, 0, 0, 0, 0xc1}});
  tr.s(pong());
  hangup(tr, Sender::Server, 3 * kMs);
  EXPECT_FALSE(tr.has("FRAME-10")) << tr.all();
}

TEST(SESSION_2, ENC_11_ReceiverHangsUpAfterBytesAfterTheValue) {
  Bytes f = frame(ping());
  f.push_back(0xc0);  // a byte after the body's value: inside the envelope (§3.6)
  f[1] = static_cast<std::uint8_t>(f.size() - 5);
  Trace tr;
  tr.checker.on_frame(FrameRecord{tr.t += 1000, 1, Sender::Client, f});
  hangup(tr, Sender::Server, 3 * kMs);
  EXPECT_TRUE(flagged(tr, "ENC-11", Sender::Server)) << tr.all();
  Trace ok;
  ok.checker.on_frame(FrameRecord{ok.t += 1000, 1, Sender::Client, f});
  ok.s(pong());
  hangup(ok, Sender::Server, 3 * kMs);
  EXPECT_FALSE(ok.has("ENC-11")) << ok.all();
}

// ---- FRAME-13: answers in request order -------------------------------------------

TEST(SESSION_2, FRAME_13_AnswerOutOfRequestOrder) {
  Trace tr;
  tr.cw(hs());
  tr.sr(hs());
  tr.sw(ok_ack());
  TimeseriesPush ts;
  ts.collection = "m";
  tr.cw(ts);
  tr.sr(ts);
  tr.cw(ping());
  tr.sr(ping());
  tr.sw(pong());
  tr.sw(TimeseriesAck{"m", 0, 0, 0});  // answers the push read before the Ping
  EXPECT_TRUE(flagged(tr, "FRAME-13", Sender::Server)) << tr.all();
}

TEST(SESSION_2, FRAME_13_AnswersInOrderAndUnansweredRequestsAreClean) {
  Trace tr;
  tr.c(hs());
  tr.s(ok_ack());
  TimeseriesPush ts;
  ts.collection = "m";
  tr.c(ts);
  tr.s(TimeseriesAck{"m", 0, 0, 0});
  tr.c(subscribe("s1"));  // never answered here
  tr.c(ping());
  tr.s(pong());
  tr.c(push(1));
  tr.s(DeltaAck{.mutation_id = 1, .lsn = 1});
  EXPECT_FALSE(tr.has("FRAME-13")) << tr.all();
}

// ---- HS-4: wire versions ---------------------------------------------------------

TEST(SESSION_2, HS_4_NewerVersionAccepted) {
  Trace tr;
  Handshake h = hs();
  h.wire_version = 5;
  tr.c(h);
  tr.s(ok_ack());
  EXPECT_TRUE(flagged(tr, "HS-4", Sender::Server)) << tr.all();
}

TEST(SESSION_2, HS_4_NewerVersionRefusedWithTheFixedText) {
  Trace tr;
  Handshake h = hs();
  h.wire_version = 5;
  tr.c(h);
  HandshakeAck no;
  no.session_id = "s";
  no.server_wire_version = 4;
  no.error =
      "incompatible wire version: version compatibility: remote wire version 5 is newer than "
      "local 4; upgrade this node";
  tr.s(no);
  EXPECT_FALSE(tr.has("HS-4")) << tr.all();
  Trace other;
  other.c(h);
  no.error = "version too new";
  other.s(no);
  EXPECT_TRUE(flagged(other, "HS-4", Sender::Server)) << other.all();
}

TEST(SESSION_2, HS_4_SupportedVersionRefusedForItsVersion) {
  Trace tr;
  Handshake h = hs();
  h.wire_version = 4;
  tr.c(h);
  HandshakeAck no;
  no.session_id = "s";
  no.server_wire_version = 4;
  no.error = "incompatible wire version: whatever";
  tr.s(no);
  EXPECT_TRUE(flagged(tr, "HS-4", Sender::Server)) << tr.all();
}

// ---- DEF-2 / DEF-3: the client's stored definitions (state notes) --------------

Bytes json(const std::string& s) { return Bytes(s.begin(), s.end()); }
void def_note(Trace& tr, const std::string& outcome, const std::string& stored) {
  tr.checker.on_note(StateNote{
      tr.t, 1, Sender::Client, "definition", {{"outcome", outcome}, {"stored_bytes", stored}}});
}

TEST(SESSION_2, DEF_2_DeleteLeavesDefinitionStored) {
  Trace tr;
  tr.cr(DefinitionSync{"function", "f", "delete", {}});
  def_note(tr, "ignored", "2");
  EXPECT_TRUE(flagged(tr, "DEF-2", Sender::Client)) << tr.all();
}

TEST(SESSION_2, DEF_2_PutStoresAndDeleteRemoves) {
  Trace tr;
  tr.cr(DefinitionSync{"function", "f", "put", json("{}")});
  def_note(tr, "stored", "2");
  tr.cr(DefinitionSync{"function", "f", "delete", {}});
  def_note(tr, "deleted", "none");
  tr.cr(DefinitionSync{"function", "f", "delete", {}});  // a no-op: still absent
  def_note(tr, "deleted", "none");
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
  Trace stale;
  stale.cr(DefinitionSync{"function", "f", "put", json("{\"a\":1}")});
  def_note(stale, "stored", "2");  // the old payload kept
  EXPECT_TRUE(flagged(stale, "DEF-2", Sender::Client)) << stale.all();
}

TEST(SESSION_2, DEF_3_BadDefinitionStored) {
  Trace tr;
  tr.sw(DefinitionSync{"function", "f", "archive", json("{}")});
  tr.cr(DefinitionSync{"function", "f", "archive", json("{}")});
  def_note(tr, "stored", "2");
  EXPECT_TRUE(flagged(tr, "DEF-3", Sender::Client)) << tr.all();
  // DEF-1 blames the server for sending it, never the client.
  EXPECT_TRUE(flagged(tr, "DEF-1", Sender::Server)) << tr.all();
}

TEST(SESSION_2, DEF_3_BadDefinitionIgnored) {
  Trace tr;
  tr.cr(DefinitionSync{"view", "f", "put", json("{}")});
  def_note(tr, "ignored", "none");
  tr.cr(DefinitionSync{"function", "f", "put", json("{bad")});
  def_note(tr, "ignored", "none");
  EXPECT_FALSE(tr.has("DEF-3")) << tr.all();
}

// ---- DEF-4: fan-out and the replay after a handshake ---------------------------

TEST(SESSION_2, DEF_4_ReplayOutOfOrder) {
  Trace tr;
  tr.cw(hs());
  tr.sr(hs());
  tr.t += 1000;
  const std::int64_t at = tr.t;
  auto sw_at = [&](const Message& m) {
    tr.checker.on_frame(FrameRecord{at, 1, Sender::Server, encode_frame(m), Seen::Written});
  };
  sw_at(ok_ack());
  sw_at(DefinitionSync{"trigger", "a", "put", json("{}")});
  sw_at(DefinitionSync{"function", "z", "put", json("{}")});
  EXPECT_TRUE(flagged(tr, "DEF-4", Sender::Server)) << tr.all();
}

TEST(SESSION_2, DEF_4_ReplayOrderedThenBroadcastsAreClean) {
  Trace tr;
  tr.cw(hs());
  tr.sr(hs());
  tr.t += 1000;
  const std::int64_t at = tr.t;
  auto sw_at = [&](const Message& m, std::int64_t t) {
    tr.checker.on_frame(FrameRecord{t, 1, Sender::Server, encode_frame(m), Seen::Written});
  };
  sw_at(ok_ack(), at);
  sw_at(DefinitionSync{"function", "z", "put", json("{}")}, at);
  sw_at(DefinitionSync{"trigger", "a", "put", json("{}")}, at);
  // Later changes are broadcasts, in the order they happen.
  sw_at(DefinitionSync{"function", "b", "put", json("{}")}, at + 5 * kMs);
  EXPECT_FALSE(tr.has("DEF-4")) << tr.all();
}

TEST(SESSION_2, DEF_4_ChangeMissesAnotherSessionOfTheTenant) {
  Trace tr;
  tr.c(hs(), 1);
  tr.s(ok_ack("a"), 1);
  tr.c(hs(), 2);
  tr.s(ok_ack("b"), 2);
  tr.wait_ms(100);
  tr.s(DefinitionSync{"function", "f", "put", json("{}")}, 1);
  tr.checker.finish(tr.t += 20'000 * kMs);
  EXPECT_TRUE(flagged(tr, "DEF-4", Sender::Server)) << tr.all();
  Trace ok;
  ok.c(hs(), 1);
  ok.s(ok_ack("a"), 1);
  ok.c(hs(), 2);
  ok.s(ok_ack("b"), 2);
  ok.wait_ms(100);
  ok.s(DefinitionSync{"function", "f", "put", json("{}")}, 1);
  ok.s(DefinitionSync{"function", "f", "put", json("{}")}, 2);
  ok.checker.finish(ok.t += 20'000 * kMs);
  EXPECT_FALSE(ok.has("DEF-4")) << ok.all();
}

// ---- blame and the trace format ------------------------------------------------

TEST(SESSION_2, DEF_1_ClientSendingDefinitionSyncIsBlamedOnTheClient) {
  Trace tr;
  tr.c(DefinitionSync{"view", "", "upsert", json("[")});
  EXPECT_TRUE(flagged(tr, "FRAME-11", Sender::Client)) << tr.all();
  EXPECT_FALSE(tr.has("DEF-1")) << tr.all();
}

TEST(SESSION_2, WebSocketRecordsRoundTripThroughTraceFiles) {
  std::ostringstream out;
  conformance::write_trace_ws(out, WsRecord{5, 2, Sender::Server, WsKind::Binary,
                                            cat(frame(pong()), frame(pong(2))), Seen::Written});
  conformance::write_trace_ws(out, WsRecord{6, 2, Sender::Client, WsKind::Ping, Bytes{1, 2}});
  conformance::write_trace_hangup(out, 7, 2, Sender::Client);
  const auto read = conformance::read_trace(out.str(), "t.jsonl");
  ASSERT_TRUE(read.error.empty()) << read.error;
  ASSERT_EQ(read.items.size(), 3u);
  EXPECT_EQ(read.items[0].kind, conformance::TraceItem::Kind::Ws);
  EXPECT_EQ(read.items[0].ws.seen, Seen::Written);
  EXPECT_EQ(read.items[0].ws.payload, cat(frame(pong()), frame(pong(2))));
  EXPECT_EQ(read.items[1].ws.kind, WsKind::Ping);
  EXPECT_EQ(read.items[2].kind, conformance::TraceItem::Kind::Hangup);
  EXPECT_EQ(read.items[2].side, Sender::Client);
  conformance::SessionChecker c;
  conformance::replay(c, read.items);
  bool two = false;
  for (const auto& f : c.findings()) two = two || f.finding.rule == "FRAME-4";
  EXPECT_TRUE(two);
  const auto bad = conformance::read_trace(
      "{\"t\":1,\"conn\":1,\"from\":\"client\",\"ws\":\"blob\",\"payload_hex\":\"\"}\n", "b.jsonl");
  EXPECT_FALSE(bad.error.empty());
}

}  // namespace
}  // namespace syncsim::test
