// The judge architecture (D73): coverage is the union of the judges'
// declarations, and no judge or frame check can report a rule it does not
// declare (by their sources, by generated frames, and at run time).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "conformance/checker/judge.hpp"
#include "conformance/checker/trace_reader.hpp"
#include "conformance/checker/trace_writer.hpp"
#include "protocol/rules.hpp"
#include "tests/conformance/checker_trace.hpp"
#include "tests/support/generators.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using namespace checker_trace;
using conformance::DeclaredRule;
using conformance::Judge;
using conformance::JudgeDeps;
using conformance::RuleDecl;

// The rule IDs quoted in a source file ("HS-2").
std::set<std::string> quoted_rules(const std::string& relative) {
  const auto text = read_file(source_path(relative));
  EXPECT_TRUE(text) << relative;
  std::set<std::string> out;
  static const std::regex kQuoted("\"([A-Z]+-[0-9]+)\"");
  for (std::sregex_iterator it(text ? text->begin() : std::string::const_iterator{},
                               text ? text->end() : std::string::const_iterator{}, kQuoted),
       end;
       it != end; ++it)
    out.insert((*it)[1]);
  return out;
}

std::set<std::string> declared_by(std::string_view judge) {
  std::set<std::string> out;
  for (const auto& d : SessionChecker::declared_rules())
    if (d.judge == judge) out.insert(std::string(d.rule));
  return out;
}

std::set<std::string> frame_rule_set() {
  std::set<std::string> out;
  for (const auto id : frame_rules()) out.insert(std::string(id));
  return out;
}

TEST(Judges, EveryDeclaredRuleIsASpecRule) {
  for (const auto& d : SessionChecker::declared_rules())
    EXPECT_NE(find_rule(d.rule), nullptr) << d.judge << " declares " << d.rule;
}

TEST(Judges, NoSessionRuleIsDeclaredByTwoJudges) {
  std::map<std::string_view, std::string_view> owner;
  for (const auto& d : SessionChecker::declared_rules()) {
    if (d.judge == "framing") continue;
    auto [it, fresh] = owner.emplace(d.rule, d.judge);
    EXPECT_TRUE(fresh) << d.rule << " declared by " << it->second << " and " << d.judge;
  }
}

// The restructuring kept every rule the one-class checker judged.
TEST(Judges, SessionRulesAreTheUnionOfTheDeclarations) {
  const std::set<std::string_view> before = {
      "HS-1",       "HS-2",      "HS-10",    "HS-12",    "HS-13",    "SESSION-1",  "SESSION-5",
      "DELTA-4",    "DELTA-6",   "DELTA-17", "DELTA-8",  "DELTA-9",  "PING-2",     "SHAPE-2",
      "SHAPE-6",    "SHAPE-9",   "RESYNC-2", "RESYNC-4", "RESYNC-8", "THROTTLE-2", "THROTTLE-4",
      "THROTTLE-5", "TOKEN-1",   "TOKEN-7",  "TOKEN-9",  "PURGE-1",  "PURGE-2",    "PURGE-4",
      "PURGE-7",    "SESSION-7", "CONN-3",   "TOKEN-4",  "FLOW-1",   "SHAPE-15",   "TS-5",
      "VCLOCK-1",   "VCLOCK-2"};
  std::set<std::string_view> now;
  for (const auto id : SessionChecker::session_rules()) now.insert(id);
  for (const auto id : before) EXPECT_TRUE(now.count(id)) << id << " is no longer judged";
  // The framing judge declares the frame rules, and the WebSocket message and
  // receiver rules it judges itself (D85, D86).
  auto framing = declared_by("framing");
  for (const std::string_view own :
       {"FRAME-3", "FRAME-4", "FRAME-5", "FRAME-7", "FRAME-10", "FRAME-12", "ENC-11"}) {
    EXPECT_EQ(framing.erase(std::string(own)), 1u) << own;
  }
  EXPECT_EQ(framing, frame_rule_set());
}

