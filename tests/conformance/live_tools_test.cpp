// The pieces that point syncsim at implementations nobody here wrote: target
// files and baselines, `check --client` (syncsim as a scripted server for a
// client started per case), and the fault-injecting proxy. All on loopback.
#include <gtest/gtest.h>

#include <array>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "conformance/live/client_check.hpp"
#include "conformance/live/frame_conn.hpp"
#include "conformance/live/hostile_live.hpp"
#include "conformance/live/live_client.hpp"
#include "conformance/live/live_server.hpp"
#include "conformance/live/proxy.hpp"
#include "conformance/live/server_check.hpp"
#include "conformance/live/target.hpp"
#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "reference/ws_runtime.hpp"
#include "tests/support/asio_wait.hpp"

namespace syncsim::test {
namespace {

using namespace conformance;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// ---- target files and baselines ------------------------------------------

TEST(TargetFile, ReadsEveryKey) {
  const auto t = parse_target(
      "server: ws://127.0.0.1:9090/sync\n"
      "jwt_secret: s3cret\n"
      "tenant: 7\n"
      "capabilities: [handshake, ping, deltas]\n"
      "expected_failures: [duplicate-acked-with-lsn-0, TOKEN-1]\n"
      "time_scale: 2.5\n",
      "t.yaml");
  ASSERT_TRUE(t.target) << t.error;
  EXPECT_EQ(t.target->server, "ws://127.0.0.1:9090/sync");
  EXPECT_EQ(t.target->jwt_secret, "s3cret");
  EXPECT_EQ(t.target->tenant, 7u);
  EXPECT_EQ(t.target->capabilities, (std::set<std::string>{"handshake", "ping", "deltas"}));
  EXPECT_EQ(t.target->expected_failures,
            (std::set<std::string>{"duplicate-acked-with-lsn-0", "TOKEN-1"}));
  EXPECT_EQ(t.target->time_scale, 2.5);
}

TEST(TargetFile, HooksMapTheOperatorStepsToCommands) {
  const auto t = parse_target(
      "hooks:\n  purge: \"admin purge {tenant} {collection}\"\n  define: d\nhook_timeout_s: 3\n",
      "t.yaml");
  ASSERT_TRUE(t.target) << t.error;
  EXPECT_EQ(t.target->hooks.at("purge"), "admin purge {tenant} {collection}");
  EXPECT_EQ(t.target->hooks.size(), 2u);
  EXPECT_EQ(t.target->hook_timeout_s, 3);
}

TEST(TargetFile, MistakesNameFileLineAndWhatWasExpected) {
  const std::pair<const char*, const char*> bad[] = {
      {"server: x\ncapabilites: [ping]\n", "t.yaml:2:1: unknown key \"capabilites\""},
      {"capabilities: [ping, teleport]\n", "t.yaml:1:15: unknown capability \"teleport\""},
      {"token: a\njwt_secret: b\n", "t.yaml:2:13: give \"token\" or \"jwt_secret\", not both"},
      {"time_scale: 0\n", "t.yaml:1:13: \"time_scale\" must be a number in [0.01, 1000]"},
      {"tenant: [1]\n", "t.yaml:1:9: \"tenant\" must be an integer"},
      {"capabilities: [ping\n", "t.yaml:"},
      {"hooks: {purge: x, teleport: y}\n", "t.yaml:1:19: unknown hook \"teleport\""},
      {"hooks: [purge]\n", "t.yaml:1:8: \"hooks\" maps hook names to shell commands"},
  };
  for (const auto& [text, want] : bad) {
    const auto t = parse_target(text, "t.yaml");
    EXPECT_FALSE(t.target) << text;
    EXPECT_EQ(t.error.rfind(want, 0), 0u) << "got: " << t.error << "\nwant: " << want;
  }
  const auto b = parse_target("expected_failures: [x]\ntoken: t\n", "b.yaml", true);
  EXPECT_EQ(b.error.rfind("b.yaml:2:1: unknown key \"token\" in a baseline file", 0), 0u)
      << b.error;
}

TEST(TargetFile, AWrittenBaselineReadsBack) {
  const std::set<std::string> ids{"DELTA-6", "ping-echoed"};
  const auto b = parse_target(baseline_text(ids, "a test"), "b.yaml", true);
  ASSERT_TRUE(b.target) << b.error;
  EXPECT_EQ(b.target->expected_failures, ids);
  const auto none = parse_target(baseline_text({}, "a test"), "b.yaml", true);
  ASSERT_TRUE(none.target) << none.error;
  EXPECT_TRUE(none.target->expected_failures.empty());
}

TEST(LiveSuite, BaselinedFailuresXFailAndBaselinedPassesXPass) {
  LiveSuiteOptions o;
  o.expected_failures = {"DELTA-6", "ping-echoed"};
  CaseResult failed{"duplicate-acked-with-lsn-0", "DELTA-6", "", "deltas", Verdict::Fail};
  apply_baseline(failed, o);
  EXPECT_EQ(failed.verdict, Verdict::XFail);
  CaseResult timed_out{"other", "DELTA-7", "", "deltas", Verdict::Timeout};
  apply_baseline(timed_out, o);
  EXPECT_EQ(timed_out.verdict, Verdict::Timeout);  // not baselined: still a failure
  CaseResult passed{"ping-echoed", "PING-2", "", "ping", Verdict::Pass};
  apply_baseline(passed, o);
  EXPECT_EQ(passed.verdict, Verdict::XPass);
  EXPECT_FALSE(counts_as_failure(Verdict::XFail));
  EXPECT_FALSE(counts_as_failure(Verdict::XPass));
  EXPECT_FALSE(counts_as_failure(Verdict::Unsupported));
  EXPECT_TRUE(counts_as_failure(Verdict::Timeout));
  o.time_scale = 2.5;
  EXPECT_EQ(o.scaled(200).count(), 500);
}

// A case whose script failed (its own rule) and whose frames broke `rules` (MUST findings).
CaseResult failed_case(const std::string& id, const std::string& rule,
                       std::vector<std::string_view> rules, bool script_failed = true) {
  CaseResult r{id, rule, "", "deltas", Verdict::Pass};
  for (const auto rr : rules) {
    CheckFinding f;
    f.finding.rule = rr;
    r.findings.push_back(f);
  }
  if (script_failed) r.verdict = Verdict::Fail;
  take_findings(r, {}, protocol::Sender::Server);  // none added; a checker-only failure below
  if (!script_failed) {
    r.verdict = Verdict::Fail;
    r.failed_by_checker = true;
  }
  return r;
}

// D125: expected failures keyed by (case, rule).
TEST(LiveSuite, ANewRuleBrokenInsideAKnownFailingCaseStillFails) {
  LiveSuiteOptions o;
  o.expected_failures = {"lsns-never-go-backwards:DELTA-8"};
  CaseResult same = failed_case("lsns-never-go-backwards", "DELTA-8", {});
  apply_baseline(same, o);
  EXPECT_EQ(same.verdict, Verdict::XFail);
  CaseResult more = failed_case("lsns-never-go-backwards", "DELTA-8", {"SHAPE-9"});
  apply_baseline(more, o);
  EXPECT_EQ(more.verdict, Verdict::Fail);  // SHAPE-9 is new
  EXPECT_NE(more.detail.find("it also breaks SHAPE-9"), std::string::npos) << more.detail;
  o.expected_failures.insert("lsns-never-go-backwards:SHAPE-9");
  more = failed_case("lsns-never-go-backwards", "DELTA-8", {"SHAPE-9"});
  apply_baseline(more, o);
  EXPECT_EQ(more.verdict, Verdict::XFail);
  // The pair names only its case: another case failing DELTA-8 still fails.
  CaseResult other = failed_case("answers-in-push-order", "DELTA-9", {"DELTA-8"}, false);
  apply_baseline(other, o);
  EXPECT_EQ(other.verdict, Verdict::Fail);
  // A bare rule expects that rule in any case...
  o.expected_failures = {"DELTA-8"};
  other = failed_case("answers-in-push-order", "DELTA-9", {"DELTA-8"}, false);
  apply_baseline(other, o);
  EXPECT_EQ(other.verdict, Verdict::XFail);
  // ... but not the case's own rule when its script failed too.
  CaseResult script = failed_case("answers-in-push-order", "DELTA-9", {"DELTA-8"});
  apply_baseline(script, o);
  EXPECT_EQ(script.verdict, Verdict::Fail);
  // A bare case id keeps its old meaning: any failure of the whole case.
  o.expected_failures = {"lsns-never-go-backwards"};
  more = failed_case("lsns-never-go-backwards", "DELTA-8", {"SHAPE-9", "DELTA-4"});
  apply_baseline(more, o);
  EXPECT_EQ(more.verdict, Verdict::XFail);
  // A pair naming a passing case: XPASS, so the baseline can be trimmed.
  o.expected_failures = {"ping-echoed:PING-2"};
  CaseResult passed{"ping-echoed", "PING-2", "", "ping", Verdict::Pass};
  apply_baseline(passed, o);
  EXPECT_EQ(passed.verdict, Verdict::XPass);
}

TEST(LiveSuite, BaselineEntriesNameEachRuleAFailedCaseBreaks) {
  CaseResult r = failed_case("lsns-never-go-backwards", "DELTA-8", {"SHAPE-9"});
  EXPECT_EQ(failed_rules(r), (std::set<std::string>{"DELTA-8", "SHAPE-9"}));
  EXPECT_EQ(baseline_entries(r), (std::set<std::string>{"lsns-never-go-backwards:DELTA-8",
                                                        "lsns-never-go-backwards:SHAPE-9"}));
  CaseResult by_checker = failed_case("answers-in-push-order", "DELTA-9", {"DELTA-8"}, false);
  EXPECT_EQ(baseline_entries(by_checker), (std::set<std::string>{"answers-in-push-order:DELTA-8"}));
  // A written baseline of pairs reads back and passes the name check.
  const auto b = parse_target(baseline_text(baseline_entries(r), "a test"), "b.yaml", true);
  ASSERT_TRUE(b.target) << b.error;
  for (const auto& e : b.target->expected_failures)
    EXPECT_EQ(unknown_expected_failure(e, server_cases()), "") << e;
  EXPECT_EQ(unknown_expected_failure("no-such-case:DELTA-8", server_cases()),
            "no case \"no-such-case\"");
  EXPECT_EQ(unknown_expected_failure("lsns-never-go-backwards:DELTA-99", server_cases()),
            "no rule \"DELTA-99\"");
  EXPECT_EQ(unknown_expected_failure("SHAPE-9", server_cases()), "");  // a rule: any case
  EXPECT_EQ(unknown_expected_failure("typo-case", server_cases()), "no case \"typo-case\"");
}

TEST(CheckServer, CasesOutsideTheTargetsCapabilitiesAreUnsupportedNotRun) {
  boost::asio::io_context ioc;
  LiveServer::Options so;
  so.listen = *parse_endpoint("tcp://127.0.0.1:0").endpoint;
  LiveServer server(ioc, so);
  boost::system::error_code ec;
  ASSERT_TRUE(server.start(ec)) << ec.message();
  ServerCheckOptions o;
  o.target = so.listen;
  o.target.port = server.port();
  o.suite.capabilities = {"ping"};
  o.suite.expected_failures = {"PING-2"};  // passes: XPASS, reported
  const auto results = check_server(ioc, o);
  ASSERT_EQ(results.size(), server_cases().size());
  for (const auto& r : results) {
    if (r.rule == "PING-2") {
      EXPECT_EQ(r.verdict, Verdict::XPass);
    } else if (r.capability == "ping") {
      EXPECT_EQ(r.verdict, Verdict::Pass) << r.id << ": " << r.detail;
    } else {
      EXPECT_EQ(r.verdict, Verdict::Unsupported) << r.id;
      EXPECT_TRUE(r.frames.empty()) << r.id;  // never run
    }
  }
  EXPECT_EQ(server.connections(), 2u);  // only the two ping cases connected
}

// ---- check --client ---------------------------------------------------------

// The reference client as a user's --exec command would start it.
std::string reference_client(const std::string& extra = "") {
  return std::string("'") + SYNCSIM_BINARY +
         "' client --connect \"$SYNCSIM_TARGET\" --shape orders --writes 3 --apply-rate 200 "
         "--token \"$SYNCSIM_TOKEN\" --jwt-secret \"$SYNCSIM_JWT_SECRET\" " +
         extra;
}

struct ClientRun {
  boost::asio::io_context ioc;
  ClientCheckOptions options;
  ClientCheckRun run;
  explicit ClientRun(const std::string& listen) {
    options.listen = *parse_endpoint(listen).endpoint;
    // Loaded CI machines (sanitizers, two test processes per core): every
    // real-time wait gets half as long again as its budget.
    options.suite.time_scale = 1.5;
  }
  void check(const std::string& exec, const std::string& filter = "") {
    options.exec = exec;
    options.suite.filter = filter;
    run = check_client(ioc, options);
  }
  const CaseResult* result(const std::string& rule) const {
    for (const auto& r : run.results) {
      if (r.rule == rule) return &r;
    }
    return nullptr;
  }
  std::string not_passed() const {
    std::string out = run.error;
    for (const auto& r : run.results) {
      if (r.verdict != Verdict::Pass) {
        out += "\n  " + std::string(verdict_name(r.verdict)) + " " + r.rule + " " + r.id + ": " +
               r.detail;
        for (const auto& f : r.frames) out += "\n      " + f;
      }
    }
    return out;
  }
};

TEST(CheckClient, TheReferenceClientPassesEveryCaseOverTcp) {
  ClientRun c("tcp://127.0.0.1:0");
  // The suite is mostly real-time waits (about 30 s): sanitizer builds run
  // the gap cases only, the Release run all of them.
  const bool quick = std::getenv("SYNCSIM_QUICK") != nullptr;
  c.check(reference_client(), quick ? "RESYNC" : "");
  EXPECT_EQ(c.run.results.size(), quick ? 2u : client_cases().size());
  EXPECT_TRUE(c.not_passed().empty()) << c.not_passed();
}

TEST(CheckClient, TheReferenceClientPassesOverWebSocket) {
  ClientRun c("ws://127.0.0.1:0/sync");
  c.check(reference_client(), "RESYNC");  // the gap cases: deltas, timing, resync over WS
  EXPECT_EQ(c.run.results.size(), 2u);
  EXPECT_TRUE(c.not_passed().empty()) << c.not_passed();
}

TEST(CheckClient, RESYNC_2_AClientThatIgnoresGapsIsCaught) {
  ClientRun c("tcp://127.0.0.1:0");
  c.check(reference_client("--bug NoResyncOnGap"), "gap-triggers-resync");
  const auto* r = c.result("RESYNC-2");
  ASSERT_NE(r, nullptr) << c.not_passed();
  EXPECT_TRUE(counts_as_failure(r->verdict)) << c.not_passed();
  EXPECT_NE(r->detail.find("ResyncRequest"), std::string::npos) << r->detail;
  const bool found = std::any_of(r->findings.begin(), r->findings.end(), [](const CheckFinding& f) {
    return f.finding.rule == "RESYNC-2";
  });
  EXPECT_TRUE(found) << "the checker names the rule too";
}

// D119: the reference client scheduled as NodeDB-Lite is (a 100 ms push
// tick, a 250 ms refresh tick refreshing at 80 %), pushing all the while,
// passes the gap and token cases: pushes on the wire when it read the gap
// are not "before the ResyncRequest", and a refresh is due by exp + 60 s.
TEST(CheckClient, ALiteLikeClientPassesTheGapAndTokenCases) {
  ClientRun c("tcp://127.0.0.1:0");
  c.check(std::string("'") + SYNCSIM_BINARY +
              "' client --connect \"$SYNCSIM_TARGET\" --shape orders --writes 2000 "
              "--write-every-ms 5 --apply-rate 200 --token \"$SYNCSIM_TOKEN\" "
              "--jwt-secret \"$SYNCSIM_JWT_SECRET\" --push-tick-ms 100 --refresh-tick-ms 250",
          "gap-triggers-resync");
  EXPECT_EQ(c.run.results.size(), 1u);
  EXPECT_TRUE(c.not_passed().empty()) << c.not_passed();
  EXPECT_GE(c.run.max_tap_tolerance_ns, 50'000'000);  // the floor, or the round trip's
  if (std::getenv("SYNCSIM_QUICK")) return;
  c.check(std::string("'") + SYNCSIM_BINARY +
              "' client --connect \"$SYNCSIM_TARGET\" --shape orders --writes 3 "
              "--token \"$SYNCSIM_TOKEN\" --jwt-secret \"$SYNCSIM_JWT_SECRET\" "
              "--push-tick-ms 100 --refresh-tick-ms 250",
          "token-refreshed-before-expiry");
  EXPECT_EQ(c.run.results.size(), 1u);
  EXPECT_TRUE(c.not_passed().empty()) << c.not_passed();
}

TEST(CheckClient, FRAME_10_AClientThatDropsTheConnectionOnABadBodyIsCaught) {
  ClientRun c("tcp://127.0.0.1:0");
  c.check(reference_client("--bug CloseOnUndecodable"), "undecodable-bodies-ignored");
  const auto* r = c.result("FRAME-10");
  ASSERT_NE(r, nullptr) << c.not_passed();
  EXPECT_TRUE(counts_as_failure(r->verdict)) << c.not_passed();
  EXPECT_NE(r->detail.find("818181"), std::string::npos) << r->detail;
}

TEST(CheckClient, FRAME_10_TheReferenceClientIgnoresBadBodies) {
  ClientRun c("tcp://127.0.0.1:0");
  c.check(reference_client(""), "undecodable-bodies-ignored");
  const auto* r = c.result("FRAME-10");
  ASSERT_NE(r, nullptr) << c.not_passed();
  EXPECT_EQ(r->verdict, Verdict::Pass) << c.not_passed();
}

TEST(CheckClient, PURGE_7_AClientThatPushesToAPurgedCollectionIsCaught) {
  ClientRun c("tcp://127.0.0.1:0");
  c.check(reference_client("--bug PushToPurged"), "no-push-after-purge");
  const auto* r = c.result("PURGE-7");
  ASSERT_NE(r, nullptr) << c.not_passed();
  EXPECT_EQ(r->verdict, Verdict::Fail) << c.not_passed();
  EXPECT_NE(r->detail.find("DeltaPush of purged"), std::string::npos) << r->detail;
}

TEST(CheckClient, THROTTLE_2_AClientThatNeverThrottlesIsCaught) {
  ClientRun c("tcp://127.0.0.1:0");
  c.options.suite.time_scale = 1;  // it waits out the budget: keep it short
  c.check(reference_client("--bug NeverThrottle"), "flood-throttles");
  const auto* r = c.result("THROTTLE-2");
  ASSERT_NE(r, nullptr) << c.not_passed();
  EXPECT_EQ(r->verdict, Verdict::Timeout) << c.not_passed();
}

// A client of our own, in process, with a chosen defect: it reconnects to
// `port` until a case accepts it, handshakes, pushes mutations 1 and 2, and
// either sends a rejected push again at once (ignoring retry_after_ms) or
// sends a different mutation under id 2 (reusing ids).
class DefectiveClient {
 public:
  enum class Defect { ResendAtOnce, ReuseIds };
  DefectiveClient(boost::asio::io_context& ioc, std::uint16_t port, Defect d)
      : ioc_(ioc), port_(port), defect_(d), timer_(ioc) {
    connect();
  }
  ~DefectiveClient() {
    stopped_ = true;
    timer_.cancel();
    if (conn_) conn_->close();
  }

