// The HTML report's wire log (what the network did to each frame), the HTML
// itself (escaped, self-contained, findings inline), the pcap writer (TCP
// segments that reassemble to the frames) and the simulator event filter.
#include "conformance/report/report.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "conformance/report/pcap.hpp"
#include "protocol/codec.hpp"
#include "protocol/json.hpp"
#include "protocol/schema.hpp"
#include "tests/support/test_support.hpp"

namespace syncsim::test {
namespace {

using conformance::CheckFinding;
using conformance::FrameRecord;
using conformance::Seen;
using protocol::Sender;
namespace report = conformance::report;

protocol::Bytes ping(std::uint64_t ts) {
  return protocol::encode_frame(protocol::PingPong{ts, false});
}

FrameRecord rec(std::int64_t t, Sender from, protocol::Bytes frame, Seen seen,
                std::uint64_t conn = 1) {
  return FrameRecord{t, conn, from, std::move(frame), seen};
}

const report::WireRow* row_of(const report::ReportCase& c, std::int64_t sent,
                              std::string_view fate) {
  for (const auto& r : c.rows)
    if (r.sent_ns == sent && r.fate == fate) return &r;
  return nullptr;
}

// Writes 1..4 at t=1..4; the reads: 3 (overtaking 2), 1, 2, 1 again, and a
// frame nobody wrote. 4 is never read.
TEST(REPORT_WireLog, ClassifiesLostDuplicateReorderedAltered) {
  report::TraceInput in;
  for (int i = 1; i <= 4; ++i) in.frames.push_back(rec(i, Sender::Client, ping(i), Seen::Written));
  in.frames.push_back(rec(10, Sender::Client, ping(3), Seen::Received));
  in.frames.push_back(rec(11, Sender::Client, ping(1), Seen::Received));
  in.frames.push_back(rec(12, Sender::Client, ping(2), Seen::Received));
  in.frames.push_back(rec(13, Sender::Client, ping(1), Seen::Received));
  in.frames.push_back(rec(14, Sender::Client, ping(99), Seen::Received));
  in.clients[1] = "alice";
  report::ReportCase c;
  report::build_wire_log(c, in);
  ASSERT_EQ(c.lifelines, (std::vector<std::string>{"alice", "server"}));
  const auto* three = row_of(c, 3, "reordered");
  ASSERT_NE(three, nullptr);
  EXPECT_EQ(three->read_ns, 10);
  EXPECT_EQ(three->from, "alice");
  EXPECT_EQ(three->to, "server");
  EXPECT_EQ(three->name, "Ping");
  ASSERT_NE(row_of(c, 1, ""), nullptr);
  EXPECT_EQ(row_of(c, 1, "")->read_ns, 11);
  EXPECT_NE(row_of(c, 2, ""), nullptr);
  const auto* dup = row_of(c, 1, "duplicate");
  ASSERT_NE(dup, nullptr);
  EXPECT_EQ(dup->read_ns, 13);
  const auto* lost = row_of(c, 4, "lost");
  ASSERT_NE(lost, nullptr);
  EXPECT_EQ(lost->read_ns, -1);
  EXPECT_NE(row_of(c, 14, "altered"), nullptr);
  EXPECT_EQ(c.rows.size(), 6u);
}

// A frame read past a lost one overtook nothing: it is not "reordered".
TEST(REPORT_WireLog, PassingALostFrameIsNotReordering) {
  report::TraceInput in;
  in.frames.push_back(rec(1, Sender::Server, ping(1), Seen::Written));
  in.frames.push_back(rec(2, Sender::Server, ping(2), Seen::Written));
  in.frames.push_back(rec(5, Sender::Server, ping(2), Seen::Received));
  report::ReportCase c;
  report::build_wire_log(c, in);
  EXPECT_NE(row_of(c, 1, "lost"), nullptr);
  EXPECT_NE(row_of(c, 2, ""), nullptr);
}

// A tap trace (written and read at once) has no losses to report.
TEST(REPORT_WireLog, TapTraceRowsAreMarkedTap) {
  report::TraceInput in;
  in.frames.push_back(rec(1, Sender::Client, ping(1), Seen::Both));
  report::ReportCase c;
  report::build_wire_log(c, in);
  ASSERT_EQ(c.rows.size(), 1u);
  EXPECT_EQ(c.rows[0].fate, "tap");
  EXPECT_EQ(c.rows[0].read_ns, 1);
}

TEST(REPORT_WireLog, KeepsTheBoundAndCountsTheRest) {
  report::TraceInput in;
  for (int i = 0; i < 50; ++i) in.frames.push_back(rec(i, Sender::Client, ping(i), Seen::Both));
  report::ReportCase c;
  report::build_wire_log(c, in, report::ReportLimits{.rows_per_case = 20});
  EXPECT_EQ(c.rows.size(), 20u);
  EXPECT_EQ(c.rows_omitted, 30u);
  EXPECT_EQ(c.frames, 50u);
}

TEST(REPORT_NetEventSink, KeepsNetworkEventsOnlyAndIsBounded) {
  report::NetEventSink sink(2);
  std::ostream out(&sink);
  out << "{\"t\":5,\"ev\":\"send\",\"conn\":1,\"node\":\"a\",\"bytes\":9}\n"
      << "{\"t\":6,\"ev\":\"partition\",\"a\":\"a\",\"b\":\"server\"}\n"
      << "{\"t\":7,\"ev\":\"drop\",\"conn\":1,\"node\":\"server\",\"msg_type\":34}\n"
      << "{\"t\":8,\"ev\":\"heal\",\"a\":\"a\",\"b\":\"server\"}\n";
  ASSERT_EQ(sink.events().size(), 2u);
  EXPECT_EQ(sink.events()[0].name, "partition");
  EXPECT_EQ(sink.events()[0].t, 6);
  EXPECT_EQ(sink.events()[1].name, "drop");
  EXPECT_EQ(sink.events()[1].node, "server");
  EXPECT_NE(sink.events()[1].detail.find("\"msg_type\":34"), std::string::npos);
  EXPECT_EQ(sink.dropped(), 1u);
}

report::Report small_report() {
  report::TraceInput in;
  in.frames.push_back(rec(1, Sender::Client, ping(1), Seen::Written));
  in.frames.push_back(rec(2, Sender::Client, ping(2), Seen::Written));
  in.frames.push_back(rec(3, Sender::Client, ping(2), Seen::Received));
  in.frames.push_back(rec(5, Sender::Client, ping(5), Seen::Written));
  in.frames.push_back(rec(6, Sender::Client, ping(5), Seen::Received));
  in.events.push_back(report::NetEvent{2, "partition", "", "{\"a\":\"a\",\"b\":\"server\"}"});
  report::ReportCase bad;
  bad.id = "bad <one>";
  bad.title = "bad <script>alert(1)</script>";
  bad.verdict = "FAIL";
  bad.rule = "PING-2";
  bad.notes = {"PING-2: no Pong & no <answer>"};
  CheckFinding f;
  f.finding.rule = "PING-2";
  f.finding.level = protocol::Level::Must;
  f.finding.message = "expected a Pong <b>";
  f.t = 2;
  f.conn = 1;
  bad.findings.push_back(f);
  report::build_wire_log(bad, in);
  report::ReportCase good;
  good.id = "good";
  good.title = "good";
  good.verdict = "PASS";
  report::Report r;
  r.cases = {bad, good};
  return r;
}

TEST(REPORT_Html, EscapesEveryTextAndFetchesNothing) {
  std::ostringstream out;
  report::write_html(out, small_report());
  const auto html = out.str();
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("bad &lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("no Pong &amp; no &lt;answer&gt;"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
}

TEST(REPORT_Html, CasesCarryFilterDataDiagramAndInlineFindings) {
  std::ostringstream out;
  report::write_html(out, small_report());
  const auto html = out.str();
  EXPECT_NE(html.find("data-verdict=\"FAIL\" data-rules=\"PING-2\" data-findings=\"1\""),
            std::string::npos);
  EXPECT_NE(html.find("data-verdict=\"PASS\" data-rules=\"\" data-findings=\"0\""),
            std::string::npos);
  EXPECT_NE(html.find("<svg class=\"seq\""), std::string::npos);
  // The lost first ping is drawn as lost, the partition as an event line.
  EXPECT_NE(html.find("class=\"msg lost\""), std::string::npos);
  EXPECT_NE(html.find("<g class=\"ev\">"), std::string::npos);
  // In the wire log the finding (t=2) follows the rows sent at or before
  // t=2 and precedes the row sent at t=5.
  const auto table = html.find("<table class=\"wire\">");
  ASSERT_NE(table, std::string::npos);
  const auto finding = html.find("<tr class=\"finding\">", table);
  const auto ping2 = html.find("&quot;timestamp_ms&quot;:2", table);
  const auto ping5 = html.find("&quot;timestamp_ms&quot;:5", table);
  ASSERT_NE(finding, std::string::npos);
  ASSERT_NE(ping2, std::string::npos);
  ASSERT_NE(ping5, std::string::npos);
  EXPECT_LT(ping2, finding);
  EXPECT_LT(finding, ping5);
  EXPECT_NE(html.find("expected a Pong &lt;b&gt;"), std::string::npos);
}

// ---- pcap ----------------------------------------------------------------------------

std::uint32_t le32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = v << 8 | static_cast<std::uint8_t>(s[at + static_cast<std::size_t>(i)]);
  return v;
}
std::uint32_t be(const std::string& s, std::size_t at, int n) {
  std::uint32_t v = 0;
  for (int i = 0; i < n; ++i)
    v = v << 8 | static_cast<std::uint8_t>(s[at + static_cast<std::size_t>(i)]);
  return v;
}
std::uint16_t ones_sum(const std::string& s, std::size_t at, std::size_t n, std::uint32_t sum) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += be(s, at + i, 2);
  if (n % 2) sum += static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[at + n - 1])) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

