// Reading command-line inputs: files, stdin, hex strings, JSON lines. Every
// read is bounded and every failure comes back as a message, never a throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace syncsim::cli {

inline constexpr std::size_t kMaxInputBytes = 256u * 1024 * 1024;

struct ReadResult {
  std::optional<std::string> data;
  std::string error;
};

// Reads a whole file, or stdin for "-", refusing more than kMaxInputBytes.
ReadResult read_input(const std::string& path);

// True when every non-whitespace character is a hex digit (and there is one).
bool looks_like_hex(const std::string& text);

// Hex with whitespace removed, decoded; nullopt on odd length or bad digit.
std::optional<std::vector<std::uint8_t>> parse_hex_text(const std::string& text);

// Splits into lines, keeping 1-based line numbers; drops blank lines and
// lines whose first non-space character is '#'.
struct Line {
  std::size_t number;
  std::string text;
};
std::vector<Line> content_lines(const std::string& text);

}  // namespace syncsim::cli