 private:
  static protocol::DeltaPush push(std::uint64_t id, const std::string& doc) {
    protocol::DeltaPush p;
    p.collection = "orders";
    p.document_id = doc;
    p.delta = {1, static_cast<std::uint8_t>(doc.size())};
    p.peer_id = 42;
    p.mutation_id = id;
    p.checksum = protocol::crc32c(p.delta);
    return p;
  }
  void connect() {
    if (stopped_) return;
    auto socket = std::make_shared<tcp::socket>(ioc_);
    socket->async_connect({boost::asio::ip::address_v4::loopback(), port_},
                          [this, socket](boost::system::error_code ec) {
                            if (stopped_) return;
                            if (ec) return retry();
                            start(std::move(*socket));
                          });
  }
  void retry() {
    timer_.expires_after(std::chrono::milliseconds(50));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) connect();
    });
  }
  void start(tcp::socket s) {
    conn_ = std::make_shared<FrameConn<tcp::socket>>(std::move(s));
    conn_->on_frame = [this](const protocol::Bytes& f) {
      const auto d = protocol::decode_frame(f);
      if (!d.message) return;
      if (const auto* a = std::get_if<protocol::HandshakeAck>(&*d.message); a && a->success) {
        conn_->send(protocol::encode_frame(push(1, "a")));
        conn_->send(protocol::encode_frame(push(2, "b")));
        if (defect_ == Defect::ReuseIds) conn_->send(protocol::encode_frame(push(2, "c")));
      }
      if (const auto* r = std::get_if<protocol::DeltaReject>(&*d.message);
          r && defect_ == Defect::ResendAtOnce) {
        conn_->send(protocol::encode_frame(push(r->mutation_id, r->mutation_id == 1 ? "a" : "b")));
      }
    };
    conn_->on_close = [this](const std::string&) {
      if (!stopped_) retry();
    };
    conn_->start();
    protocol::Handshake h;
    h.client_version = "defective/0";
    h.wire_version = 1;
    conn_->send(protocol::encode_frame(h));
  }

  boost::asio::io_context& ioc_;
  std::uint16_t port_;
  Defect defect_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<FrameConn<tcp::socket>> conn_;
  bool stopped_ = false;
};

