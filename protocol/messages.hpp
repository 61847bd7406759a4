// One C++ type per wire message (all 22 codes) and per nested type, fields in
// wire order with the spec's names and types (PROTOCOL.md §4). Equality is
// memberwise. Maps are std::map, so iteration is sorted and deterministic and
// encoding is canonical (§3.7).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "protocol/reflect.hpp"

namespace syncsim::protocol {

// Vec<u8> on the wire (MessagePack bin). Every other vector is an array.
using Bytes = std::vector<std::uint8_t>;

// Who may send a message (§2.2).
enum class Direction : unsigned char { ClientToServer, ServerToClient, Both };

#define SYNCSIM_EQ(T) bool operator==(const T&) const = default

// ---- nested types (§4.0) -------------------------------------------------

namespace shape_type {
struct Document {
  static constexpr std::string_view kTag = "Document";
  std::string collection;
  Bytes predicate;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(Document, collection), SYNCSIM_FIELD(Document, predicate)};
  }
  SYNCSIM_EQ(Document);
};
struct Graph {
  static constexpr std::string_view kTag = "Graph";
  std::vector<std::string> root_nodes;
  std::uint64_t max_depth = 0;  // usize
  std::optional<std::string> edge_label;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(Graph, root_nodes), SYNCSIM_FIELD(Graph, max_depth),
                      SYNCSIM_FIELD(Graph, edge_label)};
  }
  SYNCSIM_EQ(Graph);
};
struct Vector {
  static constexpr std::string_view kTag = "Vector";
  std::string collection;
  std::optional<std::string> field_name;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(Vector, collection), SYNCSIM_FIELD(Vector, field_name)};
  }
  SYNCSIM_EQ(Vector);
};
}  // namespace shape_type
using ShapeType = std::variant<shape_type::Document, shape_type::Graph, shape_type::Vector>;

namespace compensation {
struct UniqueViolation {
  static constexpr std::string_view kTag = "UniqueViolation";
  std::string field;
  std::string conflicting_value;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(UniqueViolation, field),
                      SYNCSIM_FIELD(UniqueViolation, conflicting_value)};
  }
  SYNCSIM_EQ(UniqueViolation);
};
struct ForeignKeyMissing {
  static constexpr std::string_view kTag = "ForeignKeyMissing";
  std::string referenced_id;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(ForeignKeyMissing, referenced_id)};
  }
  SYNCSIM_EQ(ForeignKeyMissing);
};
struct PermissionDenied {
  static constexpr std::string_view kTag = "PermissionDenied";
  static constexpr auto fields() { return std::tuple{}; }
  SYNCSIM_EQ(PermissionDenied);
};
struct RateLimited {
  static constexpr std::string_view kTag = "RateLimited";
  std::uint64_t retry_after_ms = 0;
  static constexpr auto fields() { return std::tuple{SYNCSIM_FIELD(RateLimited, retry_after_ms)}; }
  SYNCSIM_EQ(RateLimited);
};
struct SchemaViolation {
  static constexpr std::string_view kTag = "SchemaViolation";
  std::string field;
  std::string reason;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(SchemaViolation, field),
                      SYNCSIM_FIELD(SchemaViolation, reason)};
  }
  SYNCSIM_EQ(SchemaViolation);
};
struct Custom {
  static constexpr std::string_view kTag = "Custom";
  std::string constraint;
  std::string detail;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(Custom, constraint), SYNCSIM_FIELD(Custom, detail)};
  }
  SYNCSIM_EQ(Custom);
};
struct IntegrityViolation {
  static constexpr std::string_view kTag = "IntegrityViolation";
  static constexpr auto fields() { return std::tuple{}; }
  SYNCSIM_EQ(IntegrityViolation);
};
}  // namespace compensation
using CompensationHint =
    std::variant<compensation::UniqueViolation, compensation::ForeignKeyMissing,
                 compensation::PermissionDenied, compensation::RateLimited,
                 compensation::SchemaViolation, compensation::Custom,
                 compensation::IntegrityViolation>;