// Each judge_<name>.cpp quotes only rules its judge declares, so no path in it
// can report an undeclared rule.
TEST(Judges, EachJudgeSourceQuotesOnlyItsDeclaredRules) {
  namespace fs = std::filesystem;
  std::set<std::string> judges;
  for (const auto& d : SessionChecker::declared_rules()) judges.insert(std::string(d.judge));
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(source_path("conformance/checker"))) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with("judge_") || !file.ends_with(".cpp")) continue;
    ++files;
    const std::string judge = file.substr(6, file.size() - 10);
    EXPECT_TRUE(judges.count(judge)) << file << " has no judge named " << judge;
    const auto declared = declared_by(judge);
    for (const auto& rule : quoted_rules("conformance/checker/" + file))
      EXPECT_TRUE(declared.count(rule)) << file << " quotes " << rule << ", undeclared";
  }
  EXPECT_EQ(files, judges.size());
  // The core reports nothing of its own.
  EXPECT_TRUE(quoted_rules("conformance/checker/session_checker.cpp").empty());
}

// D190: a judge that calls Judge's base version of an event would be dropped
// from that event for good, so a shipped judge never calls one.
TEST(Judges, NoJudgeSourceCallsABaseEventMethod) {
  namespace fs = std::filesystem;
  static const std::regex kBaseCall(
      "Judge::(decoded|deadlines|client_wrote|server_read|server_wrote|client_read|closed|"
      "purged|noted|ws_message|hung_up|finish)\\(");
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(source_path("conformance/checker"))) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with("judge_") || !file.ends_with(".cpp")) continue;
    ++files;
    const auto text = read_file(source_path("conformance/checker/" + file));
    ASSERT_TRUE(text) << file;
    std::smatch m;
    for (auto it = text->cbegin(); std::regex_search(it, text->cend(), m, kBaseCall);
         it = m.suffix().first) {
      // "void XJudge::noted(" defines an override; only a bare "Judge::" calls the base.
      const auto at = m.position(0) + (it - text->cbegin());
      const bool bare = at == 0 || !std::isalnum(static_cast<unsigned char>((*text)[at - 1]));
      EXPECT_FALSE(bare) << file << " calls " << m.str(0);
    }
  }
  EXPECT_GT(files, 20u);
}

// validate() and the decoder cite only frame_rules(): by their sources...
TEST(Judges, FrameChecksQuoteOnlyFrameRules) {
  const auto declared = frame_rule_set();
  for (const char* file : {"protocol/codec.cpp", "protocol/frame_stream.cpp",
                           "protocol/validate.cpp", "protocol/msgpack_reader.cpp"}) {
    for (const auto& rule : quoted_rules(file))
      EXPECT_TRUE(declared.count(rule)) << file << " quotes " << rule << ", not in frame_rules()";
  }
}

// ... on the invalid vectors ...
TEST(Judges, InvalidVectorsCiteOnlyFrameRules) {
  const auto declared = frame_rule_set();
  const auto text = read_file(source_path("tests/vectors/invalid.jsonl"));
  ASSERT_TRUE(text);
  std::size_t n = 0;
  for (const auto& v : read_jsonl(*text)) {
    const DecodedFrame d = decode_frame(hex(v["frame_hex"].get<std::string>()));
    Findings found = d.findings;
    if (d.message) validate(*d.message, Sender::Unknown, found);
    for (const auto& f : found) {
      ++n;
      EXPECT_TRUE(declared.count(std::string(f.rule))) << f.rule;
    }
  }
  EXPECT_GT(n, 0u);
}

// ... and on any message, from either side.
RC_GTEST_PROP(Judges, ValidateCitesOnlyFrameRules, ()) {
  static const auto declared = frame_rule_set();
  const Message m = *gen_message();
  for (const Sender side : {Sender::Client, Sender::Server}) {
    for (const auto& f : validate(m, side)) RC_ASSERT(declared.count(std::string(f.rule)) == 1u);
  }
}

// A judge for the tests below: declares HS-1 only, reports what it is told.
class RogueJudge final : public Judge {
 public:
  RogueJudge(const JudgeDeps& d, std::string_view rule) : Judge(d.sink, "rogue"), rule_(rule) {}
  std::span<const RuleDecl> rules() const override { return kRules; }
  void client_wrote(const conformance::FrameEvent& e) override {
    flag(e, rule_, Level::Must, "test");
  }

 private:
  static constexpr RuleDecl kRules[] = {{"HS-1"}};
  std::string_view rule_;
};

