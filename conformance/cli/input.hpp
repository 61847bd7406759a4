// Reading command-line inputs: files, stdin, hex strings, JSON lines. Every
// read is bounded and every failure comes back as a message, never a throw.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncsim::cli {

inline constexpr std::size_t kMaxInputBytes = 256u * 1024 * 1024;
inline constexpr std::size_t kChunkBytes = 64u * 1024;

// What a command-line argument names. Never throws: an argument too long to
// be a path (a frame given as hex) is simply Missing.
enum class PathKind { Missing, File, Directory, Other };
PathKind path_kind(const std::string& path);

// Reads a file, or stdin for "-", in chunks of at most kChunkBytes, handing
// each to on_chunk until it returns false. Memory stays bounded whatever the
// input's size. Returns "" on success, else an error naming the path.
std::string read_chunks(const std::string& path,
                        const std::function<bool(std::string_view)>& on_chunk);

struct ReadResult {
  std::optional<std::string> data;
  std::string error;
};

// Reads a whole file, or stdin for "-", refusing more than kMaxInputBytes
// (or `max_bytes` when given).
ReadResult read_input(const std::string& path, std::size_t max_bytes = kMaxInputBytes);

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