std::uint16_t free_port() {
  boost::asio::io_context ioc;
  tcp::acceptor a(ioc, {boost::asio::ip::address_v4::loopback(), 0});
  return a.local_endpoint().port();
}

TEST(CheckClient, DELTA_14_AClientThatIgnoresRetryAfterIsCaught) {
  const std::uint16_t port = free_port();
  ClientRun c("tcp://127.0.0.1:" + std::to_string(port));
  c.options.connect_budget_ms = 5000;
  DefectiveClient client(c.ioc, port, DefectiveClient::Defect::ResendAtOnce);
  c.check("", "honours-retry-after");
  ASSERT_EQ(c.run.results.size(), 1u) << c.not_passed();
  EXPECT_EQ(c.run.results[0].verdict, Verdict::Fail) << c.not_passed();
  EXPECT_NE(c.run.results[0].detail.find("before its retry_after_ms"), std::string::npos)
      << c.not_passed();
}

TEST(CheckClient, DELTA_1_AClientThatReusesAMutationIdIsCaught) {
  const std::uint16_t port = free_port();
  ClientRun c("tcp://127.0.0.1:" + std::to_string(port));
  c.options.connect_budget_ms = 5000;
  DefectiveClient client(c.ioc, port, DefectiveClient::Defect::ReuseIds);
  c.check("", "distinct-mutation-ids");
  ASSERT_EQ(c.run.results.size(), 1u) << c.not_passed();
  EXPECT_EQ(c.run.results[0].verdict, Verdict::Fail) << c.not_passed();
  EXPECT_NE(c.run.results[0].detail.find("names two mutations"), std::string::npos)
      << c.not_passed();
}