namespace resync_reason {
struct SequenceGap {
  static constexpr std::string_view kTag = "SequenceGap";
  std::uint64_t expected = 0;
  std::uint64_t received = 0;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(SequenceGap, expected), SYNCSIM_FIELD(SequenceGap, received)};
  }
  SYNCSIM_EQ(SequenceGap);
};
struct ChecksumMismatch {
  static constexpr std::string_view kTag = "ChecksumMismatch";
  std::uint64_t mutation_id = 0;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(ChecksumMismatch, mutation_id)};
  }
  SYNCSIM_EQ(ChecksumMismatch);
};
struct CorruptedState {
  static constexpr std::string_view kTag = "CorruptedState";
  static constexpr auto fields() { return std::tuple{}; }
  SYNCSIM_EQ(CorruptedState);
};
}  // namespace resync_reason
using ResyncReason = std::variant<resync_reason::SequenceGap, resync_reason::ChecksumMismatch,
                                  resync_reason::CorruptedState>;

struct ShapeDefinition {
  std::string shape_id;
  std::uint32_t tenant_id = 0;
  ShapeType shape_type;
  std::string description;
  std::vector<std::string> field_filter;
  static constexpr auto fields() {
    return std::tuple{
        SYNCSIM_FIELD(ShapeDefinition, shape_id), SYNCSIM_FIELD(ShapeDefinition, tenant_id),
        SYNCSIM_FIELD(ShapeDefinition, shape_type), SYNCSIM_FIELD(ShapeDefinition, description),
        SYNCSIM_FIELD(ShapeDefinition, field_filter)};
  }
  SYNCSIM_EQ(ShapeDefinition);
};

// The collection a Document or Vector shape covers; "" for a Graph shape.
inline std::string shape_collection(const ShapeDefinition& shape) {
  if (const auto* d = std::get_if<shape_type::Document>(&shape.shape_type)) return d->collection;
  if (const auto* v = std::get_if<shape_type::Vector>(&shape.shape_type)) return v->collection;
  return {};
}

struct PeerPresence {
  std::string user_id;
  Bytes state;
  std::uint64_t last_seen_ms = 0;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(PeerPresence, user_id), SYNCSIM_FIELD(PeerPresence, state),
                      SYNCSIM_FIELD(PeerPresence, last_seen_ms)};
  }
  SYNCSIM_EQ(PeerPresence);
};

// ---- messages (§4.1 – §4.22) ---------------------------------------------

#define SYNCSIM_MESSAGE(T, code, dir)                     \
  static constexpr std::uint8_t kCode = code;             \
  static constexpr std::string_view kName = #T;           \
  static constexpr Direction kDirection = Direction::dir; \
  SYNCSIM_EQ(T)

struct Handshake {
  SYNCSIM_MESSAGE(Handshake, 0x01, ClientToServer);
  std::string jwt_token;
  std::map<std::string, std::map<std::string, std::uint64_t>> vector_clock;
  std::vector<std::string> subscribed_shapes;
  std::string client_version;
  std::string lite_id;
  std::uint64_t epoch = 0;
  std::uint16_t wire_version = 0;
  static constexpr auto fields() {
    return std::tuple{
        SYNCSIM_FIELD(Handshake, jwt_token),         SYNCSIM_FIELD(Handshake, vector_clock),
        SYNCSIM_FIELD(Handshake, subscribed_shapes), SYNCSIM_FIELD(Handshake, client_version),
        SYNCSIM_FIELD(Handshake, lite_id),           SYNCSIM_FIELD(Handshake, epoch),
        SYNCSIM_FIELD(Handshake, wire_version)};
  }
};

