// sim::Trace renders JSON lines, hashes their bytes and keeps the last ones;
// the renderer and the ring of kept lines are written for speed, so their
// output is pinned here.
#include "sim/trace.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace syncsim::test {
namespace {

using sim::Trace;

TEST(SimTrace, RendersFieldsAndEscapesStrings) {
  std::ostringstream out;
  Trace t(&out);
  t.begin(-5, "e\"v")
      .node("n\\1")
      .conn(7)
      .num("i", -3)
      .num("u", std::uint64_t{18446744073709551615ULL});
  t.str("s", std::string("a\x01\nb\x1f", 5)).boolean("yes", true).boolean("no", false).end();
  EXPECT_EQ(out.str(),
            "{\"t\":-5,\"ev\":\"e\\\"v\",\"node\":\"n\\\\1\",\"conn\":7,\"i\":-3,"
            "\"u\":18446744073709551615,\"s\":\"a\\u0001\\u000ab\\u001f\",\"yes\":true,"
            "\"no\":false}\n");
}

TEST(SimTrace, HashIsFnv1aOfTheLines) {
  std::ostringstream out;
  Trace t(&out);
  for (int k = 0; k < 3; ++k) t.begin(k, "tick").num("k", k).end();
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : out.str()) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  EXPECT_EQ(t.hash(), h);
  EXPECT_EQ(t.lines(), 3u);
}

TEST(SimTrace, KeepsTheLastLinesOldestFirst) {
  Trace t(nullptr, 3);
  EXPECT_TRUE(t.recent().empty());
  t.begin(0, "a").end();
  t.begin(1, "b").end();
  EXPECT_EQ(t.recent(),
            (std::vector<std::string>{"{\"t\":0,\"ev\":\"a\"}", "{\"t\":1,\"ev\":\"b\"}"}));
  for (int k = 2; k < 7; ++k) t.begin(k, "x").end();
  const auto r = t.recent();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.front(), "{\"t\":4,\"ev\":\"x\"}");
  EXPECT_EQ(r.back(), "{\"t\":6,\"ev\":\"x\"}");
  Trace none(nullptr, 0);
  none.begin(0, "a").end();
  EXPECT_TRUE(none.recent().empty());
}

}  // namespace
}  // namespace syncsim::test
