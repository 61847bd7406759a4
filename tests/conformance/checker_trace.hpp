// Hand-made traces for the checker's tests: frames seen on the wire or
// recorded apart (written, then read), and builders of common messages.
#pragma once

#include <gtest/gtest.h>

#include "conformance/checker/session_checker.hpp"
#include "protocol/base64url.hpp"
#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"

namespace syncsim::test::checker_trace {

using namespace protocol;
using conformance::FrameRecord;
using conformance::Seen;
using conformance::SessionChecker;

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1000 * kMs;

struct Trace {
  SessionChecker checker;
  std::int64_t t = 0;
  Trace() = default;
  explicit Trace(conformance::CheckerOptions o) : checker(o) {}
  // Every finding's rule is declared by the judge that reported it (D73).
  ~Trace() {
    for (const auto& e : checker.internal_errors()) ADD_FAILURE() << e;
  }
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;
  // A frame seen on the wire (written and read at once).
  void c(const Message& m, std::uint64_t conn = 1) {
    checker.on_frame(FrameRecord{t += 1000, conn, Sender::Client, encode_frame(m)});
  }
  void s(const Message& m, std::uint64_t conn = 1) {
    checker.on_frame(FrameRecord{t += 1000, conn, Sender::Server, encode_frame(m)});
  }
  // Writes and reads recorded apart, as the simulator records them.
  void cw(const Message& m, std::uint64_t conn = 1) { at(Sender::Client, Seen::Written, m, conn); }
  void sr(const Message& m, std::uint64_t conn = 1) { at(Sender::Client, Seen::Received, m, conn); }
  void sw(const Message& m, std::uint64_t conn = 1) { at(Sender::Server, Seen::Written, m, conn); }
  void cr(const Message& m, std::uint64_t conn = 1) { at(Sender::Server, Seen::Received, m, conn); }
  void at(Sender from, Seen seen, const Message& m, std::uint64_t conn) {
    checker.on_frame(FrameRecord{t += 1000, conn, from, encode_frame(m), seen});
  }
  void wait_ms(std::int64_t ms) { t += ms * kMs; }
  void on_close_both(std::uint64_t conn) { checker.on_close(conn, t += 1000); }
  bool has(std::string_view rule) const {
    for (const auto& f : checker.findings()) {
      if (f.finding.rule == rule) return true;
    }
    return false;
  }
  // Some finding of `rule` is blamed on `side`.
  bool blamed(std::string_view rule, Sender side) const {
    for (const auto& f : checker.findings()) {
      if (f.finding.rule == rule && f.blamed == side) return true;
    }
    return false;
  }
  // The first finding of `rule` is blamed on `side`.
  bool first_blamed(std::string_view rule, Sender side) const {
    for (const auto& f : checker.findings()) {
      if (f.finding.rule == rule) return f.blamed == side;
    }
    return false;
  }
  std::string all() const {
    std::string out;
    for (const auto& f : checker.findings()) out += "\n  " + conformance::format_check_finding(f);
    return out;
  }
};

inline Handshake hs(std::string token = "") {
  Handshake h;
  h.wire_version = 1;
  h.jwt_token = std::move(token);
  return h;
}
// An unsigned token with these claims: the checker only peeks at them.
inline std::string token(std::int64_t exp, std::uint32_t tenant = 0) {
  return base64url_encode(R"({"alg":"HS256"})") + "." +
         base64url_encode("{\"sub\":\"u\",\"tenant_id\":" + std::to_string(tenant) +
                          ",\"exp\":" + std::to_string(exp) + "}") +
         ".sig";
}
inline ShapeSubscribe subscribe(std::string id, std::string collection = "orders") {
  ShapeSubscribe sub;
  sub.shape.shape_id = std::move(id);
  sub.shape.shape_type = shape_type::Document{std::move(collection), {}};
  return sub;
}
inline ShapeDelta delta(std::string shape, std::uint64_t lsn, std::string collection = "orders") {
  return ShapeDelta{std::move(shape), std::move(collection), "d", "UPDATE", {1}, lsn};
}
inline HandshakeAck ok_ack(std::string id = "sync-a:1-1") {
  HandshakeAck a;
  a.success = true;
  a.session_id = std::move(id);
  a.server_wire_version = 4;
  return a;
}
inline DeltaPush push(std::uint64_t mid) {
  DeltaPush p;
  p.collection = "orders";
  p.document_id = "d";
  p.delta = {1};
  p.peer_id = 9;
  p.mutation_id = mid;
  p.checksum = crc32c(p.delta);
  return p;
}

}  // namespace syncsim::test::checker_trace
