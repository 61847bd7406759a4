#include "protocol/validate.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "protocol/crc32c.hpp"

namespace syncsim::protocol {
namespace {

constexpr std::int64_t kSkewWarningMs = 86'400'000;  // DELTA-15: 24 h, strictly greater

class Validator {
 public:
  Validator(Findings& out, std::uint64_t at) : out_(out), at_(at) {}

  void must(std::string_view rule, std::string msg) { add(rule, Level::Must, std::move(msg)); }
  void should(std::string_view rule, std::string msg) { add(rule, Level::Should, std::move(msg)); }

  void direction(const Message& m, Sender sender) {
    const Direction d = message_direction(m);
    const bool wrong = (sender == Sender::Client && d == Direction::ServerToClient) ||
                       (sender == Sender::Server && d == Direction::ClientToServer);
    if (!wrong) return;
    std::string_view rule = "FRAME-11";
    if (std::holds_alternative<Throttle>(m)) rule = "THROTTLE-1";
    if (std::holds_alternative<PresenceUpdate>(m) || std::holds_alternative<PresenceBroadcast>(m) ||
        std::holds_alternative<PresenceLeave>(m)) {
      rule = "PRES-9";
    }
    // A DefinitionSync from a client is FRAME-11's (DEF-1 binds the server
    // and would blame it for the client's frame).
    add(rule, Level::Must,
        std::string(message_name(m)) + " sent by the " +
            (sender == Sender::Client ? "client" : "server") + ", but it goes " +
            (d == Direction::ClientToServer ? "client to server" : "server to client") + " only",
        Problem::WrongDirection);
  }

  void check(const Handshake& m) {
    if (m.wire_version == 0) should("HS-3", "Handshake.wire_version is 0 (legacy client)");
  }
  void check(const HandshakeAck& m) {
    if (m.server_wire_version != 4) {
      must("HS-5", "HandshakeAck.server_wire_version is " + std::to_string(m.server_wire_version) +
                       ", expected 4");
    }
    if (m.session_id.empty()) must("SESSION-1", "HandshakeAck.session_id is empty");
    if (m.success) {
      if (m.error) must("HS-7", "successful HandshakeAck carries error \"" + *m.error + "\"");
      if (m.fork_detected) must("HS-7", "successful HandshakeAck has fork_detected = true");
    } else if (!m.error || m.error->empty()) {
      must("HS-8", "failed HandshakeAck has no error text");
    }
  }
  void check(const DeltaPush& m) {
    if (m.mutation_id == 0) must("DELTA-1", "DeltaPush.mutation_id is 0 (must be >= 1)");
    if (m.delta.empty()) must("DELTA-1", "DeltaPush.delta is empty");
    if (m.checksum == 0) {
      if (!m.delta.empty()) should("DELTA-2", "DeltaPush.checksum is 0 (legacy: not checked)");
    } else {
      const std::uint32_t crc = crc32c(m.delta);
      if (crc != m.checksum) must("DELTA-2", crc_mismatch_reason(m.checksum, crc));
    }
  }
  void check(const DeltaAck& m) {
    if (m.clock_skew_warning_ms) {
      const std::int64_t v = *m.clock_skew_warning_ms;
      if (v >= -kSkewWarningMs && v <= kSkewWarningMs) {
        should("DELTA-15", "DeltaAck.clock_skew_warning_ms = " + std::to_string(v) +
                               " is within 24 h; it must be nil unless |skew| > 86400000");
      }
    }
  }
  void check(const DeltaReject& m) {
    using namespace compensation;
    const auto& hint = m.compensation;
    auto expect_hint = [&](bool ok, std::string_view wanted) {
      if (!ok) {
        must("DELTA-10", "DeltaReject reason \"" + m.reason + "\" goes with compensation " +
                             std::string(wanted));
      }
    };
    auto is = [&](auto tag) { return hint && std::holds_alternative<decltype(tag)>(*hint); };
    if (m.reason.empty()) {
      must("DELTA-10", "DeltaReject.reason is empty");
    } else if (m.reason == "not authenticated" || m.reason == "token expired" ||
               m.reason == "identity not established") {
      expect_hint(is(PermissionDenied{}), "PermissionDenied");
    } else if (m.reason == "empty delta") {
      expect_hint(!hint.has_value(), "nil");
    } else if (m.reason.starts_with("CRC32C mismatch")) {
      unsigned a = 0, b = 0;
      char tail = 0;
      const bool shaped =
          std::sscanf(m.reason.c_str(), "CRC32C mismatch: expected 0x%8x, computed 0x%8x%c", &a, &b,
                      &tail) == 2 &&
          m.reason == crc_mismatch_reason(a, b);
      if (!shaped) {
        must("DELTA-10", "DeltaReject reason \"" + m.reason +
                             "\" is not \"CRC32C mismatch: expected 0x%08x, computed 0x%08x\"");
      }
      expect_hint(is(IntegrityViolation{}), "IntegrityViolation");
    } else if (m.reason == "collection purged") {
      const auto* c = hint ? std::get_if<Custom>(&*hint) : nullptr;
      expect_hint(c && c->constraint == "collection_purged" && !c->detail.empty(),
                  "Custom{constraint: \"collection_purged\", detail: <collection>}");
    }
  }
  void check(const ShapeSubscribe& m) {
    if (m.shape.shape_id.empty()) must("SHAPE-1", "ShapeSubscribe.shape.shape_id is empty");
  }
  void check(const ShapeDelta& m) {
    if (m.operation != "INSERT" && m.operation != "UPDATE" && m.operation != "DELETE") {
      must("SHAPE-7",
           "ShapeDelta.operation \"" + m.operation + "\" is not one of INSERT, UPDATE, DELETE");
    }
  }
  void check(const TimeseriesAck& m) {
    if (m.accepted == 0 && m.lsn != 0) {
      must("TS-4",
           "TimeseriesAck with accepted = 0 has lsn " + std::to_string(m.lsn) + ", expected 0");
    }
    if (m.accepted > 0 && m.lsn == 0) must("TS-4", "TimeseriesAck with accepted > 0 has lsn 0");
  }
  void check(const ResyncRequest& m) {
    using namespace resync_reason;
    if (const auto* gap = std::get_if<SequenceGap>(&m.reason)) {
      if (m.from_mutation_id != gap->expected) {
        must("RESYNC-2", "SequenceGap resync has from_mutation_id " +
                             std::to_string(m.from_mutation_id) + ", expected " +
                             std::to_string(gap->expected));
      }
      if (gap->received <= gap->expected) {
        must("RESYNC-2", "SequenceGap with received " + std::to_string(gap->received) +
                             " not above expected " + std::to_string(gap->expected));
      }
      if (!m.collection.empty()) must("RESYNC-2", "SequenceGap resync names a collection");
    } else if (const auto* bad = std::get_if<ChecksumMismatch>(&m.reason)) {
      if (m.from_mutation_id != bad->mutation_id) {
        should("RESYNC-6", "ChecksumMismatch resync has from_mutation_id " +
                               std::to_string(m.from_mutation_id) + ", expected " +
                               std::to_string(bad->mutation_id));
      }
    } else {
      if (m.from_mutation_id != 0 || !m.collection.empty()) {
        should("RESYNC-5", "CorruptedState resync expects from_mutation_id 0 and collection \"\"");
      }
    }
  }
  void check(const Throttle& m) {
    if (!m.throttle && m.suggested_rate != 0) {
      should("THROTTLE-2", "Throttle release has suggested_rate " +
                               std::to_string(m.suggested_rate) + ", expected 0");
    }
  }
  void check(const TokenRefreshAck& m) {
    if (m.success && m.error) must("TOKEN-2", "successful TokenRefreshAck carries an error");
    if (!m.success) {
      if (!m.error || m.error->empty()) must("TOKEN-2", "failed TokenRefreshAck has no error text");
      if (m.expires_in_secs != 0) {
        must("TOKEN-2", "failed TokenRefreshAck has expires_in_secs " +
                            std::to_string(m.expires_in_secs) + ", expected 0");
      }
    }
  }
  void check(const DefinitionSync& m) {
    const auto& t = m.definition_type;
    if (t != "function" && t != "trigger" && t != "procedure") {
      must("DEF-1",
           "DefinitionSync.definition_type \"" + t + "\" is not function/trigger/procedure");
    }
    if (m.name.empty()) must("DEF-1", "DefinitionSync.name is empty");
    if (m.action == "put") {
      if (!is_json_object(m.payload))
        must("DEF-1", "DefinitionSync put payload is not a JSON object");
    } else if (m.action == "delete") {
      if (!m.payload.empty()) should("DEF-1", "DefinitionSync delete payload is not empty");
    } else {
      must("DEF-1", "DefinitionSync.action \"" + m.action + "\" is not put/delete");
    }
  }
  template <class Other>
  void check(const Other&) {}