TEST(Judges, AnUndeclaredFindingIsAnInternalError) {
  SessionChecker checker;
  checker.add_judge([](const JudgeDeps& d) { return std::make_unique<RogueJudge>(d, "DELTA-3"); });
  checker.on_frame(FrameRecord{1, 1, Sender::Client, encode_frame(hs())});
  ASSERT_EQ(checker.internal_errors().size(), 1u);
  EXPECT_NE(checker.internal_errors()[0].find("DELTA-3"), std::string::npos);

  SessionChecker fine;
  fine.add_judge([](const JudgeDeps& d) { return std::make_unique<RogueJudge>(d, "HS-1"); });
  fine.on_frame(FrameRecord{1, 1, Sender::Client, encode_frame(hs())});
  EXPECT_TRUE(fine.internal_errors().empty());
  EXPECT_EQ(fine.findings().size(), 1u);
}

// Every judge gets every event, in the order the trace shows them.
class RecordingJudge final : public Judge {
 public:
  RecordingJudge(const JudgeDeps& d, std::vector<std::string>& log)
      : Judge(d.sink, "recording"), log_(log) {}
  std::span<const RuleDecl> rules() const override { return {}; }
  void decoded(const FrameRecord&, const DecodedFrame&) override { log_.push_back("decoded"); }
  void client_wrote(const conformance::FrameEvent& e) override { log_.push_back(w("cw", e)); }
  void server_read(const conformance::FrameEvent& e) override { log_.push_back(w("sr", e)); }
  void server_wrote(const conformance::FrameEvent& e) override { log_.push_back(w("sw", e)); }
  void client_read(const conformance::FrameEvent& e) override { log_.push_back(w("cr", e)); }
  void closed(std::uint64_t, std::int64_t) override { log_.push_back("closed"); }
  void purged(std::uint32_t, const std::string& c, std::int64_t) override {
    log_.push_back("purged " + c);
  }
  void noted(const conformance::StateNote& n) override {
    const auto* v = n.field("id");
    log_.push_back("note " + n.kind + (v ? " " + *v : ""));
  }
  void finish(std::uint64_t conn, std::int64_t, std::int64_t) override {
    log_.push_back("finish " + std::to_string(conn));
  }

 private:
  static std::string w(const char* what, const conformance::FrameEvent& e) {
    return std::string(what) + (e.first ? " first" : "") + (e.view.authenticated ? " auth" : "");
  }
  std::vector<std::string>& log_;
};

TEST(Judges, EveryJudgeSeesEveryEventInOrder) {
  std::vector<std::string> log;
  Trace tr;
  tr.checker.add_judge(
      [&log](const JudgeDeps& d) { return std::make_unique<RecordingJudge>(d, log); });
  tr.c(hs());
  tr.sw(ok_ack());
  tr.cr(ok_ack());
  tr.checker.on_purge(0, "orders", tr.t);
  tr.checker.on_note(conformance::StateNote{tr.t, 1, Sender::Client, "stored", {{"id", "d1"}}});
  tr.on_close_both(1);
  tr.checker.finish(tr.t);
  const std::vector<std::string> want = {"decoded",        "cw first", "sr first", "decoded",
                                         "sw first auth",  "decoded",  "cr auth",  "purged orders",
                                         "note stored d1", "closed",   "finish 1"};
  EXPECT_EQ(log, want);
}

// A judge that leaves an event to Judge's base version is not called for it
// again (the checker prunes it); one that handles an event hears every one.
class HalfListeningJudge final : public Judge {
 public:
  HalfListeningJudge(const JudgeDeps& d, int& wrote, int& read)
      : Judge(d.sink, "half"), wrote_(wrote), read_(read) {}
  std::span<const RuleDecl> rules() const override { return {}; }
  void client_wrote(const conformance::FrameEvent& e) override {
    ++wrote_;
    Judge::client_wrote(e);  // the base version: "not handled"
  }
  void server_read(const conformance::FrameEvent&) override { ++read_; }

 private:
  int& wrote_;
  int& read_;
};

TEST(Judges, AnEventAJudgeLeavesToTheBaseIsNotDispatchedToItAgain) {
  int wrote = 0, read = 0;
  Trace tr;
  tr.checker.add_judge(
      [&](const JudgeDeps& d) { return std::make_unique<HalfListeningJudge>(d, wrote, read); });
  PingPong ping;
  tr.c(hs());
  tr.c(ping);
  tr.c(ping);
  EXPECT_EQ(wrote, 1);  // pruned after its first call
  EXPECT_EQ(read, 3);   // every frame the server read
}

