// Timeseries (issue 15): a push's fields (TS-1) and pace (TS-6), the server's
// counts (TS-2, TS-3) and what it must not refuse for (TS-7). Each rule has a
// trace that breaks it and one that keeps it.
#include <gtest/gtest.h>

#include "conformance/checker/gorilla_reader.hpp"
#include "reference/gorilla.hpp"
#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test::judge_timeseries {
namespace {

using namespace protocol;
using namespace checker_trace;

void open(Trace& tr) {
  tr.cw(hs());
  tr.sr(hs());
  tr.sw(ok_ack());
  tr.cr(ok_ack());
}
TimeseriesPush ts_push(std::vector<std::int64_t> times, std::string collection = "cpu") {
  std::vector<double> values(times.size(), 1.5);
  TimeseriesPush p;
  p.lite_id = "lite-a";
  p.collection = std::move(collection);
  p.ts_block = reference::ts_block_of(times);
  p.val_block = reference::val_block_of(values);
  p.sample_count = times.size();
  p.min_ts = *std::min_element(times.begin(), times.end());
  p.max_ts = *std::max_element(times.begin(), times.end());
  return p;
}
void pushed(Trace& tr, const TimeseriesPush& p) {
  tr.cw(p);
  tr.sr(p);
}
void answered(Trace& tr, const TimeseriesAck& a) {
  tr.sw(a);
  tr.cr(a);
}

TEST(TS_1, TheCheckersGorillaReaderDecodesAsTheReferenceDoes) {
  const std::vector<std::int64_t> times = {1000, 1010, 1020, 1500, -7, 1LL << 40, 1LL << 40};
  const auto block = reference::ts_block_of(times);
  for (std::size_t cut = 0; cut <= block.size(); ++cut) {
    const std::span<const std::uint8_t> part(block.data(), cut);
    const auto want = reference::gorilla_decode(part);
    const auto got = conformance::read_gorilla(part).points;
    ASSERT_EQ(got.size(), want.size()) << cut;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].timestamp, want[i].timestamp);
      EXPECT_EQ(got[i].value_bits, want[i].value_bits);
    }
  }
  const auto vals = reference::val_block_of(std::vector<double>{1.5, 2.25, -3.0, 2.25, 1e9});
  const auto want = reference::gorilla_decode(vals);
  const auto got = conformance::read_gorilla(vals).points;
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].value_bits, want[i].value_bits);
}

TEST(TS_1, APushWhoseFieldsDisagreeWithItsBlocksIsTheClients) {
  Trace count;
  open(count);
  auto p = ts_push({10, 20, 30});
  p.sample_count = 4;
  count.cw(p);
  EXPECT_TRUE(count.blamed("TS-1", Sender::Client)) << count.all();

  Trace range;
  open(range);
  p = ts_push({10, 20, 30});
  p.max_ts = 31;
  range.cw(p);
  EXPECT_TRUE(range.has("TS-1")) << range.all();

  Trace series;  // neither empty nor 8 bytes a sample
  open(series);
  p = ts_push({10, 20, 30});
  p.series_block = {1, 2, 3};
  series.cw(p);
  EXPECT_TRUE(series.has("TS-1")) << series.all();

  Trace old;  // a sample at its series' watermark was synced already
  open(old);
  p = ts_push({10, 20});
  p.series_block = Bytes(16, 0);
  p.series_block[0] = 7;
  p.series_block[8] = 7;
  p.watermarks = {{7, 10}};
  old.cw(p);
  EXPECT_TRUE(old.has("TS-1")) << old.all();
}

TEST(TS_1, APushAsTheReferenceBuildsItKeepsIt) {
  Trace tr;
  open(tr);
  auto p = ts_push({10, 20, 30});
  p.series_block = Bytes(24, 0);
  p.watermarks = {{0, 9}};
  pushed(tr, p);
  answered(tr, TimeseriesAck{"cpu", 3, 0, 1});
  EXPECT_TRUE(tr.checker.findings().empty()) << tr.all();
}

