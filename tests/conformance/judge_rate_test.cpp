// The rate judge on hand-made traces: the server's token bucket as its
// profile configures it, pushes dropped within the allowance (RATE-1),
// accepted beyond it (RATE-2), and other frames unharmed (RATE-5).
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test {
namespace rate_judge_tests {

using namespace protocol;
using namespace checker_trace;

conformance::CheckerOptions bucket(std::int64_t capacity, std::int64_t per_s) {
  conformance::CheckerOptions o;
  o.server_profile.rate_capacity = capacity;
  o.server_profile.rate_per_s = per_s;
  o.server_profile.clock_drift_ppm = 0;
  return o;
}

void connect(Trace& tr) {
  tr.cw(hs());
  tr.sr(hs());
  tr.sw(ok_ack());
  tr.cr(ok_ack());
}

// The server reads push `mid` and, when `lsn` is given, acks it.
void pushed(Trace& tr, std::uint64_t mid, std::optional<std::uint64_t> lsn) {
  tr.cw(push(mid));
  tr.sr(push(mid));
  if (lsn) tr.sw(DeltaAck{mid, *lsn, std::nullopt});
}

TEST(RATE_1, APushDroppedWithTokensInTheBucketIsFlagged) {
  Trace tr(bucket(5, 1));
  connect(tr);
  pushed(tr, 1, 1);
  pushed(tr, 2, std::nullopt);  // dropped with four tokens left
  pushed(tr, 3, 2);
  EXPECT_TRUE(tr.has("RATE-1")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("RATE-1", Sender::Server));
}

TEST(RATE_1, DropsOnceTheBucketIsEmptyAndFreePushesAreKept) {
  Trace tr(bucket(2, 1));
  connect(tr);
  pushed(tr, 1, 1);
  pushed(tr, 1, 0);  // a duplicate takes no token
  tr.cw(push(5));
  tr.sr(push(5));
  tr.sw(DeltaReject{5, "CRC32C mismatch: expected 1, got 2", compensation::IntegrityViolation{}});
  pushed(tr, 2, 2);
  pushed(tr, 3, std::nullopt);  // empty now: dropped
  tr.cw(push(4));
  tr.sr(push(4));
  tr.sw(DeltaReject{4, "rate limited", compensation::RateLimited{1000}});
  tr.wait_ms(1'500);
  pushed(tr, 3, 3);
  EXPECT_FALSE(tr.has("RATE-1")) << tr.all();
  EXPECT_FALSE(tr.has("RATE-2")) << tr.all();
}

TEST(RATE_2, APushAcceptedWithAnEmptyBucketIsFlagged) {
  Trace tr(bucket(2, 1));
  connect(tr);
  pushed(tr, 1, 1);
  pushed(tr, 2, 2);
  pushed(tr, 3, 3);
  EXPECT_TRUE(tr.has("RATE-2")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("RATE-2", Sender::Server));
}

TEST(RATE_2, AcceptsWithinTheRefillAreKept) {
  Trace tr(bucket(2, 1));
  connect(tr);
  for (std::uint64_t i = 1; i <= 6; ++i) {
    pushed(tr, i, i);
    tr.wait_ms(1'000);  // one token back per second
  }
  pushed(tr, 7, 7);
  EXPECT_FALSE(tr.has("RATE-2")) << tr.all();
  Trace unknown;  // no configured bucket: not judged
  connect(unknown);
  for (std::uint64_t i = 1; i <= 300; ++i) pushed(unknown, i, i);
  EXPECT_FALSE(unknown.has("RATE-2")) << unknown.all();
}

TEST(RATE_5, APingOfARateLimitedSessionLeftUnansweredIsFlagged) {
  Trace tr(bucket(1, 1));
  connect(tr);
  pushed(tr, 1, 1);
  pushed(tr, 2, std::nullopt);
  pushed(tr, 3, std::nullopt);
  pushed(tr, 4, 4);  // 2 and 3 were dropped
  tr.cw(PingPong{5, false});
  tr.sr(PingPong{5, false});
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_TRUE(tr.has("RATE-5")) << tr.all();
  EXPECT_TRUE(tr.first_blamed("RATE-5", Sender::Server));
}

TEST(RATE_5, PingsOfARateLimitedSessionAnsweredAreKept) {
  Trace tr(bucket(1, 1));
  connect(tr);
  pushed(tr, 1, 1);
  pushed(tr, 2, std::nullopt);
  pushed(tr, 3, 3);
  tr.cw(PingPong{5, false});
  tr.sr(PingPong{5, false});
  tr.sw(PingPong{5, true});
  tr.checker.finish(tr.t + 60 * kS);
  EXPECT_FALSE(tr.has("RATE-5")) << tr.all();
}

}  // namespace rate_judge_tests
}  // namespace syncsim::test
