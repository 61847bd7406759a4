#include "conformance/live/live_judge.hpp"

#include "conformance/checker/trace_writer.hpp"
#include "protocol/codec.hpp"

namespace syncsim::conformance {

namespace {
CheckerOptions live_options(bool sees_every_session) {
  CheckerOptions c;
  c.sees_every_session = sees_every_session;
  c.at_tap = true;                  // written and read times are the tap's (D81)
  c.tap_tolerance_ns = 50'000'000;  // raised by the round trips measured (D118)
  c.server_unix_epoch_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  return c;
}
}  // namespace

LiveJudge::LiveJudge(std::ostream* trace, std::function<void(const CheckFinding&)> on_finding,
                     bool sees_every_session)
    : trace_(trace),
      on_finding_(std::move(on_finding)),
      checker_(live_options(sees_every_session)) {}

std::int64_t LiveJudge::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                              started_)
      .count();
}

void LiveJudge::frame(const protocol::Bytes& frame, std::uint64_t conn, protocol::Sender from,
                      Seen seen) {
  FrameRecord r{now_ns(), conn, from, frame, seen};
  if (trace_) write_trace_frame(*trace_, r);
  // A frame passes the tap once: as written (proxy) or seen at once.
  if (seen != Seen::Received) {
    if (const auto d = protocol::decode_frame(frame); d.message) {
      round_trips_.frame(conn, from, *d.message, r.t);
      checker_.set_tap_tolerance_ns(round_trips_.tolerance_ns(tolerance_floor_ns_));
    }
  }
  const std::size_t before = checker_.findings().size();
  checker_.on_frame(r);
  report_new(before);
}

void LiveJudge::frame(const protocol::Message& m, std::uint64_t conn, protocol::Sender from,
                      Seen seen) {
  frame(protocol::encode_frame(m), conn, from, seen);
}

void LiveJudge::ws(WsKind kind, std::span<const std::uint8_t> bytes, std::uint64_t conn,
                   protocol::Sender from, Seen seen) {
  WsRecord r{now_ns(), conn, from, kind, protocol::Bytes(bytes.begin(), bytes.end()), seen};
  if (trace_) write_trace_ws(*trace_, r);
  const std::size_t before = checker_.findings().size();
  checker_.on_ws_message(r);
  report_new(before);
}

void LiveJudge::hangup(std::uint64_t conn, protocol::Sender side) {
  const auto t = now_ns();
  if (trace_) write_trace_hangup(*trace_, t, conn, side);
  const std::size_t before = checker_.findings().size();
  checker_.on_hangup(conn, side, t);
  report_new(before);
}

void LiveJudge::set_tap_tolerance_floor_ns(std::int64_t ns) {
  tolerance_floor_ns_ = ns;
  checker_.set_tap_tolerance_ns(round_trips_.tolerance_ns(ns));
}

std::string LiveJudge::tap_tolerance_text() const {
  return conformance::tap_tolerance_text(checker_.tap_tolerance_ns(), tolerance_floor_ns_,
                                         round_trips_);
}

std::string tap_tolerance_text(std::int64_t tolerance_ns, std::int64_t floor_ns,
                               const RoundTrips& trips) {
  std::string out = "tap tolerance " + std::to_string(tolerance_ns / 1'000'000) + " ms (floor " +
                    std::to_string(floor_ns / 1'000'000) + " ms; ";
  if (!trips.max_ns()) return out + "no round trip measured yet)";
  return out + "largest round trip " + std::to_string(*trips.max_ns() / 1'000'000) + " ms of " +
         std::to_string(trips.samples()) + ")";
}

void LiveJudge::purged(std::uint32_t tenant, const std::string& collection) {
  const auto t = now_ns();
  if (trace_) write_trace_purge(*trace_, t, tenant, collection);
  const std::size_t before = checker_.findings().size();
  checker_.on_purge(tenant, collection, t);
  report_new(before);
}

void LiveJudge::closed(std::uint64_t conn) {
  round_trips_.closed(conn);
  const auto t = now_ns();
  if (trace_) write_trace_close(*trace_, t, conn);
  const std::size_t before = checker_.findings().size();
  checker_.on_close(conn, t);
  report_new(before);
}

void LiveJudge::finish() {
  const std::size_t before = checker_.findings().size();
  checker_.finish(now_ns());
  report_new(before);
}

void LiveJudge::report_new(std::size_t before) {
  if (!on_finding_) return;
  for (std::size_t i = before; i < checker_.findings().size(); ++i)
    on_finding_(checker_.findings()[i]);
}

}  // namespace syncsim::conformance
