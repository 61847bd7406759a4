// A finding: one rule broken at one place, with a level and a human message.
// Decoders, validators and (later) session checkers all speak in findings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/rules.hpp"

namespace syncsim::protocol {

// What kind of defect a finding describes. Stable names (problem_name) are
// what tests and reports key on; the rule ID says which spec rule it breaks.
enum class Problem : unsigned char {
  // framing
  UnknownMessageType,
  Truncated,
  FrameTooLarge,
  TrailingFrameBytes,
  EmptyBody,
  // body encoding
  StructAsMap,
  ArityMismatch,
  WrongType,
  SignedMarkerForUnsigned,
  UnsignedMarkerForSigned,
  MarkerTooWide,
  ValueOutOfRange,
  NonMinimalHeader,
  BytesAsStr,
  StrAsBytes,
  InvalidUtf8,
  UnknownEnumVariant,
  BadEnumPayload,
  DuplicateMapKey,
  UnsortedMap,
  TrailingBodyBytes,
  TooDeep,
  TooLarge,
  InvalidMarker,
  // value constraints (validation)
  ValueConstraint,
  WrongDirection,
  FindingsSuppressed,
};

std::string_view problem_name(Problem p);

struct Finding {
  std::string_view rule;  // rule ID, static storage (see rules.hpp)
  Level level = Level::Must;
  Problem problem = Problem::ValueConstraint;
  std::uint64_t offset = 0;  // byte offset into the input being judged
  std::string message;
};

using Findings = std::vector<Finding>;

// True when any finding is at MUST level.
bool has_must(const Findings& findings);

// "ENC-3 (MUST) at byte 12: ..." — one line, for terminals and logs.
std::string format_finding(const Finding& f);

}  // namespace syncsim::protocol