TEST(CheckClient, DELTA_2_WrongChecksumsAreCaughtByTheChecker) {
  ClientRun c("tcp://127.0.0.1:0");
  c.options.suite.time_scale = 1;
  c.check(reference_client("--bug WrongChecksum"), "acked-not-resent");
  const auto* r = c.result("DELTA-12");
  ASSERT_NE(r, nullptr) << c.not_passed();
  EXPECT_EQ(r->verdict, Verdict::Fail);
  EXPECT_NE(r->detail.find("DELTA-2"), std::string::npos) << r->detail;
}

TEST(CheckClient, AClientThatExitsOrNeverConnectsEndsTheRunAtOnce) {
  {
    ClientRun c("tcp://127.0.0.1:0");
    c.check("echo 'no such client' >&2; exit 3");
    ASSERT_EQ(c.run.results.size(), 1u) << c.not_passed();
    EXPECT_EQ(c.run.results[0].verdict, Verdict::Unreachable);
    EXPECT_NE(c.run.results[0].detail.find("exited with status 3"), std::string::npos);
    ASSERT_FALSE(c.run.results[0].frames.empty());
    EXPECT_EQ(c.run.results[0].frames.back(), "client| no such client");  // its output shown
  }
  {
    ClientRun c("tcp://127.0.0.1:0");
    c.options.connect_budget_ms = 150;
    const auto t0 = Clock::now();
    c.check("");  // nobody starts a client
    ASSERT_EQ(c.run.results.size(), 1u);
    EXPECT_EQ(c.run.results[0].verdict, Verdict::Unreachable);
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
  }
}