struct HandshakeAck {
  SYNCSIM_MESSAGE(HandshakeAck, 0x02, ServerToClient);
  bool success = false;
  std::string session_id;
  std::map<std::string, std::uint64_t> server_clock;
  std::optional<std::string> error;
  bool fork_detected = false;
  std::uint16_t server_wire_version = 0;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(HandshakeAck, success),
                      SYNCSIM_FIELD(HandshakeAck, session_id),
                      SYNCSIM_FIELD(HandshakeAck, server_clock),
                      SYNCSIM_FIELD(HandshakeAck, error),
                      SYNCSIM_FIELD(HandshakeAck, fork_detected),
                      SYNCSIM_FIELD(HandshakeAck, server_wire_version)};
  }
};

struct DeltaPush {
  SYNCSIM_MESSAGE(DeltaPush, 0x10, Both);
  std::string collection;
  std::string document_id;
  Bytes delta;
  std::uint64_t peer_id = 0;
  std::uint64_t mutation_id = 0;
  std::uint32_t checksum = 0;
  std::optional<std::int64_t> device_valid_time_ms;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(DeltaPush, collection),
                      SYNCSIM_FIELD(DeltaPush, document_id),
                      SYNCSIM_FIELD(DeltaPush, delta),
                      SYNCSIM_FIELD(DeltaPush, peer_id),
                      SYNCSIM_FIELD(DeltaPush, mutation_id),
                      SYNCSIM_FIELD(DeltaPush, checksum),
                      SYNCSIM_FIELD(DeltaPush, device_valid_time_ms)};
  }
};

struct DeltaAck {
  SYNCSIM_MESSAGE(DeltaAck, 0x11, ServerToClient);
  std::uint64_t mutation_id = 0;
  std::uint64_t lsn = 0;
  std::optional<std::int64_t> clock_skew_warning_ms;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(DeltaAck, mutation_id), SYNCSIM_FIELD(DeltaAck, lsn),
                      SYNCSIM_FIELD(DeltaAck, clock_skew_warning_ms)};
  }
};

struct DeltaReject {
  SYNCSIM_MESSAGE(DeltaReject, 0x12, ServerToClient);
  std::uint64_t mutation_id = 0;
  std::string reason;
  std::optional<CompensationHint> compensation;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(DeltaReject, mutation_id), SYNCSIM_FIELD(DeltaReject, reason),
                      SYNCSIM_FIELD(DeltaReject, compensation)};
  }
};

struct CollectionPurged {
  SYNCSIM_MESSAGE(CollectionPurged, 0x14, ServerToClient);
  std::uint32_t tenant_id = 0;
  std::string name;
  std::uint64_t purge_lsn = 0;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(CollectionPurged, tenant_id),
                      SYNCSIM_FIELD(CollectionPurged, name),
                      SYNCSIM_FIELD(CollectionPurged, purge_lsn)};
  }
};

struct ShapeSubscribe {
  SYNCSIM_MESSAGE(ShapeSubscribe, 0x20, ClientToServer);
  ShapeDefinition shape;
  static constexpr auto fields() { return std::tuple{SYNCSIM_FIELD(ShapeSubscribe, shape)}; }
};

struct ShapeSnapshot {
  SYNCSIM_MESSAGE(ShapeSnapshot, 0x21, ServerToClient);
  std::string shape_id;
  Bytes data;
  std::uint64_t snapshot_lsn = 0;
  std::uint64_t doc_count = 0;  // usize
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(ShapeSnapshot, shape_id), SYNCSIM_FIELD(ShapeSnapshot, data),
                      SYNCSIM_FIELD(ShapeSnapshot, snapshot_lsn),
                      SYNCSIM_FIELD(ShapeSnapshot, doc_count)};
  }
};