TEST(Judges, NoteNumbersReadAsStrtoullDoes) {
  const auto n = [](std::string v) {
    return conformance::StateNote{0, 1, Sender::Client, "k", {{"v", std::move(v)}}};
  };
  EXPECT_EQ(conformance::note_u64(n("0"), "v"), 0u);
  EXPECT_EQ(conformance::note_u64(n("42"), "v"), 42u);
  EXPECT_EQ(conformance::note_u64(n("9999999999999999999"), "v"), 9999999999999999999ull);
  EXPECT_EQ(conformance::note_u64(n("18446744073709551615"), "v"), 18446744073709551615ull);
  EXPECT_EQ(conformance::note_u64(n("99999999999999999999"), "v"), 18446744073709551615ull);
  EXPECT_EQ(conformance::note_u64(n(" 7"), "v"), 7u);
  EXPECT_EQ(conformance::note_u64(n("12ab"), "v"), 12u);
  EXPECT_EQ(conformance::note_u64(n(""), "v"), 0u);
  EXPECT_EQ(conformance::note_u64(n("5"), "missing"), 0u);
  EXPECT_EQ(conformance::plain_u64("42"), 42u);
  EXPECT_EQ(conformance::plain_u64("9999999999999999999"), 9999999999999999999ull);
  EXPECT_FALSE(conformance::plain_u64("10000000000000000000"));  // 20 digits
  EXPECT_FALSE(conformance::plain_u64(""));
  EXPECT_FALSE(conformance::plain_u64("12ab"));
  EXPECT_FALSE(conformance::plain_u64("-1"));
  EXPECT_TRUE(n("5").is("k"));
  EXPECT_FALSE(n("5").is("kk"));
}

// A state note (D84) survives the trace file: written, read and replayed.
// A note's fields are kept sorted by key whatever order they come in (traces
// list them so), and of two with one key the later wins.
TEST(Judges, NoteFieldsAreSortedByKeyAndTheLaterOfTwoWins) {
  const conformance::NoteFields f(std::vector<std::pair<std::string, std::string>>{
      {"lsn", "1"}, {"collection", "orders"}, {"tenant", "2"}, {"lsn", "3"}, {"a", "x"}});
  std::vector<std::string> keys;
  for (const auto& [k, v] : f) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "collection", "lsn", "tenant"}));
  ASSERT_NE(f.find("lsn"), nullptr);
  EXPECT_EQ(*f.find("lsn"), "3");
  EXPECT_EQ(f.find("ls"), nullptr);
  conformance::NoteFields g;
  g["tenant"] = "2";
  g["a"] = "x";
  g["collection"] = "orders";
  g["lsn"] = "3";
  EXPECT_EQ(f, g);
  const std::map<std::string, std::string> m{
      {"tenant", "2"}, {"a", "x"}, {"collection", "orders"}, {"lsn", "3"}};
  EXPECT_EQ(conformance::NoteFields(m), f);
  // In order but with a key twice: still the later wins.
  const conformance::NoteFields twice(
      std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"b", "2"}, {"b", "3"}});
  ASSERT_EQ(twice.size(), 2u);
  EXPECT_EQ(*twice.find("b"), "3");
}

TEST(Judges, StateNotesRoundTripThroughTraceFiles) {
  conformance::StateNote n{
      42, 3, Sender::Client, "definition_stored", {{"name", "orders \"v2\""}, {"version", "7"}}};
  std::ostringstream out;
  conformance::write_trace_note(out, n);
  const auto read = conformance::read_trace(out.str(), "t.jsonl");
  ASSERT_TRUE(read.error.empty()) << read.error;
  ASSERT_EQ(read.items.size(), 1u);
  const auto& got = read.items[0];
  EXPECT_EQ(got.kind, conformance::TraceItem::Kind::Note);
  EXPECT_EQ(got.note.t, 42);
  EXPECT_EQ(got.note.conn, 3u);
  EXPECT_EQ(got.note.side, Sender::Client);
  EXPECT_EQ(got.note.kind, "definition_stored");
  EXPECT_EQ(got.note.fields, n.fields);
  // A note whose side is not a side is refused with its line.
  const auto bad = conformance::read_trace(
      "{\"t\":1,\"conn\":1,\"ev\":\"note\",\"side\":\"relay\",\"kind\":\"x\"}\n", "b.jsonl");
  EXPECT_NE(bad.error.find("b.jsonl:1:"), std::string::npos) << bad.error;
}

}  // namespace
}  // namespace syncsim::test
