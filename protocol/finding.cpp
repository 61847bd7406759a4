#include "protocol/finding.hpp"

#include <algorithm>

namespace syncsim::protocol {

std::string_view problem_name(Problem p) {
  switch (p) {
    case Problem::UnknownMessageType: return "unknown message type";
    case Problem::Truncated: return "truncated";
    case Problem::FrameTooLarge: return "frame too large";
    case Problem::TrailingFrameBytes: return "bytes after frame";
    case Problem::EmptyBody: return "empty body";
    case Problem::StructAsMap: return "struct written as map";
    case Problem::ArityMismatch: return "array length mismatch";
    case Problem::WrongType: return "wrong type";
    case Problem::SignedMarkerForUnsigned: return "unsigned field with signed marker";
    case Problem::UnsignedMarkerForSigned: return "i64 field with unsigned marker";
    case Problem::MarkerTooWide: return "marker too wide for field";
    case Problem::ValueOutOfRange: return "value out of range";
    case Problem::NonMinimalHeader: return "non-minimal header";
    case Problem::BytesAsStr: return "bytes field written as str";
    case Problem::StrAsBytes: return "string field written as bin";
    case Problem::InvalidUtf8: return "invalid UTF-8";
    case Problem::UnknownEnumVariant: return "unknown enum variant";
    case Problem::BadEnumPayload: return "bad enum payload";
    case Problem::DuplicateMapKey: return "duplicate map key";
    case Problem::UnsortedMap: return "map keys not sorted";
    case Problem::TrailingBodyBytes: return "bytes after body value";
    case Problem::TooDeep: return "nesting too deep";
    case Problem::TooLarge: return "size limit exceeded";
    case Problem::InvalidMarker: return "invalid MessagePack marker";
    case Problem::ValueConstraint: return "value constraint";
    case Problem::WrongDirection: return "wrong direction";
    case Problem::FindingsSuppressed: return "findings suppressed";
  }
  return "?";
}

bool has_must(const Findings& findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.level == Level::Must; });
}

std::string format_finding(const Finding& f) {
  std::string out;
  out.reserve(48 + f.message.size());
  out += f.rule;
  out += " (";
  out += level_name(f.level);
  out += ") at byte ";
  out += std::to_string(f.offset);
  out += ": ";
  out += f.message;
  return out;
}

}  // namespace syncsim::protocol