TEST(REPORT_Pcap, SegmentsReassembleToTheFramesWithValidChecksums) {
  report::PcapInput in;
  protocol::Bytes big = protocol::encode_frame(
      protocol::DeltaPush{"c", "d", protocol::Bytes(5000, 0xab), 1, 1, 0, std::nullopt});
  const std::uint64_t conn = (9091ull << 16) | 40001;
  in.frames.push_back(rec(1000, Sender::Client, ping(1), Seen::Written, conn));
  in.frames.push_back(rec(1500, Sender::Client, ping(1), Seen::Received, conn));  // skipped
  in.frames.push_back(rec(2000, Sender::Client, big, Seen::Written, conn));
  in.frames.push_back(rec(3000, Sender::Server, ping(7), Seen::Written, conn));
  in.closed_at[conn] = 4000;
  std::ostringstream out;
  std::size_t frames = 0;
  ASSERT_TRUE(report::write_pcap(out, in, {}, &frames));
  EXPECT_EQ(frames, 3u);
  const auto pcap = out.str();
  ASSERT_GE(pcap.size(), 24u);
  EXPECT_EQ(le32(pcap, 0), 0xa1b23c4du);  // nanosecond pcap
  EXPECT_EQ(le32(pcap, 20), 101u);        // raw IPv4
  std::string to_server, to_client;
  std::size_t packets = 0, syns = 0, fins = 0;
  for (std::size_t at = 24; at < pcap.size();) {
    ASSERT_LE(at + 16, pcap.size());
    const auto len = le32(pcap, at + 8);
    const std::size_t ip = at + 16;
    ASSERT_LE(ip + len, pcap.size());
    ++packets;
    EXPECT_EQ(ones_sum(pcap, ip, 20, 0), 0xffff) << "IPv4 header checksum of packet " << packets;
    const std::size_t tcp = ip + 20;
    const auto tcp_len = len - 20;
    std::uint32_t pseudo = be(pcap, ip + 12, 2) + be(pcap, ip + 14, 2) + be(pcap, ip + 16, 2) +
                           be(pcap, ip + 18, 2) + 6 + tcp_len;
    EXPECT_EQ(ones_sum(pcap, tcp, tcp_len, pseudo), 0xffff) << "TCP checksum of packet " << packets;
    const auto dst_port = be(pcap, tcp + 2, 2);
    const auto flags = static_cast<std::uint8_t>(pcap[tcp + 13]);
    syns += (flags & 0x02) != 0;
    fins += (flags & 0x01) != 0;
    (dst_port == 9091 ? to_server : to_client) += pcap.substr(tcp + 20, tcp_len - 20);
    at = ip + len;
  }
  const auto bytes = [](const protocol::Bytes& b) { return std::string(b.begin(), b.end()); };
  EXPECT_EQ(to_server, bytes(ping(1)) + bytes(big));
  EXPECT_EQ(to_client, bytes(ping(7)));
  EXPECT_EQ(syns, 2u);  // SYN and SYN/ACK
  EXPECT_EQ(fins, 2u);
  EXPECT_GT(packets, 10u) << "a 5 kB frame takes several 1460-byte segments";
}