TEST(TS_2, SamplesAcceptedBeforeTheHandshakeAreTheServers) {
  Trace tr;
  pushed(tr, ts_push({10, 20}));
  answered(tr, TimeseriesAck{"cpu", 2, 0, 1});
  EXPECT_TRUE(tr.blamed("TS-2", Sender::Server)) << tr.all();

  Trace keeps;
  pushed(keeps, ts_push({10, 20}));
  answered(keeps, TimeseriesAck{"cpu", 0, 2, 0});
  EXPECT_FALSE(keeps.has("TS-2")) << keeps.all();
}

TEST(TS_3, CountsOtherThanTheBlocksDecodeToAreTheServers) {
  Trace tr;
  open(tr);
  pushed(tr, ts_push({10, 20, 30}));
  answered(tr, TimeseriesAck{"cpu", 2, 1, 1});
  EXPECT_TRUE(tr.blamed("TS-3", Sender::Server)) << tr.all();

  Trace truncated;  // k is what decodes: a cut ts_block gives fewer samples
  open(truncated);
  auto p = ts_push({10, 20, 30});
  p.ts_block.resize(4 + 16);  // the first sample only
  const auto k = conformance::read_gorilla(p.ts_block).points.size();
  ASSERT_EQ(k, 1u);
  pushed(truncated, p);
  answered(truncated, TimeseriesAck{"cpu", 1, 2, 1});
  pushed(truncated, ts_push({40}));
  answered(truncated, TimeseriesAck{"cpu", 1, 0, 2});
  EXPECT_FALSE(truncated.has("TS-3")) << truncated.all();
}

TEST(TS_7, ADecodablePushRefusedWholeIsTheServers) {
  Trace tr;
  open(tr);
  pushed(tr, ts_push({10, 20, 30}));
  answered(tr, TimeseriesAck{"cpu", 0, 3, 0});
  EXPECT_TRUE(tr.blamed("TS-7", Sender::Server)) << tr.all();

  Trace odd;  // odd fields the server does not read: still counted
  open(odd);
  auto p = ts_push({10, 20, 30});
  p.min_ts = 99;
  p.lite_id = "someone-else";
  p.watermarks = {{5, 5}};
  odd.cw(p);
  odd.sr(p);
  answered(odd, TimeseriesAck{"cpu", 3, 0, 1});
  EXPECT_FALSE(odd.has("TS-7")) << odd.all();
  EXPECT_FALSE(odd.has("TS-3")) << odd.all();
}

TEST(TS_6, ASecondPushBeforeTheAnswerIsTheClients) {
  Trace tr;
  open(tr);
  pushed(tr, ts_push({10}));
  pushed(tr, ts_push({20}));
  EXPECT_TRUE(tr.blamed("TS-6", Sender::Client)) << tr.all();

  Trace keeps;  // other collections, or after the answer
  open(keeps);
  pushed(keeps, ts_push({10}));
  pushed(keeps, ts_push({10}, "mem"));
  answered(keeps, TimeseriesAck{"cpu", 1, 0, 1});
  pushed(keeps, ts_push({20}));
  EXPECT_FALSE(keeps.has("TS-6")) << keeps.all();
}

TEST(TS_6, PushesFasterThanTheClientsIntervalAreTheClients) {
  conformance::CheckerOptions o;
  o.client_profile.timeseries_interval_ns = 30'000 * kMs;
  Trace tr(o);
  open(tr);
  pushed(tr, ts_push({10}));
  answered(tr, TimeseriesAck{"cpu", 1, 0, 1});
  tr.wait_ms(1000);
  pushed(tr, ts_push({20}));
  EXPECT_TRUE(tr.blamed("TS-6", Sender::Client)) << tr.all();

  Trace keeps(o);
  open(keeps);
  pushed(keeps, ts_push({10}));
  answered(keeps, TimeseriesAck{"cpu", 1, 0, 1});
  keeps.wait_ms(28'000);  // within the 10 % the client's clock may drift
  pushed(keeps, ts_push({20}));
  EXPECT_FALSE(keeps.has("TS-6")) << keeps.all();
}

}  // namespace
}  // namespace syncsim::test::judge_timeseries
