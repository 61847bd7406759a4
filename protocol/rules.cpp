#include "protocol/rules.hpp"

#include <array>

namespace syncsim::protocol {
namespace {

#define SYNCSIM_RULE(id, level, binds, hc, summary) Rule{id, level, binds, hc, summary},
constexpr std::array kRules = {
#include "protocol/rules_table.inc"
};
#undef SYNCSIM_RULE

}  // namespace

std::span<const Rule> all_rules() { return kRules; }

const Rule* find_rule(std::string_view id) {
  for (const Rule& r : kRules) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::Must: return "MUST";
    case Level::Should: return "SHOULD";
    case Level::May: return "MAY";
  }
  return "?";
}

std::string_view binds_name(Binds binds) {
  switch (binds) {
    case Binds::Server: return "server";
    case Binds::Client: return "client";
    case Binds::Both: return "both";
  }
  return "?";
}

}  // namespace syncsim::protocol