// A peer of our own making on the same io_context: it connects (retrying
// until the case listens) and then says nothing, or garbage.
struct HostilePeer {
  boost::asio::io_context& ioc;
  std::uint16_t port;
  bool garbage;
  tcp::socket socket{ioc};
  boost::asio::steady_timer retry{ioc};
  Clock::time_point give_up = Clock::now() + std::chrono::seconds(5);
  void connect() {
    socket.async_connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port),
                         [this](boost::system::error_code ec) {
                           if (ec) {
                             boost::system::error_code ignored;
                             socket.close(ignored);
                             if (Clock::now() > give_up) return;
                             retry.expires_after(std::chrono::milliseconds(10));
                             retry.async_wait([this](boost::system::error_code e) {
                               if (!e) connect();
                             });
                             return;
                           }
                           if (!garbage) return;
                           static const protocol::Bytes junk{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0};
                           boost::asio::async_write(socket, boost::asio::buffer(junk),
                                                    [](boost::system::error_code, std::size_t) {});
                         });
  }
};

TEST(CheckClient, AStalledClientTimesOutAndAGarbageClientFailsNamingTheRule) {
  for (const bool garbage : {false, true}) {
    ClientRun c("tcp://127.0.0.1:0");
    {
      tcp::acceptor probe(c.ioc, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
      c.options.listen.port = probe.local_endpoint().port();
    }
    c.options.suite.time_scale = 0.1;  // the case's 5 s wait for a first frame: 0.5 s
    HostilePeer peer{c.ioc, c.options.listen.port, garbage};
    peer.connect();
    const auto t0 = Clock::now();
    c.check("", "handshake-first");
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(4));
    ASSERT_EQ(c.run.results.size(), 1u) << c.not_passed();
    const auto& r = c.run.results[0];
    if (garbage) {
      EXPECT_EQ(r.verdict, Verdict::Fail) << r.detail;
      EXPECT_NE(r.detail.find("FRAME-9"), std::string::npos) << r.detail;
    } else {
      EXPECT_EQ(r.verdict, Verdict::Timeout) << r.detail;
    }
  }
}

