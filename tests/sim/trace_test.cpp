// sim::Trace renders JSON lines, hashes them and keeps the last ones;
// the renderer and the ring of kept lines are written for speed, so their
// output is pinned here.
#include "sim/trace.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace syncsim::test {
namespace {

using sim::Trace;

// The trace hash's definition (D82, sim/trace.hpp), written out
// independently of the simulator's code.
std::uint64_t expected_trace_hash(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start) + 1;  // every line ends in '\n'
    std::size_t k = start;
    for (; k + 8 <= end; k += 8) {
      std::uint64_t w = 0;
      for (int b = 7; b >= 0; --b) w = w << 8 | static_cast<std::uint8_t>(text[k + b]);
      h = (h ^ w) * 0x100000001b3ULL;
    }
    for (; k < end; ++k) h = (h ^ static_cast<std::uint8_t>(text[k])) * 0x100000001b3ULL;
    h ^= h >> 32;
    start = end;
  }
  return h;
}

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

TEST(SimTrace, HashFollowsItsDefinition) {
  std::ostringstream out;
  Trace t(&out);
  for (int k = 0; k < 3; ++k) t.begin(k, "tick").num("k", k).end();
  t.begin(99, "a-longer-event-name").str("why", "lines of every length mod 8").end();
  EXPECT_EQ(t.hash(), expected_trace_hash(out.str()));
  EXPECT_EQ(t.lines(), 4u);
  EXPECT_EQ(Trace().hash(), 0xcbf29ce484222325ULL);
}

TEST(SimTrace, OneChangedByteAnywhereChangesTheHash) {
  const std::string line = "{\"t\":12345678,\"ev\":\"deliver\",\"conn\":3,\"bytes\":77}\n";
  const std::uint64_t h = sim::trace_hash_line(0xcbf29ce484222325ULL, line);
  for (std::size_t k = 0; k < line.size(); ++k) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string other = line;
      other[k] = static_cast<char>(other[k] ^ (1 << bit));
      EXPECT_NE(sim::trace_hash_line(0xcbf29ce484222325ULL, other), h) << k << ":" << bit;
    }
  }
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
