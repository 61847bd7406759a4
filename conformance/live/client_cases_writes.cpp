// check --client cases of §5.3 and §5.8: the client's mutations (ids,
// acks, rate-limit rejects, a server's DeltaPush) and purges.
#include <algorithm>
#include <map>

#include "conformance/live/client_case.hpp"
#include "protocol/crc32c.hpp"

namespace syncsim::conformance::client_case {

using namespace protocol;

namespace {

constexpr std::uint64_t kRetryAfterMs = 1500;  // honours-retry-after

// The client's first push sent again (same peer, same mutation id).
bool resends_first(const View& s, const Message& m) {
  const auto* p = std::get_if<DeltaPush>(&m);
  const DeltaPush& first = s.pushes.front();
  return p && p->peer_id == first.peer_id && p->mutation_id == first.mutation_id;
}

std::string first_id(const View& s) { return std::to_string(s.pushes.front().mutation_id); }

// DELTA-1: ids >= 1, one mutation per (peer, id), new ids increasing per peer.
Outcome distinct_ids(const View& s) {
  if (s.pushes.size() < 2) {
    return {Verdict::Unsupported,
            "the client pushed only one mutation (start it with several writes to run this case)"};
  }
  std::map<std::pair<std::uint64_t, std::uint64_t>, const DeltaPush*> by_id;
  std::map<std::uint64_t, std::uint64_t> last_new;  // peer -> last new id
  for (const auto& p : s.pushes) {
    if (p.mutation_id == 0) return {Verdict::Fail, "DELTA-1: mutation_id 0 in " + describe(p)};
    const auto [it, fresh] = by_id.emplace(std::pair{p.peer_id, p.mutation_id}, &p);
    if (!fresh) {
      const DeltaPush& was = *it->second;
      if (was.collection != p.collection || was.document_id != p.document_id ||
          was.delta != p.delta)
        return {Verdict::Fail, "DELTA-1: mutation_id " + std::to_string(p.mutation_id) +
                                   " names two mutations: " + describe(was) + " and " +
                                   describe(p)};
      continue;  // the same mutation sent again
    }
    if (p.mutation_id <= last_new[p.peer_id])
      return {Verdict::Fail, "DELTA-1: new mutation_id " + std::to_string(p.mutation_id) +
                                 " after " + std::to_string(last_new[p.peer_id])};
    last_new[p.peer_id] = p.mutation_id;
  }
  return ok();
}

// Real time left until the first push's retry_after_ms ends, counted from
// the reject: the client cannot have read it earlier than it was sent, so a
// resend before then is early (50 ms for timers).
std::int64_t retry_after_left(const View& s) {
  const auto until = *s.rate_limited_at + std::chrono::milliseconds(kRetryAfterMs - 50);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
  return left.count() > 0 ? s.unscaled(left.count()) : 0;
}

Case honours_retry_after() {
  Policy p;
  p.rate_limit_first_ms = kRetryAfterMs;
  Step resent = expect_frame("", 4000, resends_first);
  resent.what = [](const View& s) {
    return "mutation " + first_id(s) + " sent again after its retry_after_ms (DELTA-14, RATE-4)";
  };
  return {{"honours-retry-after", "DELTA-14",
           "a push rejected with RateLimited{retry_after_ms: 1500} is not sent again before "
           "1500 ms, and is sent again after",
           "deltas"},
          p,
          {handshaken(), pushed(),
           quiet_made(
               [](const View& s) {
                 return "resend of mutation " + first_id(s) + " before its retry_after_ms (" +
                        std::to_string(kRetryAfterMs) + " ms)";
               },
               retry_after_left, resends_first),
           resent}};
}

Step server_push() {
  return send_made([](const View& s) {
    DeltaPush p;
    p.collection = s.subscribed_collection();
    p.document_id = "pushed-by-server";
    p.delta = {9, 9};
    p.peer_id = 0;
    p.mutation_id = 77;
    p.checksum = crc32c(p.delta);
    return Outgoing{{p}, {}, ""};
  });
}

std::vector<Case> delta_cases() {
  return {
      {{"server-deltapush-tolerated", "DELTA-18",
        "a DeltaPush from the server is tolerated and never acknowledged", "deltas"},
       {},
       {handshaken(), server_push(),
        quiet("DeltaAck or close", 1000,
              [](const Message& m) { return std::holds_alternative<DeltaAck>(m); })}},
      honours_retry_after(),
      {{"distinct-mutation-ids", "DELTA-1",
        "the client's mutations carry distinct ids >= 1, first sent in increasing order", "deltas"},
       {},
       {handshaken(), pushed(),
        await([](const View& s) { return s.pushes.size() >= 3 || s.closed; }, 2000, std::nullopt),
        judge(distinct_ids)}},
      {{"acked-not-resent", "DELTA-12", "a mutation once acknowledged is never sent again",
        "deltas"},
       {},
       {handshaken(), pushed(),
        quiet_made([](const View& s) { return "resend of mutation " + first_id(s); },
                   [](const View&) -> std::int64_t { return 3000; }, resends_first)}},
  };
}

// A push of a mutation made before its collection was purged (PURGE-7).
bool pushes_purged(const View& s, const Message& m) {
  const auto* p = std::get_if<DeltaPush>(&m);
  return p && std::any_of(s.purged.begin(), s.purged.end(), [p](const auto& was) {
           return p->collection == was.first && p->mutation_id <= was.second;
         });
}

std::vector<Case> purge_cases() {
  Policy drop;
  drop.drop_pushes = true;
  return {
      {{"purge-keeps-session", "PURGE-8",
        "CollectionPurged twice and for an unknown collection: the session goes on", "purge"},
       {},
       {handshaken(),
        await([](const View& s) { return s.subscribed.has_value(); }, 1000,
              std::nullopt),  // purge what it holds, if any
        send_made([](const View& s) {
          const std::string coll = s.subscribed_collection();
          return Outgoing{
              {CollectionPurged{s.tenant, coll, 200}, CollectionPurged{s.tenant, coll, 200},
               CollectionPurged{s.tenant, "syncsim_never_seen", 201}},
              {},
              ""};
        }),
        quiet("close", 1000, [](const Message&) { return false; }), send(PingPong{616161, false}),
        pong(616161)}},
      {{"no-push-after-purge", "PURGE-7",
        "pushes left unanswered, then their collection purged: none of them is sent again",
        "purge"},
       drop,
       {handshaken(), pushed(), pause(200),  // the client's first batch
        send_made([](const View& s) {
          return Outgoing{
              {CollectionPurged{s.tenant, s.pushes.front().collection, 10'000}}, {}, ""};
        }),
        // Unanswered pushes are sent again after 2000 ms (FLOW-3): wait past that.
        quiet_made(
            [](const View& s) {
              const auto& [coll, before] = s.purged.back();
              return "DeltaPush of purged \"" + coll +
                     "\" for a mutation made before the purge (id <= " + std::to_string(before) +
                     ")";
            },
            [](const View&) -> std::int64_t { return 3000; }, pushes_purged)}},
  };
}

}  // namespace

std::vector<Case> write_cases() {
  std::vector<Case> out;
  for (auto group : {delta_cases, purge_cases}) {
    for (auto& c : group()) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace syncsim::conformance::client_case
