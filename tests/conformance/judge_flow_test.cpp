// Retransmission judges on hand-made traces: a mutation in flight is pushed
// again only after the retransmit timeout (FLOW-3), and is pushed again at all
// (RATE-4). Each rule once broken, once kept.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test {
namespace flow_judge_tests {

using namespace protocol;
using namespace checker_trace;

conformance::CheckerOptions retransmit() {
  conformance::CheckerOptions o;
  o.client_profile.retransmit_ns = 2 * kS;
  o.client_profile.clock_drift_ppm = 0;
  return o;
}

void connect(Trace& tr) {
  tr.cw(hs());
  tr.sr(hs());
  tr.sw(ok_ack());
  tr.cr(ok_ack());
}

TEST(FLOW_3, APushRepeatedBeforeTheTimeoutIsFlagged) {
  Trace tr(retransmit());
  connect(tr);
  tr.cw(push(1));
  tr.wait_ms(100);
  tr.cw(push(1));  // Lite's every-tick resend
  EXPECT_TRUE(tr.has("FLOW-3")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("FLOW-3", Sender::Client));
}

TEST(FLOW_3, RepeatsAfterTheTimeoutOrAfterAnAnswerAreKept) {
  Trace tr(retransmit());
  connect(tr);
  tr.cw(push(1));
  tr.wait_ms(2'000);
  tr.cw(push(1));
  tr.cw(push(2));
  tr.cr(DeltaReject{2, "rate limited", compensation::RateLimited{10}});
  tr.wait_ms(10);
  tr.cw(push(2));  // answered: a new attempt, not a retransmission
  EXPECT_FALSE(tr.has("FLOW-3")) << tr.all();
}

TEST(RATE_4, AMutationNeverPushedAgainIsFlaggedWhileTheClientLives) {
  Trace tr(retransmit());
  connect(tr);
  tr.cw(push(1));
  tr.wait_ms(15'000);
  tr.cw(PingPong{1, false});
  EXPECT_TRUE(tr.has("RATE-4")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("RATE-4", Sender::Client));
}

TEST(RATE_4, RetransmissionsAPurgeOrACrashedClientAreKept) {
  Trace tr(retransmit());
  connect(tr);
  tr.cw(push(1));
  DeltaPush other = push(2);
  other.collection = "gone";
  tr.cw(other);
  tr.cr(CollectionPurged{0, "gone", 9});
  for (int i = 0; i < 10; ++i) {
    tr.wait_ms(2'000);
    tr.cw(push(1));
  }
  tr.cw(PingPong{1, false});
  EXPECT_FALSE(tr.has("RATE-4")) << tr.all();

  Trace crashed(retransmit());  // writes nothing more: it may be gone
  connect(crashed);
  crashed.cw(push(1));
  crashed.checker.finish(crashed.t + 600 * kS);
  EXPECT_FALSE(crashed.has("RATE-4")) << crashed.all();
}

TEST(FLOW_2, PushesBetweenTicksAreFlagged) {
  conformance::CheckerOptions o;
  o.client_profile.push_tick_ns = 100'000'000;
  o.client_profile.clock_drift_ppm = 0;
  Trace tr(o);
  connect(tr);
  tr.cw(push(1));
  tr.wait_ms(30);
  tr.cw(push(2));
  EXPECT_TRUE(tr.has("FLOW-2")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("FLOW-2", Sender::Client));
}

TEST(FLOW_2, ABatchPerTickIsKept) {
  conformance::CheckerOptions o;
  o.client_profile.push_tick_ns = 100'000'000;
  o.client_profile.clock_drift_ppm = 0;
  Trace tr(o);
  connect(tr);
  std::uint64_t mid = 0;
  for (int tick = 0; tick < 5; ++tick) {
    for (int k = 0; k < 3; ++k) {  // one instant: one batch
      tr.checker.on_frame(conformance::FrameRecord{
          tr.t, 1, Sender::Client, encode_frame(push(++mid)), conformance::Seen::Written});
    }
    tr.wait_ms(100);
  }
  EXPECT_FALSE(tr.has("FLOW-2")) << tr.all();
}

conformance::StateNote bound_note(std::string pending, std::string accepted) {
  return conformance::StateNote{1,
                                0,
                                Sender::Client,
                                "pending_bound",
                                {{"pending", std::move(pending)},
                                 {"bytes", "300"},
                                 {"size", "3"},
                                 {"accepted", std::move(accepted)}}};
}

TEST(FLOW_4, AWriteRefusedBelowTheBoundIsFlagged) {
  conformance::CheckerOptions o;
  o.client_profile.pending_limit = 100;
  o.client_profile.pending_bytes_limit = 52'428'800;
  Trace tr(o);
  tr.checker.on_note(bound_note("40", "0"));
  EXPECT_TRUE(tr.has("FLOW-4")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("FLOW-4", Sender::Client));
  Trace over(o);
  over.checker.on_note(bound_note("100", "1"));
  EXPECT_TRUE(over.has("FLOW-4")) << over.all();
}

TEST(FLOW_4, AWriteRefusedAtTheBoundIsKept) {
  conformance::CheckerOptions o;
  o.client_profile.pending_limit = 100;
  o.client_profile.pending_bytes_limit = 52'428'800;
  Trace tr(o);
  tr.checker.on_note(bound_note("100", "0"));
  EXPECT_FALSE(tr.has("FLOW-4")) << tr.all();
}

}  // namespace flow_judge_tests
}  // namespace syncsim::test
