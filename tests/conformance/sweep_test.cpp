// The sweep: shards split the (scenario, seed) pairs exactly, and run
// records survive the JSON trip between workers, shards and merge.
#include "conformance/runner/sweep.hpp"

#include <gtest/gtest.h>

#include <set>

#include "conformance/runner/workers.hpp"
#include "protocol/rules.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using conformance::Shard;
using conformance::SweepItem;

TEST(Sweep, ShardsPartitionThePairsInCanonicalOrder) {
  const conformance::SeedRange seeds{10, 16};
  const auto all = conformance::sweep_items(5, seeds, Shard{});
  ASSERT_EQ(all.size(), 35u);
  EXPECT_EQ(all.front().scenario, 0u);
  EXPECT_EQ(all.front().seed, 10u);
  EXPECT_EQ(all[7].scenario, 1u);  // scenario by scenario, seeds ascending
  EXPECT_EQ(all[7].seed, 10u);
  for (std::uint64_t n : {1u, 2u, 3u, 7u, 35u, 50u}) {
    std::set<std::pair<std::size_t, std::uint64_t>> seen;
    std::size_t total = 0;
    for (std::uint64_t k = 0; k < n; ++k) {
      const auto part = conformance::sweep_items(5, seeds, Shard{k, n});
      for (std::size_t i = 0; i < part.size(); ++i) {
        seen.insert({part[i].scenario, part[i].seed});
        // Round-robin: the i-th pair of shard k is pair k + i*n of the sweep.
        EXPECT_EQ(part[i].scenario, all[k + i * n].scenario);
        EXPECT_EQ(part[i].seed, all[k + i * n].seed);
      }
      total += part.size();
    }
    EXPECT_EQ(total, all.size()) << n << " shards";
    EXPECT_EQ(seen.size(), all.size()) << n << " shards";
  }
  EXPECT_TRUE(conformance::sweep_items(5, seeds, Shard{3, 3}).empty());
}

TEST(Sweep, RunRecordsSurviveTheJsonTrip) {
  const auto loaded =
      conformance::load_scenario(source_path("scenarios/bug-client-no-resync-on-gap.yaml"));
  ASSERT_TRUE(loaded.scenario) << loaded.error;
  auto r = conformance::run_item(*loaded.scenario, 3);
  ASSERT_FALSE(r.findings.empty()) << "the bug scenario should leave findings to carry";
  r.notes = {"CONVERGENCE not judged: an example"};
  std::string error;
  const auto back = conformance::record_from_json(conformance::record_to_json(r), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(protocol::dump_json(conformance::record_to_json(*back)),
            protocol::dump_json(conformance::record_to_json(r)));
  EXPECT_EQ(back->findings.size(), r.findings.size());
  const std::string_view rule = back->findings.front().finding.rule;
  EXPECT_EQ(rule, r.findings.front().finding.rule);
  ASSERT_NE(protocol::find_rule(rule), nullptr);
  EXPECT_EQ(rule.data(), protocol::find_rule(rule)->id.data())
      << "rule IDs point at the rule table";
  EXPECT_EQ(back->findings.front().blamed, r.findings.front().blamed);
  EXPECT_EQ(back->virtual_s, r.virtual_s);
  EXPECT_EQ(back->notes, r.notes);
}

TEST(Sweep, ABrokenRecordIsAnErrorNotACrash) {
  std::string error;
  EXPECT_FALSE(conformance::record_from_json(protocol::Json::parse(R"({"scenario":1})"), error));
  EXPECT_NE(error.find("not a run record"), std::string::npos) << error;
}

// Workers deliver records in item order, whatever order they finish in, and
// the same records as one process.
TEST(Sweep, WorkersDeliverInOrderAndAgreeWithOneProcess) {
  std::vector<conformance::Scenario> scenarios;
  for (const char* f : {"scenarios/writes-converge.yaml", "scenarios/purge-during-pushes.yaml"}) {
    auto loaded = conformance::load_scenario(source_path(f));
    ASSERT_TRUE(loaded.scenario) << loaded.error;
    scenarios.push_back(std::move(*loaded.scenario));
  }
  const auto items = conformance::sweep_items(scenarios.size(), {1, 4}, Shard{});
  const auto collect = [&](unsigned jobs) {
    std::vector<std::string> out;
    std::vector<std::size_t> positions;
    conformance::WorkerCallbacks cb;
    cb.stop = [] { return false; };
    cb.on_record = [&](std::size_t p, conformance::RunRecord&& r) {
      positions.push_back(p);
      out.push_back(protocol::dump_json(conformance::record_to_json(r)));
    };
    EXPECT_EQ(conformance::run_items(scenarios, items, jobs, cb), "");
    for (std::size_t i = 0; i < positions.size(); ++i) EXPECT_EQ(positions[i], i);
    return out;
  };
  const auto one = collect(1);
  ASSERT_EQ(one.size(), items.size());
  EXPECT_EQ(collect(3), one);
}

TEST(Sweep, StopDeliversAPrefix) {
  auto loaded = conformance::load_scenario(source_path("scenarios/writes-converge.yaml"));
  ASSERT_TRUE(loaded.scenario) << loaded.error;
  const std::vector<conformance::Scenario> scenarios{*loaded.scenario};
  const auto items = conformance::sweep_items(1, {1, 40}, Shard{});
  std::vector<std::size_t> positions;
  conformance::WorkerCallbacks cb;
  cb.stop = [&] { return positions.size() >= 5; };
  cb.on_record = [&](std::size_t p, conformance::RunRecord&&) { positions.push_back(p); };
  EXPECT_EQ(conformance::run_items(scenarios, items, 2, cb), "");
  ASSERT_GE(positions.size(), 5u);
  EXPECT_LT(positions.size(), items.size());
  for (std::size_t i = 0; i < positions.size(); ++i) EXPECT_EQ(positions[i], i);
}

// D178: a live sweep gives each item its own run function and one item per
// worker at a time; records still come back in item order, and a record's
// run_error travels back with it.
TEST(Sweep, ACustomRunOneItemPerWorkerDeliversInOrder) {
  auto loaded = conformance::load_scenario(source_path("scenarios/writes-converge.yaml"));
  ASSERT_TRUE(loaded.scenario) << loaded.error;
  const std::vector<conformance::Scenario> scenarios{*loaded.scenario};
  const auto items = conformance::sweep_items(1, {1, 6}, Shard{});
  std::vector<std::size_t> positions;
  std::vector<std::string> errors;
  conformance::WorkerCallbacks cb;
  cb.depth = 1;
  cb.stop = [] { return false; };
  cb.run = [](const conformance::SweepItem& item) {
    conformance::RunRecord r;
    r.name = "item";
    r.seed = item.seed;
    if (item.seed == 3) r.run_error = "cannot start the client";
    return r;
  };
  cb.on_record = [&](std::size_t p, conformance::RunRecord&& r) {
    positions.push_back(p);
    EXPECT_EQ(r.seed, items[p].seed);
    if (!r.run_error.empty()) errors.push_back(r.run_error);
  };
  EXPECT_EQ(conformance::run_items(scenarios, items, 3, cb), "");
  ASSERT_EQ(positions.size(), items.size());
  for (std::size_t i = 0; i < positions.size(); ++i) EXPECT_EQ(positions[i], i);
  EXPECT_EQ(errors, std::vector<std::string>{"cannot start the client"});
}

}  // namespace
}  // namespace syncsim::test
