// check --server cases of §5.1's fork detection (HS-9, HS-10): the server
// remembers the highest epoch it accepted per lite_id, refuses a Handshake
// at or below it, and leaves the refused session unauthenticated.
#include "conformance/live/server_case.hpp"

namespace syncsim::conformance::server_case {

using namespace protocol;

namespace {

constexpr std::size_t kFirst = 0, kSecond = 1, kThird = 2;

Handshake with_identity(const std::string& token, const std::string& lite_id, std::uint64_t epoch) {
  Handshake h = handshake(token);
  h.lite_id = lite_id;
  h.epoch = epoch;
  return h;
}

Step fork_refused(std::size_t conn) {
  return on(conn, expect<HandshakeAck>(
                      "HandshakeAck{success: false, fork_detected: true, error: \"FORK_DETECTED: "
                      "regenerate LiteId and reconnect\"}",
                      [](const HandshakeAck& a) { return !a.success && a.fork_detected; }));
}

}  // namespace

std::vector<Case> fork_cases(const CaseContext& ctx) {
  const std::string& token = ctx.token;
  // A lite_id of the run's own, so an earlier run's epochs cannot interfere.
  const std::string id = "syncsim-fork-" + ctx.tag;
  std::vector<Case> out;
  out.push_back(
      {{"fork-same-epoch-refused", "HS-9",
        "lite_id L at epoch 5 accepted; L at epoch 5 again refused as a fork; L at epoch 6 "
        "accepted",
        "handshake"},
       {send(with_identity(token, id + "-a", 5), kFirst), handshake_ok(kFirst), close_conn(kFirst),
        send(with_identity(token, id + "-a", 5), kSecond), fork_refused(kSecond),
        send(with_identity(token, id + "-a", 6), kThird), handshake_ok(kThird)}});
  out.push_back(
      {{"fork-refusal-not-authenticated", "HS-10",
        "after a fork refusal (epoch 3 below 5), a DeltaPush on that connection is rejected \"not "
        "authenticated\"",
        "handshake"},
       {send(with_identity(token, id + "-b", 5), kFirst), handshake_ok(kFirst),
        send(with_identity(token, id + "-b", 3), kSecond), fork_refused(kSecond),
        send(push(1), kSecond),
        on(kSecond,
           expect<DeltaReject>("DeltaReject{mutation_id: 1, reason: \"not authenticated\"}",
                               [](const DeltaReject& r) {
                                 return r.mutation_id == 1 && r.reason == "not authenticated";
                               }))}});
  return out;
}

}  // namespace syncsim::conformance::server_case
