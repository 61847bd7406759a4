// The step builders and helpers of the scripted server cases (server_case.hpp).
#include "conformance/live/server_case.hpp"

#include <algorithm>
#include <chrono>

#include "protocol/crc32c.hpp"
#include "reference/jwt.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace server_case {

std::string CaseContext::mint(std::uint32_t t, std::int64_t exp) const {
  reference::JwtClaims claims;
  claims.sub = "syncsim-check";
  claims.tenant_id = t;
  claims.user_id = 1;
  claims.exp = exp != 0 ? exp
                        : std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                                  .count() +
                              3600;
  return reference::mint_hs256(claims, jwt_secret);
}

Step send(Message m, std::size_t conn) {
  Step s;
  s.message = std::move(m);
  s.conn = conn;
  return s;
}
Step send_made(std::function<Message()> make, std::size_t conn) {
  Step s;
  s.make = std::move(make);
  s.conn = conn;
  return s;
}
Step send_raw(Bytes b, std::size_t conn) {
  Step s;
  s.kind = Step::Kind::SendRaw;
  s.message = PingPong{};
  s.raw = std::move(b);
  s.conn = conn;
  return s;
}
Step close_conn(std::size_t conn) {
  Step s;
  s.kind = Step::Kind::Close;
  s.conn = conn;
  return s;
}
Step hold(std::int64_t ms, std::function<std::string(const View&)> judge) {
  Step s;
  s.kind = Step::Kind::Hold;
  s.ms = ms;
  s.judge = std::move(judge);
  return s;
}
Step await(std::string want, std::function<bool(const View&)> ready, std::int64_t ms) {
  Step s;
  s.kind = Step::Kind::Await;
  s.want = std::move(want);
  s.ready = std::move(ready);
  s.ms = ms;
  return s;
}
Step on(std::size_t conn, Step s) {
  s.conn = conn;
  return s;
}
Step eventually(Step s) {
  s.others_allowed = true;
  return s;
}
Step with_choice(Step s, std::string choice) {
  s.choice = std::move(choice);
  return s;
}
Step forbidding(Step s, std::function<bool(const Message&)> forbidden, std::string says) {
  s.forbidden = std::move(forbidden);
  s.forbidden_says = std::move(says);
  return s;
}
Step within(std::int64_t ms, Step s) {
  s.ms = ms;
  return s;
}

Step operator_hook(std::string name, std::map<std::string, std::string> values) {
  Step s;
  s.kind = Step::Kind::Hook;
  s.hook = std::move(name);
  s.hook_values = std::move(values);
  return s;
}
std::vector<std::string> hooks_of(const Case& c) {
  std::vector<std::string> out;
  for (const Step& s : c.steps) {
    if (s.kind == Step::Kind::Hook && std::find(out.begin(), out.end(), s.hook) == out.end())
      out.push_back(s.hook);
  }
  return out;
}

bool unsolicited(const Message& m) {
  return std::holds_alternative<CollectionPurged>(m) || std::holds_alternative<DefinitionSync>(m) ||
         std::holds_alternative<PresenceBroadcast>(m) || std::holds_alternative<PresenceLeave>(m) ||
         std::holds_alternative<VectorClockSync>(m) || std::holds_alternative<ShapeDelta>(m) ||
         std::holds_alternative<DeltaPush>(m) ||
         (std::holds_alternative<PingPong>(m) && !std::get<PingPong>(m).is_pong);  // PING-7
}

Handshake handshake(const std::string& token, std::uint16_t wire_version) {
  Handshake h;
  h.jwt_token = token;
  h.client_version = "syncsim-check/0.1";
  h.wire_version = wire_version;
  return h;
}

DeltaPush push(std::uint64_t id, Bytes delta, const std::string& collection) {
  DeltaPush p;
  p.collection = collection;
  p.document_id = "doc-" + std::to_string(id);
  p.delta = std::move(delta);
  p.peer_id = 0x5C5C;
  p.mutation_id = id;
  p.checksum = p.delta.empty() ? 0 : crc32c(p.delta);
  return p;
}

ShapeDefinition document_shape(const std::string& shape_id, const std::string& collection) {
  ShapeDefinition s;
  s.shape_id = shape_id;
  s.shape_type = shape_type::Document{collection, {}};
  return s;
}

Step handshake_ok(std::size_t conn) {
  return on(conn, expect<HandshakeAck>("HandshakeAck{success: true}",
                                       [](const HandshakeAck& a) { return a.success; }));
}
Step acked(std::uint64_t id, std::size_t conn) {
  return on(conn, expect<DeltaAck>("DeltaAck{mutation_id: " + std::to_string(id) + "}",
                                   [id](const DeltaAck& a) { return a.mutation_id == id; }));
}
Step pong(std::uint64_t ts, std::size_t conn) {
  return on(conn, expect<PingPong>(
                      "Pong{timestamp_ms: " + std::to_string(ts) + "}",
                      [ts](const PingPong& p) { return p.is_pong && p.timestamp_ms == ts; }));
}

}  // namespace server_case

}  // namespace syncsim::conformance