// ---- the proxy ----------------------------------------------------------------

TEST(ProxyFaults, ReadsBothDirectionsLikeAScenarioLink) {
  const auto f = parse_proxy_faults(
      "client_to_server:\n"
      "  latency_ms: 20\n"
      "  jitter_ms: 10\n"
      "server_to_client:\n"
      "  frames: {drop_next: 1, reorder_ppm: 100000, types: [ShapeDelta]}\n",
      "f.yaml");
  ASSERT_TRUE(f.faults) << f.error;
  EXPECT_EQ(f.faults->to_server.latency, 20 * sim::kMillisecond);
  EXPECT_EQ(f.faults->to_server.jitter, 10 * sim::kMillisecond);
  EXPECT_FALSE(f.faults->to_server.frame_faults);
  EXPECT_EQ(f.faults->to_client.latency, 0);
  EXPECT_TRUE(f.faults->to_client.frame_faults);
  EXPECT_EQ(f.faults->to_client.drop_next, 1u);
  EXPECT_EQ(f.faults->to_client.frame_reorder, sim::Ratio::ppm(100000));
  EXPECT_TRUE(f.faults->to_client.frame_types.test(0x22));
  EXPECT_FALSE(f.faults->to_client.frame_types.test(0x11));
  const auto bad = parse_proxy_faults("server_to_client:\n  frames: {drop_pm: 5}\n", "f.yaml");
  EXPECT_EQ(bad.error.rfind("f.yaml:2:12: unknown key \"drop_pm\"", 0), 0u) << bad.error;
  const auto bad_type =
      parse_proxy_faults("client_to_server: {frames: {types: [Shape]}}\n", "f.yaml");
  EXPECT_NE(bad_type.error.find("unknown message \"Shape\""), std::string::npos) << bad_type.error;
}

// The reference pair through a reordering, duplicating proxy still converges
// (drops are left to the replay test: a dropped last ShapeDelta shows no gap,
// so no client could converge); every frame is judged both ways, no MUST.
TEST(Proxy, TheReferencePairConvergesThroughFaultsAndEveryFrameIsJudged) {
  boost::asio::io_context ioc;
  LiveServer::Options so;
  so.listen = *parse_endpoint("tcp://127.0.0.1:0").endpoint;
  LiveServer server(ioc, so);
  boost::system::error_code ec;
  ASSERT_TRUE(server.start(ec)) << ec.message();

  Proxy::Options po;
  po.listen = *parse_endpoint("ws://127.0.0.1:0/").endpoint;  // WebSocket in, TCP out
  po.upstream = so.listen;
  po.upstream.port = server.port();
  const auto faults = parse_proxy_faults(
      "client_to_server:\n"
      "  jitter_ms: 3\n"
      "  frames: {duplicate_ppm: 200000, types: [DeltaPush]}\n"
      "server_to_client:\n"
      "  jitter_ms: 3\n"
      "  frames: {reorder_ppm: 300000, reorder_window_ms: 20,\n"
      "           types: [DeltaAck, ShapeDelta]}\n",
      "faults.yaml");
  ASSERT_TRUE(faults.faults) << faults.error;
  po.faults = *faults.faults;
  po.seed = 11;
  std::ostringstream trace;
  po.trace = &trace;
  Proxy proxy(ioc, po);
  ASSERT_TRUE(proxy.start(ec)) << ec.message();

  auto client_options = [&](int writes, std::uint64_t seed) {
    LiveClient::Options o;
    o.connect = po.listen;
    o.connect.port = proxy.port();
    protocol::ShapeDefinition shape;
    shape.shape_id = "orders-all";
    shape.shape_type = protocol::shape_type::Document{"orders", {}};
    o.config.shapes = {shape};
    o.config.retransmit_ms = 300;
    o.writes = writes;
    o.write_every_ms = 10;
    o.seed = seed;
    return o;
  };
  LiveClient writer(ioc, client_options(40, 1)), reader(ioc, client_options(0, 2));
  writer.start();
  reader.start();
  auto converged = [&] {
    if (writer.writes_done() < 40 || writer.core().pending() > 0) return false;
    const auto &a = writer.core().view(), &b = reader.core().view();
    const auto wa = a.find("orders"), rb = b.find("orders");
    return wa != a.end() && rb != b.end() && wa->second.size() == 10 && wa->second == rb->second;
  };
  for (int i = 0; i < 4 && !converged(); ++i) run_until(ioc, converged);  // at most ~20 s
  EXPECT_TRUE(converged()) << "writer pending " << writer.core().pending();
  const auto& s = proxy.stats();
  EXPECT_GT(s.dropped + s.reordered + s.duplicated, 0u) << "the faults happened";
  EXPECT_GE(s.connections, 2u);
  writer.stop();
  reader.stop();
  proxy.stop();
  server.stop();
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(100));  // the closes complete
  proxy.finish();
  EXPECT_EQ(proxy.checker().must_count(), 0u)
      << (proxy.checker().findings().empty()
              ? ""
              : format_check_finding(proxy.checker().findings().front()));
  EXPECT_NE(trace.str().find("\"seen\":\"received\""), std::string::npos);
  EXPECT_NE(trace.str().find("\"seen\":\"written\""), std::string::npos);
  // The WebSocket clients' messages are recorded whole (D85).
  EXPECT_NE(trace.str().find("\"ws\":\"binary\""), std::string::npos);
}

