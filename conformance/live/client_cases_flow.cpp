// check --client cases of §5.5-§5.6: the client's side of shape deltas in
// order or with a gap (resync), and of a backlog it cannot apply at once
// (throttle).
#include <algorithm>

#include "conformance/live/client_case.hpp"

namespace syncsim::conformance::client_case {

using namespace protocol;

namespace {

// `n` ShapeDeltas on the subscribed shape from lsn 101 on, documents
// "<prefix><i % docs>" (`docs` 0: "<prefix><i>").
Step deltas(std::uint64_t n, std::string prefix, std::uint64_t docs = 0) {
  return send_made([n, prefix = std::move(prefix), docs](const View& s) {
    Outgoing out;
    out.messages.reserve(n);
    for (std::uint64_t i = 1; i <= n; ++i)
      out.messages.push_back(
          s.delta(kSnapshotLsn + i, prefix + std::to_string(docs ? i % docs : i)));
    return out;
  });
}

bool is_resync(const Message& m) { return std::holds_alternative<ResyncRequest>(m); }

std::vector<Case> resync_cases() {
  // 200 ms from its read: the gap passed here up to a tap tolerance before
  // the client read it (D81, D118), so the deadline is judged on the client's
  // side of the wire.
  auto gap_budget = [](const View& s) {
    return 200 + s.unscaled(s.tap_tolerance_ns() / 1'000'000);
  };
  return {
      {{"gap-triggers-resync", "RESYNC-2",
        "ShapeDelta lsn 101 then 105: ResyncRequest{SequenceGap} within 200 ms", "resync"},
       {},
       {handshaken(), subscribed(), pause(100),  // the snapshot settles first
        send_made([](const View& s) {
          return Outgoing{
              {s.delta(kSnapshotLsn + 1, "gap-1"), s.delta(kSnapshotLsn + 5, "gap-5")}, {}, ""};
        }),
        with_budget(gap_budget, expect<ResyncRequest>(
                                    "ResyncRequest{reason: SequenceGap}", 0,
                                    [](const ResyncRequest& r) {
                                      return std::holds_alternative<resync_reason::SequenceGap>(
                                          r.reason);
                                    }))}},
      {{"in-order-deltas-no-resync", "RESYNC-4",
        "ShapeDelta lsn 101, 102, 103 in order draw no ResyncRequest", "resync"},
       {},
       {handshaken(), subscribed(), pause(100), deltas(3, "seq-"),
        quiet("ResyncRequest", 1000, is_resync)}},
  };
}

bool throttled(const View& s) {
  return std::any_of(s.got.begin(), s.got.end(), [](const Message& m) {
    const auto* t = std::get_if<Throttle>(&m);
    return t && t->throttle;
  });
}

std::vector<Case> throttle_cases() {
  return {
      {{"flood-throttles", "THROTTLE-2",
        "5000 ShapeDeltas at once: a client that cannot keep up sends Throttle{true}", "throttle"},
       {},
       {handshaken(), subscribed(), pause(100), deltas(5000, "flood-", 50),
        expect<Throttle>("Throttle{throttle: true}", 5000,
                         [](const Throttle& t) { return t.throttle; })}},
      {{"throttle-released", "THROTTLE-2",
        "1200 ShapeDeltas at once: a client that throttles sends Throttle{false} once it has "
        "caught up",
        "throttle"},
       {},
       {handshaken(), subscribed(), pause(100), deltas(1200, "rel-", 50),
        await([](const View& s) { return throttled(s) || s.closed; }, 5000, std::nullopt,
              [](const View& s, std::size_t) {
                if (throttled(s) && !s.closed) return ok();
                return Outcome{Verdict::Unsupported,
                               "the client sent no Throttle{true} for 1200 ShapeDeltas (it keeps "
                               "up, or never throttles: flood-throttles judges that)"};
              }),
        expect<Throttle>("Throttle{throttle: false} once the backlog is applied", 20000,
                         [](const Throttle& t) { return !t.throttle; })}},
  };
}

}  // namespace

std::vector<Case> flow_cases() {
  std::vector<Case> out;
  for (auto group : {resync_cases, throttle_cases}) {
    for (auto& c : group()) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace syncsim::conformance::client_case
