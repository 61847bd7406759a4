// The rule table (protocol/rules_table.inc) against PROTOCOL.md Appendix F.
#include "protocol/rules.hpp"

#include <gtest/gtest.h>

#include <set>

#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

TEST(Rules, TableHoldsUniqueIds) {
  std::set<std::string_view> ids;
  for (const auto& r : protocol::all_rules()) {
    EXPECT_TRUE(ids.insert(r.id).second) << r.id;
    EXPECT_EQ(protocol::find_rule(r.id), &r);
  }
  EXPECT_EQ(ids.size(), 170u);
  EXPECT_EQ(protocol::find_rule("NOPE-1"), nullptr);
}

TEST(Rules, TableMatchesAppendixF) {
  const auto md = read_file(spec_path("PROTOCOL.md"));
  if (!md) GTEST_SKIP() << "spec not found";
  for (const auto& r : protocol::all_rules()) {
    const std::string entry =
        "**" + std::string(r.id) + "** · " + std::string(protocol::level_name(r.level));
    EXPECT_NE(md->find(entry), std::string::npos) << "spec lacks " << entry;
  }
}

}  // namespace
}  // namespace syncsim::test
