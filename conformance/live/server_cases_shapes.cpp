// check --server cases of §5.4-§5.6 and §1.1: what a subscribed session is
// sent. A reader session (connection 1) subscribes to a collection of the
// case's own; a writer session (connection 2) pushes to it, so no case but
// own-writes-delivered-back depends on the server echoing a session's writes.
#include <algorithm>
#include <memory>

#include "conformance/live/server_case.hpp"

namespace syncsim::conformance::server_case {

using namespace protocol;

namespace shape_steps {

constexpr std::size_t kReader = 0, kWriter = 1;

// What the steps of one case learn as it runs.
struct Learned {
  std::uint64_t snapshot_lsn = 0;
};

Step subscribed(const std::string& shape_id, const std::shared_ptr<Learned>& seen,
                std::size_t conn = kReader) {
  return on(conn, expect<ShapeSnapshot>("ShapeSnapshot{shape_id: \"" + shape_id + "\"}",
                                        [shape_id, seen](const ShapeSnapshot& s) {
                                          if (s.shape_id != shape_id) return false;
                                          seen->snapshot_lsn = s.snapshot_lsn;
                                          return true;
                                        }));
}

Step delta_of(const std::string& shape_id, const std::string& doc, std::size_t conn = kReader) {
  return on(conn, expect<ShapeDelta>(
                      "ShapeDelta{shape_id: \"" + shape_id + "\", document_id: \"" + doc + "\"}",
                      [shape_id, doc](const ShapeDelta& d) {
                        return d.shape_id == shape_id && d.document_id == doc;
                      }));
}

std::function<bool(const Message&)> any_delta_of(const std::string& shape_id) {
  return [shape_id](const Message& m) {
    const auto* d = std::get_if<ShapeDelta>(&m);
    return d && d->shape_id == shape_id;
  };
}

std::vector<const Received*> deltas(const View& v, std::size_t conn, const std::string& shape_id) {
  std::vector<const Received*> out;
  for (const auto& r : v.of(conn)) {
    const auto* d = std::get_if<ShapeDelta>(&r.message);
    if (d && d->shape_id == shape_id) out.push_back(&r);
  }
  return out;
}

// Both sessions authenticated, the reader subscribed to `shape_id` of `coll`.
std::vector<Step> reader_and_writer(const std::string& token, const std::string& shape_id,
                                    const std::string& coll, const std::shared_ptr<Learned>& seen) {
  return {send(handshake(token), kWriter),
          handshake_ok(kWriter),
          send(handshake(token), kReader),
          handshake_ok(kReader),
          send(ShapeSubscribe{document_shape(shape_id, coll)}, kReader),
          subscribed(shape_id, seen)};
}

Case make(CaseInfo info, std::vector<Step> head, std::vector<Step> tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return Case{std::move(info), std::move(head)};
}

}  // namespace shape_steps

std::vector<Case> shape_cases(const CaseContext& ctx) {
  using namespace shape_steps;
  std::vector<Case> out;
  const std::string& token = ctx.token;

  {  // SHAPE-3: pushes racing a subscription never overtake its snapshot.
    const std::string coll = ctx.collection("order"), shape = coll + "-all";
    auto seen = std::make_shared<Learned>();
    std::vector<Step> steps = {send(handshake(token), kWriter), handshake_ok(kWriter),
                               send(handshake(token), kReader), handshake_ok(kReader),
                               send(ShapeSubscribe{document_shape(shape, coll)}, kReader)};
    for (std::uint64_t id = 1; id <= 5; ++id)
      steps.push_back(send(push(id, {7, 1}, coll), kWriter));
    steps.push_back(forbidding(subscribed(shape, seen), any_delta_of(shape),
                               "SHAPE-3 broken: a ShapeDelta of the shape came before its "
                               "ShapeSnapshot"));
    for (std::uint64_t id = 1; id <= 5; ++id) steps.push_back(acked(id, kWriter));
    steps.push_back(send(push(6, {7, 6}, coll), kWriter));
    steps.push_back(acked(6, kWriter));
    steps.push_back(
        on(kReader, expect<ShapeDelta>("ShapeDelta{document_id: \"doc-6\", lsn > snapshot_lsn}",
                                       [shape, seen](const ShapeDelta& d) {
                                         return d.shape_id == shape && d.document_id == "doc-6" &&
                                                d.lsn > seen->snapshot_lsn;
                                       })));
    out.push_back({{"snapshot-before-any-delta", "SHAPE-3",
                    "pushes racing a ShapeSubscribe: its ShapeSnapshot comes before any "
                    "ShapeDelta of the shape, and a later write arrives above snapshot_lsn",
                    "shapes"},
                   std::move(steps)});
  }

  {  // SHAPE-3: a subscription to a collection that already holds documents
     // is answered by its snapshot first, not by a delta of what it holds.
    const std::string coll = ctx.collection("held"), shape = coll + "-all";
    auto seen = std::make_shared<Learned>();
    out.push_back(
        {{"snapshot-first-on-a-written-collection", "SHAPE-3",
          "two documents written and acknowledged, then a ShapeSubscribe: its ShapeSnapshot "
          "comes before any ShapeDelta of the shape",
          "shapes"},
         {send(handshake(token), kWriter), handshake_ok(kWriter),
          send(push(1, {7, 1}, coll), kWriter), send(push(2, {7, 2}, coll), kWriter),
          acked(1, kWriter), acked(2, kWriter), send(handshake(token), kReader),
          handshake_ok(kReader), send(ShapeSubscribe{document_shape(shape, coll)}, kReader),
          forbidding(subscribed(shape, seen), any_delta_of(shape),
                     "SHAPE-3 broken: a ShapeDelta of the shape came before its ShapeSnapshot")}});
  }

  {  // SHAPE-6: nothing after an unsubscribe.
    const std::string coll = ctx.collection("unsub"), shape = coll + "-all";
    auto seen = std::make_shared<Learned>();
    out.push_back(make(
        {"no-deltas-after-unsubscribe", "SHAPE-6",
         "after ShapeUnsubscribe (and a Pong proving it was read) the session gets no ShapeDelta "
         "of the shape",
         "shapes"},
        reader_and_writer(token, shape, coll, seen),
        {send(push(1, {7, 1}, coll), kWriter), acked(1, kWriter), delta_of(shape, "doc-1"),
         send(ShapeUnsubscribe{shape}, kReader), send(PingPong{61, false}, kReader),
         pong(61, kReader), send(push(2, {7, 2}, coll), kWriter), acked(2, kWriter),
         hold(300, [shape](const View& v) -> std::string {
           for (const auto* r : deltas(v, kReader, shape)) {
             if (std::get<ShapeDelta>(r->message).document_id == "doc-2")
               return "SHAPE-6 broken: a ShapeDelta of \"" + shape +
                      "\" (doc-2) came after ShapeUnsubscribe";
           }
           return "";
         })}));
  }

  {  // §1.1, SHAPE-7: a session's own writes come back to its shapes.
    const std::string coll = ctx.collection("own"), shape = coll + "-all";
    auto seen = std::make_shared<Learned>();
    out.push_back(
        {{"own-writes-delivered-back", "SHAPE-7",
          "a session's own write is delivered back to its own subscription (§1.1)", "shapes"},
         {send(handshake(token)), handshake_ok(), send(ShapeSubscribe{document_shape(shape, coll)}),
          subscribed(shape, seen, 0), send(push(1, {7, 1}, coll)), acked(1),
          within(1000, with_choice(delta_of(shape, "doc-1", 0),
                                   "SHAPE-7 (HARNESS CHOICE, §1.1: every applied "
                                   "mutation is delivered to the pushing session's own "
                                   "shapes too; NodeDB Origin suppresses such echoes) "
                                   "not met: the session's own write never came back"))}});
  }

  {  // SHAPE-8: a collection of the same name in another tenant is another collection.
    const std::string coll = ctx.collection("tenants"), shape = coll + "-all";
    auto seen = std::make_shared<Learned>();
    const std::uint32_t other = ctx.tenant == 0xFFFF'FFFFu ? ctx.tenant - 1 : ctx.tenant + 1;
    Case c{{"deltas-stay-in-tenant", "SHAPE-8",
            "a session of another tenant subscribed to a collection of the same name gets no "
            "ShapeDelta of this tenant's writes",
            "shapes"},
           {send_made([ctx]() -> Message { return handshake(ctx.mint(ctx.tenant)); }, kWriter),
            handshake_ok(kWriter),
            send_made([ctx, other]() -> Message { return handshake(ctx.mint(other)); }, kReader),
            handshake_ok(kReader), send(ShapeSubscribe{document_shape(shape, coll)}, kReader),
            subscribed(shape, seen), send(push(1, {7, 1}, coll), kWriter), acked(1, kWriter),
            hold(300,
                 [shape](const View& v) -> std::string {
                   if (const auto n = deltas(v, kReader, shape).size(); n > 0)
                     return "SHAPE-8 broken: a session of another tenant got " + std::to_string(n) +
                            " ShapeDelta(s) of this tenant's write";
                   return "";
                 })},
           true};
    out.push_back(std::move(c));
  }

  {  // DELTA-8, SHAPE-9: LSNs never go backwards.
    const std::string coll = ctx.collection("lsn"), shape = coll + "-all";
    auto seen = std::make_shared<Learned>();
    out.push_back(make(
        {"lsns-never-go-backwards", "DELTA-8",
         "three pushes: the writer's non-zero ack LSNs strictly increase, the reader's ShapeDelta "
         "LSNs strictly increase above snapshot_lsn",
         "deltas"},
        reader_and_writer(token, shape, coll, seen),
        {send(push(1, {7, 1}, coll), kWriter), send(push(2, {7, 2}, coll), kWriter),
         send(push(3, {7, 3}, coll), kWriter), acked(1, kWriter), acked(2, kWriter),
         acked(3, kWriter),
         await("three ShapeDeltas of the shape",
               [shape](const View& v) { return deltas(v, kReader, shape).size() >= 3; }),
         hold(0, [shape, seen](const View& v) -> std::string {
           std::uint64_t last = 0;
           for (const auto& r : v.of(kWriter)) {
             const auto* a = std::get_if<DeltaAck>(&r.message);
             if (!a || a->lsn == 0) continue;
             if (a->lsn <= last)
               return "DELTA-8 broken: DeltaAck lsn " + std::to_string(a->lsn) + " after " +
                      std::to_string(last);
             last = a->lsn;
           }
           last = seen->snapshot_lsn;
           for (const auto* r : deltas(v, kReader, shape)) {
             const auto lsn = std::get<ShapeDelta>(r->message).lsn;
             if (lsn <= last)
               return "SHAPE-9 broken: ShapeDelta lsn " + std::to_string(lsn) + " after " +
                      std::to_string(last) + " (snapshot_lsn " +
                      std::to_string(seen->snapshot_lsn) + ")";
             last = lsn;
           }
           return "";
         })}));
  }

  {  // THROTTLE-4: pacing at the asked rate, and a release that flushes.
    const std::string coll = ctx.collection("throttle"), shape = coll + "-all";
    auto seen = std::make_shared<Learned>();
    constexpr std::uint64_t kRate = 4, kWrites = 12;
    auto first_push = std::make_shared<Clock::time_point>();
    std::vector<Step> tail = {send(Throttle{true, 1000, kRate}, kReader),
                              send(PingPong{71, false}, kReader), pong(71, kReader)};
    for (std::uint64_t id = 1; id <= kWrites; ++id) {
      const DeltaPush p = push(id, {7, static_cast<std::uint8_t>(id)}, coll);
      tail.push_back(send_made(
          [p, first_push]() -> Message {
            if (p.mutation_id == 1) *first_push = Clock::now();
            return p;
          },
          kWriter));
    }
    for (std::uint64_t id = 1; id <= kWrites; ++id) tail.push_back(acked(id, kWriter));
    // No ShapeDelta can leave the server before the first push reached it, so
    // every one read here before that push's time + 990 ms was sent within
    // one 1000-ms window of the server's clock: at most kRate of them. A
    // late read only lowers the count, so load cannot make this fail (D128).
    const auto window_end = [first_push] { return *first_push + std::chrono::milliseconds(990); };
    Step wait_window = await(
        "the first push's time + 990 ms",
        [window_end](const View&) { return Clock::now() >= window_end(); }, 2000);
    wait_window.unscaled = true;
    tail.push_back(wait_window);
    tail.push_back(hold(0, [shape, window_end](const View& v) -> std::string {
      std::size_t early = 0;
      for (const auto* r : deltas(v, kReader, shape)) early += r->at < window_end();
      if (early > kRate) {
        return "THROTTLE-4 broken: " + std::to_string(early) +
               " ShapeDeltas within 990 ms of the first push, after Throttle{throttle: true, "
               "suggested_rate: " +
               std::to_string(kRate) + "}";
      }
      return "";
    }));
    tail.push_back(send(Throttle{false, 0, 0}, kReader));
    tail.push_back(within(
        1000,
        await("all " + std::to_string(kWrites) +
                  " ShapeDeltas within 1000 ms of Throttle{throttle: false} (THROTTLE-4: "
                  "the excess is kept queued in order and the release removes the limit "
                  "at once)",
              [shape](const View& v) { return deltas(v, kReader, shape).size() >= kWrites; })));
    out.push_back(make({"throttle-paces-then-flushes", "THROTTLE-4",
                        "after Throttle{true, rate 4}, at most 4 ShapeDeltas a second; after "
                        "Throttle{false}, the rest of 12 come at once",
                        "throttle"},
                       reader_and_writer(token, shape, coll, seen), std::move(tail)));
  }

  {  // RESYNC-8: a ResyncRequest answered by a fresh snapshot.
    const std::string coll = ctx.collection("resync"), shape = coll + "-all";
    auto seen = std::make_shared<Learned>();
    auto delta_lsn = std::make_shared<std::uint64_t>(0);
    const std::string choice =
        "RESYNC-8 (HARNESS CHOICE: a ResyncRequest is answered by a fresh ShapeSnapshot of each "
        "affected shape before any further ShapeDelta; re-sending deltas, NodeDB's documented "
        "alternative, is ambiguous for a SequenceGap, and Origin only logs the request) not met";
    out.push_back(make(
        {"resync-answered-by-snapshot", "RESYNC-8",
         "a ResyncRequest{SequenceGap} gets a fresh ShapeSnapshot of the shape before any further "
         "ShapeDelta; later deltas come above its snapshot_lsn",
         "resync"},
        reader_and_writer(token, shape, coll, seen),
        {send(push(1, {7, 1}, coll), kWriter), acked(1, kWriter),
         on(kReader, expect<ShapeDelta>("ShapeDelta{document_id: \"doc-1\"}",
                                        [shape, delta_lsn](const ShapeDelta& d) {
                                          if (d.shape_id != shape || d.document_id != "doc-1")
                                            return false;
                                          *delta_lsn = d.lsn;
                                          return true;
                                        })),
         send_made(
             [delta_lsn]() -> Message {
               return ResyncRequest{resync_reason::SequenceGap{*delta_lsn + 1, *delta_lsn + 3},
                                    *delta_lsn + 1, ""};
             },
             kReader),
         within(1000, with_choice(forbidding(subscribed(shape, seen), any_delta_of(shape), choice),
                                  choice)),
         send(push(2, {7, 2}, coll), kWriter), acked(2, kWriter),
         on(kReader,
            expect<ShapeDelta>("ShapeDelta{document_id: \"doc-2\", lsn > the new snapshot_lsn}",
                               [shape, seen](const ShapeDelta& d) {
                                 return d.shape_id == shape && d.document_id == "doc-2" &&
                                        d.lsn > seen->snapshot_lsn;
                               }))}));
  }
  return out;
}

}  // namespace syncsim::conformance::server_case