struct ShapeDelta {
  SYNCSIM_MESSAGE(ShapeDelta, 0x22, ServerToClient);
  std::string shape_id;
  std::string collection;
  std::string document_id;
  std::string operation;
  Bytes delta;
  std::uint64_t lsn = 0;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(ShapeDelta, shape_id),    SYNCSIM_FIELD(ShapeDelta, collection),
                      SYNCSIM_FIELD(ShapeDelta, document_id), SYNCSIM_FIELD(ShapeDelta, operation),
                      SYNCSIM_FIELD(ShapeDelta, delta),       SYNCSIM_FIELD(ShapeDelta, lsn)};
  }
};

struct ShapeUnsubscribe {
  SYNCSIM_MESSAGE(ShapeUnsubscribe, 0x23, ClientToServer);
  std::string shape_id;
  static constexpr auto fields() { return std::tuple{SYNCSIM_FIELD(ShapeUnsubscribe, shape_id)}; }
};

struct VectorClockSync {
  SYNCSIM_MESSAGE(VectorClockSync, 0x30, Both);
  std::map<std::string, std::uint64_t> clocks;
  std::uint64_t sender_id = 0;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(VectorClockSync, clocks),
                      SYNCSIM_FIELD(VectorClockSync, sender_id)};
  }
};

struct TimeseriesPush {
  SYNCSIM_MESSAGE(TimeseriesPush, 0x40, ClientToServer);
  std::string lite_id;
  std::string collection;
  Bytes ts_block;
  Bytes val_block;
  Bytes series_block;
  std::uint64_t sample_count = 0;
  std::int64_t min_ts = 0;
  std::int64_t max_ts = 0;
  std::map<std::uint64_t, std::uint64_t> watermarks;
  static constexpr auto fields() {
    return std::tuple{
        SYNCSIM_FIELD(TimeseriesPush, lite_id),      SYNCSIM_FIELD(TimeseriesPush, collection),
        SYNCSIM_FIELD(TimeseriesPush, ts_block),     SYNCSIM_FIELD(TimeseriesPush, val_block),
        SYNCSIM_FIELD(TimeseriesPush, series_block), SYNCSIM_FIELD(TimeseriesPush, sample_count),
        SYNCSIM_FIELD(TimeseriesPush, min_ts),       SYNCSIM_FIELD(TimeseriesPush, max_ts),
        SYNCSIM_FIELD(TimeseriesPush, watermarks)};
  }
};

struct TimeseriesAck {
  SYNCSIM_MESSAGE(TimeseriesAck, 0x41, ServerToClient);
  std::string collection;
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::uint64_t lsn = 0;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(TimeseriesAck, collection),
                      SYNCSIM_FIELD(TimeseriesAck, accepted),
                      SYNCSIM_FIELD(TimeseriesAck, rejected), SYNCSIM_FIELD(TimeseriesAck, lsn)};
  }
};

struct ResyncRequest {
  SYNCSIM_MESSAGE(ResyncRequest, 0x50, Both);
  ResyncReason reason;
  std::uint64_t from_mutation_id = 0;
  std::string collection;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(ResyncRequest, reason),
                      SYNCSIM_FIELD(ResyncRequest, from_mutation_id),
                      SYNCSIM_FIELD(ResyncRequest, collection)};
  }
};

struct Throttle {
  SYNCSIM_MESSAGE(Throttle, 0x52, ClientToServer);
  bool throttle = false;
  std::uint64_t queue_depth = 0;
  std::uint64_t suggested_rate = 0;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(Throttle, throttle), SYNCSIM_FIELD(Throttle, queue_depth),
                      SYNCSIM_FIELD(Throttle, suggested_rate)};
  }
};

struct TokenRefresh {
  SYNCSIM_MESSAGE(TokenRefresh, 0x60, ClientToServer);
  std::string new_token;
  static constexpr auto fields() { return std::tuple{SYNCSIM_FIELD(TokenRefresh, new_token)}; }
};

