#include "tests/support/test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace syncsim::test {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string source_path(const std::string& relative) {
  return std::string(SYNCSIM_SOURCE_DIR) + "/" + relative;
}
std::string spec_path(const std::string& relative) {
  return std::string(SYNCSIM_SPEC_DIR) + "/" + relative;
}

std::vector<protocol::Json> read_jsonl(const std::string& text) {
  std::vector<protocol::Json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out.push_back(protocol::Json::parse(line));
  }
  return out;
}

std::vector<protocol::Json> appendix_e_lines(const std::string& md) {
  std::vector<protocol::Json> out;
  const auto start = md.find("## Appendix E.");
  const auto end = md.find("## Appendix F.");
  if (start == std::string::npos || end == std::string::npos) return out;
  std::istringstream in(md.substr(start, end - start));
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("{\"id\"")) out.push_back(protocol::Json::parse(line));
  }
  return out;
}

protocol::Bytes unknown_frame(std::uint32_t n, bool whole) {
  protocol::Bytes f(whole ? std::size_t{5} + n : 5, 0xAB);
  f[0] = 0x99;
  for (int k = 0; k < 4; ++k) f[1 + k] = static_cast<std::uint8_t>(n >> (8 * k));
  return f;
}

protocol::Bytes hex(std::string_view h) {
  auto b = protocol::from_hex(h);
  if (!b) ADD_FAILURE() << "bad hex in test: " << h;
  return b.value_or(protocol::Bytes{});
}

bool has_rule(const protocol::Findings& f, std::string_view rule, protocol::Level level) {
  for (const auto& x : f) {
    if (x.rule == rule && x.level == level) return true;
  }
  return false;
}
bool has_must_rule(const protocol::Findings& f, std::string_view rule) {
  return has_rule(f, rule, protocol::Level::Must);
}

#ifdef SYNCSIM_QUICK_BUILD
// Sanitizer builds run the quick counts (tests read SYNCSIM_QUICK).
[[maybe_unused]] const bool kQuickSet = setenv("SYNCSIM_QUICK", "1", 0) == 0;
#endif

std::uint64_t seed_count(std::uint64_t full) {
  const char* quick = std::getenv("SYNCSIM_QUICK");
  return quick && *quick == '1' ? std::max<std::uint64_t>(1, full / 20) : full;
}

std::string describe(const protocol::Findings& f) {
  std::string s;
  for (const auto& x : f) s += "\n  " + protocol::format_finding(x);
  return s.empty() ? " (no findings)" : s;
}

}  // namespace syncsim::test
