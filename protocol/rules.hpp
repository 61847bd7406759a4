// The spec's rule index (PROTOCOL.md Appendix F): every check syncsim makes
// cites one of these IDs.
#pragma once

#include <span>
#include <string_view>

namespace syncsim::protocol {

// Requirement level of a rule (PROTOCOL.md §0.2). A broken MUST fails a run,
// a broken SHOULD warns, a MAY is informational.
enum class Level : unsigned char { Must, Should, May };

// Which side a rule constrains.
enum class Binds : unsigned char { Server, Client, Both };

struct Rule {
  std::string_view id;  // e.g. "DELTA-3"
  Level level;
  Binds binds;
  bool harness_choice;  // "HC" in Appendix F
  std::string_view summary;
};

// All 170 rules, in spec order.
std::span<const Rule> all_rules();

// The rule with this ID, or nullptr.
const Rule* find_rule(std::string_view id);

std::string_view level_name(Level level);  // "MUST", "SHOULD", "MAY"
std::string_view binds_name(Binds binds);  // "server", "client", "both"

}  // namespace syncsim::protocol