struct TokenRefreshAck {
  SYNCSIM_MESSAGE(TokenRefreshAck, 0x61, ServerToClient);
  bool success = false;
  std::optional<std::string> error;
  std::uint64_t expires_in_secs = 0;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(TokenRefreshAck, success),
                      SYNCSIM_FIELD(TokenRefreshAck, error),
                      SYNCSIM_FIELD(TokenRefreshAck, expires_in_secs)};
  }
};

struct DefinitionSync {
  SYNCSIM_MESSAGE(DefinitionSync, 0x70, ServerToClient);
  std::string definition_type;
  std::string name;
  std::string action;
  Bytes payload;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(DefinitionSync, definition_type),
                      SYNCSIM_FIELD(DefinitionSync, name), SYNCSIM_FIELD(DefinitionSync, action),
                      SYNCSIM_FIELD(DefinitionSync, payload)};
  }
};

struct PresenceUpdate {
  SYNCSIM_MESSAGE(PresenceUpdate, 0x80, ClientToServer);
  std::string channel;
  Bytes state;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(PresenceUpdate, channel), SYNCSIM_FIELD(PresenceUpdate, state)};
  }
};

struct PresenceBroadcast {
  SYNCSIM_MESSAGE(PresenceBroadcast, 0x81, ServerToClient);
  std::string channel;
  std::vector<PeerPresence> peers;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(PresenceBroadcast, channel),
                      SYNCSIM_FIELD(PresenceBroadcast, peers)};
  }
};

struct PresenceLeave {
  SYNCSIM_MESSAGE(PresenceLeave, 0x82, ServerToClient);
  std::string channel;
  std::string user_id;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(PresenceLeave, channel), SYNCSIM_FIELD(PresenceLeave, user_id)};
  }
};

// Ping and Pong share code 0xFF and this body; is_pong tells them apart.
struct PingPong {
  SYNCSIM_MESSAGE(PingPong, 0xFF, Both);
  std::uint64_t timestamp_ms = 0;
  bool is_pong = false;
  static constexpr auto fields() {
    return std::tuple{SYNCSIM_FIELD(PingPong, timestamp_ms), SYNCSIM_FIELD(PingPong, is_pong)};
  }
};

#undef SYNCSIM_MESSAGE
#undef SYNCSIM_EQ

// Every message, in code order.
using Message = std::variant<Handshake, HandshakeAck, DeltaPush, DeltaAck, DeltaReject,
                             CollectionPurged, ShapeSubscribe, ShapeSnapshot, ShapeDelta,
                             ShapeUnsubscribe, VectorClockSync, TimeseriesPush, TimeseriesAck,
                             ResyncRequest, Throttle, TokenRefresh, TokenRefreshAck, DefinitionSync,
                             PresenceUpdate, PresenceBroadcast, PresenceLeave, PingPong>;

inline constexpr std::size_t kMessageTypeCount = std::variant_size_v<Message>;
static_assert(kMessageTypeCount == 22, "the spec defines 22 message codes");

// The wire code of a message.
std::uint8_t message_code(const Message& m);

// The message name of §2.2 / Appendix D: "Ping" or "Pong" for 0xFF.
std::string_view message_name(const Message& m);

// Who may send the message.
Direction message_direction(const Message& m);

// The name for a code ("Ping/Pong" for 0xFF), or empty for an unknown code.
std::string_view code_name(std::uint8_t code);

// True for the 22 codes of §2.2.
bool is_known_code(std::uint8_t code);

// Calls fn(Tag<T>{}) for the message type with this code; returns false for
// an unknown code. Used where a type must be chosen from a code at run time.
template <class T>
struct TypeTag {
  using type = T;
};
template <class Fn>
bool with_message_type(std::uint8_t code, Fn&& fn) {
  bool found = false;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((std::variant_alternative_t<I, Message>::kCode == code
          ? (fn(TypeTag<std::variant_alternative_t<I, Message>>{}), found = true)
          : false),
     ...);
  }
  (std::make_index_sequence<kMessageTypeCount>{});
  return found;
}

}  // namespace syncsim::protocol