 private:
  void add(std::string_view rule, Level level, std::string msg,
           Problem problem = Problem::ValueConstraint) {
    out_.push_back(Finding{rule, level, problem, at_, std::move(msg)});
  }
  Findings& out_;
  std::uint64_t at_;
};

}  // namespace

std::string crc_mismatch_reason(std::uint32_t expected, std::uint32_t computed) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "CRC32C mismatch: expected 0x%08x, computed 0x%08x", expected,
                computed);
  return buf;
}

bool is_json_object(const Bytes& payload) {
  const auto j = nlohmann::json::parse(payload.begin(), payload.end(), nullptr,
                                       /*allow_exceptions=*/false);
  return j.is_object();
}

void validate(const Message& m, Sender sender, Findings& out, std::uint64_t frame_offset) {
  Validator v(out, frame_offset);
  v.direction(m, sender);
  // DEF-1's values bind the server: a client's DefinitionSync is judged by
  // its direction alone (FRAME-11), so the client is the one blamed.
  if (sender == Sender::Client && std::holds_alternative<DefinitionSync>(m)) return;
  std::visit([&](const auto& msg) { v.check(msg); }, m);
}

std::span<const std::string_view> frame_rules() {
  static constexpr std::string_view kRules[] = {
      "ENC-1",     "ENC-2",    "ENC-3",    "ENC-4",      "ENC-5",      "ENC-6",   "ENC-8",
      "ENC-9",     "ENC-10",   "ENC-12",   "ENC-13",     "FRAME-1",    "FRAME-2", "FRAME-6",
      "FRAME-8",   "FRAME-9",  "FRAME-11", "HS-3",       "HS-5",       "HS-7",    "HS-8",
      "SESSION-1", "DELTA-1",  "DELTA-2",  "DELTA-10",   "DELTA-15",   "SHAPE-1", "SHAPE-7",
      "RESYNC-2",  "RESYNC-5", "RESYNC-6", "THROTTLE-1", "THROTTLE-2", "TOKEN-2", "TS-4",
      "DEF-1",     "PRES-9",   "ENC-7"};
  return kRules;
}

}  // namespace syncsim::protocol