// The proxy's live control (issue 16: a scenario's steps against a real
// server). A reader behind the proxy, a writer straight to the server: a
// blocked direction holds frames and delivers them all, in order, once
// unblocked; a reset cuts every pair (the client reconnects); a link change
// applies to the pairs already open (one ShapeDelta lost: the reader resyncs).
TEST(Proxy, LiveControlBlocksResetsAndChangesLinks) {
  boost::asio::io_context ioc;
  LiveServer::Options so;
  so.listen = *parse_endpoint("tcp://127.0.0.1:0").endpoint;
  LiveServer server(ioc, so);
  boost::system::error_code ec;
  ASSERT_TRUE(server.start(ec)) << ec.message();
  Proxy::Options po;
  po.listen = *parse_endpoint("tcp://127.0.0.1:0").endpoint;
  po.upstream = so.listen;
  po.upstream.port = server.port();
  Proxy proxy(ioc, po);
  ASSERT_TRUE(proxy.start(ec)) << ec.message();
  auto options = [&](std::uint16_t port, int writes, std::uint64_t seed) {
    LiveClient::Options o;
    o.connect = so.listen;
    o.connect.port = port;
    protocol::ShapeDefinition shape;
    shape.shape_id = "orders-all";
    shape.shape_type = protocol::shape_type::Document{"orders", {}};
    o.config.shapes = {shape};
    o.writes = writes;
    o.write_every_ms = 10;
    o.seed = seed;
    return o;
  };
  auto docs_of = [](const LiveClient& c) -> std::size_t {
    const auto it = c.core().view().find("orders");
    return it == c.core().view().end() ? 0 : it->second.size();
  };
  LiveClient reader(ioc, options(proxy.port(), 0, 2));
  reader.start();
  run_until(ioc, [&] { return reader.core().authenticated(); });
  ASSERT_TRUE(reader.core().authenticated());

  proxy.set_blocked(protocol::Sender::Server, true);
  LiveClient writer(ioc, options(server.port(), 10, 1));
  writer.start();
  run_until(ioc, [&] { return writer.writes_done() == 10 && writer.core().pending() == 0; });
  ASSERT_EQ(writer.core().pending(), 0u);
  EXPECT_EQ(docs_of(reader), 0u) << "frames of a blocked direction wait";
  proxy.set_blocked(protocol::Sender::Server, false);
  run_until(ioc, [&] { return docs_of(reader) == 10; });
  EXPECT_EQ(docs_of(reader), 10u);
  EXPECT_EQ(proxy.stats().dropped, 0u);

  proxy.reset_connections();
  run_until(ioc,
            [&] { return reader.core().stats().reconnects >= 1 && reader.core().authenticated(); });
  EXPECT_GE(reader.core().stats().reconnects, 1u);

  sim::LinkParams lose_one;
  lose_one.frame_faults = true;
  lose_one.frame_types.reset();
  lose_one.frame_types.set(protocol::ShapeDelta::kCode);
  lose_one.drop_next = 1;
  proxy.set_link(protocol::Sender::Server, lose_one);
  LiveClient second(ioc, options(server.port(), 10, 3));
  second.start();
  const auto resyncs = reader.core().stats().resyncs;
  run_until(ioc,
            [&] { return second.writes_done() == 10 && reader.core().stats().resyncs > resyncs; });
  EXPECT_EQ(proxy.stats().dropped, 1u);
  EXPECT_GT(reader.core().stats().resyncs, resyncs) << "the lost ShapeDelta showed as a gap";
  for (auto* c : {&reader, &writer, &second}) c->stop();
  proxy.stop();
  server.stop();
}

