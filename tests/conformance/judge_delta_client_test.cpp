// The delta leftovers (issue 15): the order of the server's checks (DELTA-3)
// and what a client does after an answer (DELTA-12/13/14/16/18). Each rule
// has a trace that breaks it and one that keeps it.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test::judge_delta_client {
namespace {

using namespace protocol;
using namespace checker_trace;

void open(Trace& tr, std::uint64_t conn = 1) {
  tr.cw(hs(), conn);
  tr.sr(hs(), conn);
  tr.sw(ok_ack("sync-a:" + std::to_string(conn)), conn);
  tr.cr(ok_ack("sync-a:" + std::to_string(conn)), conn);
}
// A push written and read.
void pushed(Trace& tr, std::uint64_t mid) {
  tr.cw(push(mid));
  tr.sr(push(mid));
}
template <class M>
void answered(Trace& tr, const M& m) {
  tr.sw(m);
  tr.cr(m);
}
std::size_t count(const Trace& tr, std::string_view rule) {
  std::size_t n = 0;
  for (const auto& f : tr.checker.findings()) n += f.finding.rule == rule;
  return n;
}
DeltaReject rejected(std::uint64_t mid, std::string reason, std::optional<CompensationHint> h) {
  return DeltaReject{mid, std::move(reason), std::move(h)};
}

// ---- DELTA-3: the order of §5.3.2 ------------------------------------------

TEST(DELTA_3, ADuplicateRejectedByALaterStepIsTheServers) {
  Trace tr;
  open(tr);
  pushed(tr, 1);
  answered(tr, DeltaAck{1, 1, std::nullopt});
  pushed(tr, 1);
  answered(tr, rejected(1, "rate limited", compensation::RateLimited{10}));
  EXPECT_TRUE(tr.blamed("DELTA-3", Sender::Server)) << tr.all();
}

TEST(DELTA_3, ADuplicateAckedWithLsnZeroKeepsIt) {
  Trace tr;
  open(tr);
  pushed(tr, 1);
  answered(tr, DeltaAck{1, 0, std::nullopt});  // Origin: lsn 0 for every ack
  pushed(tr, 1);
  answered(tr, DeltaAck{1, 0, std::nullopt});
  pushed(tr, 2);
  answered(tr, rejected(2, "rate limited", compensation::RateLimited{10}));  // not a duplicate
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_FALSE(tr.has("DELTA-3")) << tr.all();
}

TEST(DELTA_3, ADuplicateDroppedSilentlyIsTheServers) {
  Trace tr;
  open(tr);
  pushed(tr, 2);
  answered(tr, DeltaAck{2, 1, std::nullopt});
  pushed(tr, 1);  // at or below 2: step 4 acknowledges it ...
  pushed(tr, 3);
  answered(tr, DeltaAck{3, 2, std::nullopt});  // ... but only 3 is answered
  EXPECT_TRUE(tr.blamed("DELTA-3", Sender::Server)) << tr.all();

  Trace at_end;  // never answered at all
  open(at_end);
  pushed(at_end, 2);
  answered(at_end, DeltaAck{2, 1, std::nullopt});
  pushed(at_end, 2);
  at_end.checker.finish(at_end.t + 60 * kS);
  EXPECT_TRUE(at_end.has("DELTA-3")) << at_end.all();
}

TEST(DELTA_3, APushDroppedByTheRateLimitBeforeAnyAcceptanceKeepsIt) {
  Trace tr;
  open(tr);
  pushed(tr, 1);  // dropped silently (step 6): nothing accepted yet
  pushed(tr, 2);
  answered(tr, DeltaAck{2, 1, std::nullopt});
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_FALSE(tr.has("DELTA-3")) << tr.all();
}

TEST(DELTA_3, NotAuthenticatedOnAnAuthenticatedSessionIsTheServers) {
  Trace tr;
  open(tr);
  pushed(tr, 1);
  answered(tr, rejected(1, "not authenticated", compensation::PermissionDenied{}));
  EXPECT_TRUE(tr.blamed("DELTA-3", Sender::Server)) << tr.all();

  Trace before;  // before the handshake it is step 1's answer
  pushed(before, 1);
  answered(before, rejected(1, "not authenticated", compensation::PermissionDenied{}));
  EXPECT_FALSE(before.has("DELTA-3")) << before.all();
}

// ---- DELTA-12 / DELTA-16: an acknowledged mutation is done with -------------

TEST(DELTA_12, AnAckedMutationSentAgainIsTheClients) {
  Trace tr;
  open(tr);
  pushed(tr, 1);
  answered(tr, DeltaAck{1, 1, std::nullopt});
  tr.wait_ms(2500);
  tr.cw(push(1));
  EXPECT_TRUE(tr.blamed("DELTA-12", Sender::Client)) << tr.all();
  EXPECT_EQ(count(tr, "DELTA-12"), 1u);
}

TEST(DELTA_12, ARetransmissionWrittenBeforeTheAckWasReadKeepsIt) {
  Trace tr;
  open(tr);
  pushed(tr, 1);
  tr.sw(DeltaAck{1, 1, std::nullopt});
  tr.cw(push(1));  // crossed the ack
  tr.cr(DeltaAck{1, 1, std::nullopt});
  tr.sr(push(1));
  answered(tr, DeltaAck{1, 0, std::nullopt});
  tr.cw(push(2));
  EXPECT_FALSE(tr.has("DELTA-12")) << tr.all();
}

TEST(DELTA_12, AtATapARetransmissionAfterTheAckPassedIsNotJudged) {
  Trace tr;  // frames seen in passing: when the client read the ack is unknown
  tr.c(hs());
  tr.s(ok_ack());
  tr.c(push(1));
  tr.s(DeltaAck{1, 1, std::nullopt});
  tr.wait_ms(3000);  // a partition after the tap holds the ack
  tr.c(push(1));
  EXPECT_FALSE(tr.has("DELTA-12")) << tr.all();
}

TEST(DELTA_12, OnANewConnectionAnAckedMutationStaysDone) {
  // One client (its lite_id) across two connections.
  Trace same;
  Handshake h = hs();
  h.lite_id = "lite-a";
  h.epoch = 1;
  same.cw(h, 1);
  same.sr(h, 1);
  answered(same, ok_ack("sync-a:1"));
  pushed(same, 1);
  answered(same, DeltaAck{1, 1, std::nullopt});
  same.on_close_both(1);
  h.epoch = 2;
  same.cw(h, 2);
  same.sr(h, 2);
  same.sw(ok_ack("sync-a:2"), 2);
  same.cr(ok_ack("sync-a:2"), 2);
  same.cw(push(1), 2);
  EXPECT_TRUE(same.blamed("DELTA-12", Sender::Client)) << same.all();
}

TEST(DELTA_16, AMutationAckedWithASkewWarningSentAgainIsTheClients) {
  Trace tr;
  open(tr);
  pushed(tr, 1);
  answered(tr, DeltaAck{1, 1, std::int64_t{-172'800'000}});
  tr.wait_ms(2500);
  tr.cw(push(1));
  EXPECT_TRUE(tr.blamed("DELTA-16", Sender::Client)) << tr.all();
  EXPECT_FALSE(tr.has("DELTA-12")) << tr.all();

  Trace keeps;
  open(keeps);
  pushed(keeps, 1);
  answered(keeps, DeltaAck{1, 1, std::int64_t{-172'800'000}});
  keeps.wait_ms(2500);
  keeps.cw(push(2));
  EXPECT_FALSE(keeps.has("DELTA-16")) << keeps.all();
}

// ---- DELTA-13: an ack covers its own id only (Profile) ---------------------

conformance::CheckerOptions profiled() {
  conformance::CheckerOptions o;
  o.client_profile.retransmit_ns = 2000 * kMs;
  o.client_profile.push_tick_ns = 100 * kMs;
  return o;
}

TEST(DELTA_13, AMutationForgottenAfterAHigherAckIsTheClients) {
  Trace tr(profiled());
  open(tr);
  pushed(tr, 1);  // dropped silently by the server
  pushed(tr, 2);
  answered(tr, DeltaAck{2, 1, std::nullopt});
  tr.wait_ms(3000);
  tr.cw(push(3));  // 1 is not sent again
  EXPECT_TRUE(tr.blamed("DELTA-13", Sender::Client)) << tr.all();
}

TEST(DELTA_13, AMutationSentAgainAfterTheRetransmitTimeKeepsIt) {
  Trace tr(profiled());
  open(tr);
  pushed(tr, 1);
  pushed(tr, 2);
  answered(tr, DeltaAck{2, 1, std::nullopt});
  tr.wait_ms(2000);
  tr.cw(push(1));  // FLOW-3: again after 2 s
  tr.cw(push(3));
  tr.wait_ms(1000);
  tr.cw(push(4));
  EXPECT_FALSE(tr.has("DELTA-13")) << tr.all();

  Trace unprofiled;  // without the client's timings it is not judged
  open(unprofiled);
  pushed(unprofiled, 1);
  pushed(unprofiled, 2);
  answered(unprofiled, DeltaAck{2, 1, std::nullopt});
  unprofiled.wait_ms(3000);
  unprofiled.cw(push(3));
  EXPECT_FALSE(unprofiled.has("DELTA-13")) << unprofiled.all();
}

// ---- DELTA-14: after a reject (the reference client's notes) ----------------

conformance::StateNote reject_note(std::int64_t t, std::uint64_t mid, std::string hint, bool kept,
                                   std::size_t before, std::size_t after) {
  return conformance::StateNote{t,
                                1,
                                Sender::Client,
                                "delta_rejected",
                                {{"mutation_id", std::to_string(mid)},
                                 {"hint", std::move(hint)},
                                 {"known", "1"},
                                 {"token_source", "0"},
                                 {"retry_used", "0"},
                                 {"kept", kept ? "1" : "0"},
                                 {"batch_before", std::to_string(before)},
                                 {"batch_after", std::to_string(after)},
                                 {"batch_min", "10"}}};
}

TEST(DELTA_14, ARejectedMutationKeptOrTheBatchNotHalvedIsTheClients) {
  Trace kept;
  open(kept);
  pushed(kept, 1);
  answered(kept, rejected(1, "unique", compensation::UniqueViolation{"unknown", "d"}));
  kept.checker.on_note(reject_note(kept.t, 1, "UniqueViolation", true, 50, 25));
  EXPECT_TRUE(kept.blamed("DELTA-14", Sender::Client)) << kept.all();

  Trace batch;
  open(batch);
  pushed(batch, 1);
  answered(batch, rejected(1, "unique", compensation::UniqueViolation{"unknown", "d"}));
  batch.checker.on_note(reject_note(batch.t, 1, "UniqueViolation", false, 50, 50));
  EXPECT_TRUE(batch.has("DELTA-14")) << batch.all();
}

TEST(DELTA_14, ARolledBackMutationSentAgainIsTheClients) {
  Trace tr;
  open(tr);
  pushed(tr, 1);
  answered(tr, rejected(1, "unique", compensation::UniqueViolation{"unknown", "d"}));
  tr.checker.on_note(reject_note(tr.t, 1, "UniqueViolation", false, 50, 25));
  EXPECT_FALSE(tr.has("DELTA-14")) << tr.all();
  tr.wait_ms(500);
  tr.cw(push(1));
  EXPECT_TRUE(tr.blamed("DELTA-14", Sender::Client)) << tr.all();
}

TEST(DELTA_14, TheReferenceChoicesPerHintKeepIt) {
  Trace tr;
  open(tr);
  pushed(tr, 1);
  answered(tr, rejected(1, "CRC", compensation::IntegrityViolation{}));
  tr.checker.on_note(reject_note(tr.t, 1, "IntegrityViolation", true, 50, 25));  // once more
  tr.cw(push(1));
  pushed(tr, 2);
  answered(tr, rejected(2, "rate limited", compensation::RateLimited{100}));
  tr.checker.on_note(reject_note(tr.t, 2, "RateLimited", true, 25, 12));
  pushed(tr, 3);
  answered(tr, rejected(3, "x", compensation::Custom{"c", "d"}));
  tr.checker.on_note(reject_note(tr.t, 3, "Custom", false, 12, 10));  // floor: batch_min
  EXPECT_FALSE(tr.has("DELTA-14")) << tr.all();
}

// ---- DELTA-18: the client never answers a push ------------------------------

TEST(DELTA_18, AClientDeltaAckIsTheClients) {
  Trace tr;
  open(tr);
  DeltaPush from_server = push(1);
  from_server.peer_id = 0;
  answered(tr, from_server);
  tr.cw(DeltaAck{1, 0, std::nullopt});
  EXPECT_TRUE(tr.blamed("DELTA-18", Sender::Client)) << tr.all();

  Trace keeps;
  open(keeps);
  answered(keeps, from_server);
  keeps.cw(PingPong{1, false});
  keeps.checker.finish(keeps.t + 60 * kS);
  EXPECT_FALSE(keeps.has("DELTA-18")) << keeps.all();
}

}  // namespace
}  // namespace syncsim::test::judge_delta_client
