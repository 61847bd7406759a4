// sim::Trace renders JSON lines, hashes them and keeps the last ones;
// the renderer and the ring of kept lines are written for speed, so their
// output is pinned here.
#include "sim/trace.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>

namespace syncsim::test {
namespace {

using sim::Trace;

// The trace hash's definition (D82, D187, sim/trace.hpp), written out
// independently of the simulator's code: a record encoder and the word steps.
struct Record {
  std::string bytes;
  void le(std::uint64_t v, int n) {
    for (int b = 0; b < n; ++b) bytes += static_cast<char>(v >> (8 * b) & 0xff);
  }
  Record(std::int64_t t, std::string_view ev) {
    le(static_cast<std::uint64_t>(t), 8);
    le(ev.size(), 4);
    bytes += ev;
  }
  Record& key(std::string_view k, char tag) {
    bytes += static_cast<char>(k.size());
    bytes += k;
    bytes += tag;
    return *this;
  }
  Record& i(std::string_view k, std::int64_t v) {
    key(k, 'i').le(static_cast<std::uint64_t>(v), 8);
    return *this;
  }
  Record& s(std::string_view k, std::string_view v) {
    key(k, 's').le(v.size(), 4);
    bytes += v;
    return *this;
  }
};

std::uint64_t expected_trace_hash(const std::vector<Record>& records) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const auto& r : records) {
    const std::string& b = r.bytes;
    std::size_t k = 0;
    for (; k + 8 <= b.size(); k += 8) {
      std::uint64_t w = 0;
      for (int x = 7; x >= 0; --x) w = w << 8 | static_cast<std::uint8_t>(b[k + x]);
      h = (h ^ w) * 0x100000001b3ULL;
    }
    for (; k < b.size(); ++k) h = (h ^ static_cast<std::uint8_t>(b[k])) * 0x100000001b3ULL;
    h ^= h >> 32;
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
  Trace t;
  std::vector<Record> expected;
  for (int k = 0; k < 3; ++k) {
    t.begin(k, "tick").num("k", k).end();
    expected.push_back(Record(k, "tick").i("k", k));
  }
  t.begin(99, "a-longer-event-name").str("why", "values of every length mod 8").end();
  expected.push_back(Record(99, "a-longer-event-name").s("why", "values of every length mod 8"));
  EXPECT_EQ(t.hash(), expected_trace_hash(expected));
  EXPECT_EQ(t.lines(), 4u);
  EXPECT_EQ(Trace().hash(), 0xcbf29ce484222325ULL);
}

// D187: the lines are a rendering; writing them or not changes no hash.
TEST(SimTrace, HashDoesNotDependOnWritingTheLines) {
  std::ostringstream out;
  Trace written(&out), silent(nullptr, 0);
  for (Trace* t : {&written, &silent}) {
    for (int k = 0; k < 100; ++k) t->begin(k * 7, "deliver").conn(3).str("node", "n").end();
  }
  EXPECT_EQ(written.hash(), silent.hash());
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 100);
}

TEST(SimTrace, OneChangedByteAnywhereChangesTheHash) {
  const std::string record = Record(12345678, "deliver").i("conn", 3).i("bytes", 77).bytes;
  const std::uint64_t h = sim::trace_hash_step(0xcbf29ce484222325ULL, record);
  for (std::size_t k = 0; k < record.size(); ++k) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string other = record;
      other[k] = static_cast<char>(other[k] ^ (1 << bit));
      EXPECT_NE(sim::trace_hash_step(0xcbf29ce484222325ULL, other), h) << k << ":" << bit;
    }
  }
}

// The kept events render as the lines written: the last ones, oldest first.
TEST(SimTrace, KeptEventsRenderAsTheWrittenLines) {
  std::ostringstream out;
  Trace t(&out, 5);
  for (int k = 0; k < 23; ++k)
    t.begin(k, "e").num("n", std::uint64_t{1} << k).str("s", std::string(k, '"')).end();
  std::vector<std::string> lines;
  std::istringstream in(out.str());
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 23u);
  EXPECT_EQ(t.recent(), std::vector<std::string>(lines.end() - 5, lines.end()));
  EXPECT_EQ(Trace::render(Record(1, "x").i("a", -2).bytes), "{\"t\":1,\"ev\":\"x\",\"a\":-2}");
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