// The proxy records what a WebSocket client writes as whole messages, so
// two frames in one binary message (FRAME-4) and a frame in a text message
// (FRAME-7) are judged, and blamed on the client; its one-frame messages
// are judged as frames.
TEST(FRAME_4, TheProxyJudgesWebSocketMessagesWhole) {
  boost::asio::io_context ioc;
  LiveServer::Options so;
  so.listen = *parse_endpoint("tcp://127.0.0.1:0").endpoint;
  LiveServer server(ioc, so);
  boost::system::error_code ec;
  ASSERT_TRUE(server.start(ec)) << ec.message();
  Proxy::Options po;
  po.listen = *parse_endpoint("ws://127.0.0.1:0/").endpoint;
  po.upstream = so.listen;
  po.upstream.port = server.port();
  std::ostringstream trace;
  po.trace = &trace;
  Proxy proxy(ioc, po);
  ASSERT_TRUE(proxy.start(ec)) << ec.message();

  reference::WsSocket client(ioc, "/");
  bool connected = false;
  client.async_connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), proxy.port()),
                       [&](boost::system::error_code e) { connected = !e; });
  run_until(ioc, [&] { return connected; });
  ASSERT_TRUE(connected);
  protocol::Handshake h;
  h.wire_version = 1;
  protocol::Bytes two = protocol::encode_frame(h);
  const protocol::Bytes ping = protocol::encode_frame(protocol::PingPong{1, false});
  two.insert(two.end(), ping.begin(), ping.end());
  int written = 0;
  auto count = [&](boost::system::error_code, std::size_t) { ++written; };
  client.async_write_message(boost::asio::buffer(two), false, count);
  run_until(ioc, [&] { return written == 1; });
  // A frame header and body in a text message; all ASCII, as Beast reads
  // only valid UTF-8 text (a frame of most codes is not).
  const protocol::Bytes text_frame{0x01, 0x01, 0x00, 0x00, 0x00, 0x30};
  client.async_write_message(boost::asio::buffer(text_frame), true, count);
  run_until(ioc, [&] { return written == 2; });
  ioc.run_for(std::chrono::milliseconds(200));
  client.close(ec);
  proxy.stop();
  server.stop();
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(100));
  proxy.finish();
  auto blamed_on_client = [&](std::string_view rule) {
    for (const auto& f : proxy.checker().findings()) {
      if (f.finding.rule == rule && f.blamed == protocol::Sender::Client) return true;
    }
    return false;
  };
  EXPECT_TRUE(blamed_on_client("FRAME-4")) << trace.str();
  EXPECT_TRUE(blamed_on_client("FRAME-7")) << trace.str();
  EXPECT_NE(trace.str().find("\"ws\":\"text\""), std::string::npos);
  // The Handshake, the message's first frame, reached the server and was answered.
  EXPECT_NE(trace.str().find("\"from\":\"server\""), std::string::npos) << trace.str();
}

// Hostile frames over real sockets: the reference server on TCP and on
// WebSocket survives them and serves a well-behaved client afterwards.
TEST(FRAME_9, HostileFramesOverTcpAndWebSocketNeverTakeTheReferenceServerDown) {
  for (const std::string listen : {"tcp://127.0.0.1:0", "ws://127.0.0.1:0/"}) {
    boost::asio::io_context ioc;
    LiveServer::Options so;
    so.listen = *parse_endpoint(listen).endpoint;
    LiveServer server(ioc, so);
    boost::system::error_code ec;
    ASSERT_TRUE(server.start(ec)) << ec.message();
    Endpoint target = so.listen;
    target.port = server.port();
    HostileOptions o;
    o.seed = 21;
    o.frames = 300;
    const auto s = hostile_live_server(ioc, target, o, 100);
    EXPECT_TRUE(s.alive) << listen << ": " << s.problem;
    EXPECT_EQ(s.frames, 300u);
    EXPECT_GT(s.answered, 0u) << listen;
    EXPECT_EQ(s.answered + s.closed + s.stalled, s.sessions);
  }
}

// A server that never reads while a client floods: the proxy holds at most
// its byte budget for it, then cuts the pair; nothing grows without bound.
TEST(Proxy, AServerThatStopsReadingGetsThePairCutNotAnUnboundedQueue) {
  boost::asio::io_context ioc;
  tcp::acceptor deaf(ioc, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
  std::optional<tcp::socket> held;  // accepted, never read
  deaf.async_accept([&](boost::system::error_code ec, tcp::socket s) {
    if (!ec) held.emplace(std::move(s));
  });
  Proxy::Options po;
  po.listen = *parse_endpoint("tcp://127.0.0.1:0").endpoint;
  po.upstream = po.listen;
  po.upstream.port = deaf.local_endpoint().port();
  po.max_queued_bytes = 1u << 20;
  std::vector<std::string> events;
  po.on_event = [&](const std::string& e) { events.push_back(e); };
  Proxy proxy(ioc, po);
  boost::system::error_code ec;
  ASSERT_TRUE(proxy.start(ec)) << ec.message();

  tcp::socket flooder(ioc);
  flooder.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), proxy.port()));
  protocol::Bytes big{0x99, 0, 0, 0x10, 0};  // an unknown code, 1 MiB body: passed on whole
  big.resize(5 + (1u << 20), 0xAB);
  int sent = 0;
  bool cut = false;
  std::function<void()> flood = [&] {
    if (sent >= 64) return;  // 64 MiB at most, far over any socket buffer
    boost::asio::async_write(flooder, boost::asio::buffer(big),
                             [&](boost::system::error_code e, std::size_t) {
                               if (e) {
                                 cut = true;
                                 return;
                               }
                               ++sent;
                               flood();
                             });
  };
  flood();
  std::array<std::uint8_t, 64> sink{};
  flooder.async_read_some(boost::asio::buffer(sink),
                          [&](boost::system::error_code e, std::size_t) { cut = cut || e; });
  for (int i = 0; i < 4 && !cut; ++i) run_until(ioc, [&] { return cut; });
  EXPECT_TRUE(cut) << "the proxy should have cut the pair; " << sent << " MiB sent";
  EXPECT_LT(sent, 64);
  const bool said_why = std::any_of(events.begin(), events.end(), [](const std::string& e) {
    return e.find("does not read") != std::string::npos;
  });
  EXPECT_TRUE(said_why);
}

}  // namespace
}  // namespace syncsim::test