// ---- schema and flat fields (the Wireshark dissector's contract) ---------------------

TEST(REPORT_Schema, ListsEveryMessageWithItsFieldsInWireOrder) {
  const auto lua = protocol::lua_schema();
  for (const int code : {1,  2,  16, 17, 18, 20, 32,  33,  34,  35,  48,
                         64, 65, 80, 82, 96, 97, 112, 128, 129, 130, 255}) {
    EXPECT_NE(lua.find("[" + std::to_string(code) + "] = {name="), std::string::npos) << code;
  }
  const auto text = protocol::text_schema();
  const auto push = text.find(
      "DeltaPush (0x10)\n  collection: string\n  document_id: string\n"
      "  delta: bytes\n");
  EXPECT_NE(push, std::string::npos) << text.substr(0, 400);
}

TEST(REPORT_Schema, TheDissectorEmbedsTheCodecSchema) {
  const auto file = read_file(source_path("wireshark/syncsim.lua"));
  ASSERT_TRUE(file.has_value());
  const std::string& lua = *file;
  const std::string begin = "-- BEGIN SCHEMA (syncsim schema --lua)\n";
  const auto a = lua.find(begin);
  const auto b = lua.find("-- END SCHEMA");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  EXPECT_EQ(lua.substr(a + begin.size(), b - a - begin.size()), protocol::lua_schema())
      << "regenerate: syncsim schema --lua, between the markers of wireshark/syncsim.lua";
}

TEST(REPORT_FlatFields, PathsForStructsArraysMapsAndEmptyContainers) {
  const auto j = protocol::Json::parse(
      R"({"msg_type":1,"value":{"a":{"b":[1,{"c":"x\"y"}]},"e":{},"f":[],"g":null}})");
  const auto flat = protocol::flatten_json(j);
  EXPECT_EQ(flat,
            (std::vector<std::string>{"msg_type=1", "value.a.b[0]=1", "value.a.b[1].c=\"x\\\"y\"",
                                      "value.e={}", "value.f=[]", "value.g=null"}));
}

}  // namespace
}  // namespace syncsim::test
