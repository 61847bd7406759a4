#include "conformance/cli/input.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "protocol/json.hpp"

namespace syncsim::cli {

PathKind path_kind(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) return PathKind::Missing;
  if (std::filesystem::is_regular_file(st)) return PathKind::File;
  if (std::filesystem::is_directory(st)) return PathKind::Directory;
  return PathKind::Other;  // a FIFO, /dev/stdin, a character device: read as a stream
}

std::string read_chunks(const std::string& path,
                        const std::function<bool(std::string_view)>& on_chunk) {
  std::FILE* f = stdin;
  if (path != "-") {
    switch (path_kind(path)) {
      case PathKind::Missing: return path + ": no such file";
      case PathKind::Directory: return path + ": is a directory, not a file";
      default: break;
    }
    f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return path + ": cannot open: " + std::strerror(errno);
  }
  std::vector<char> buf(kChunkBytes);
  std::string error;
  for (;;) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n > 0 && !on_chunk(std::string_view(buf.data(), n))) break;
    if (n < buf.size()) {
      if (std::ferror(f)) error = (path == "-" ? "stdin" : path) + ": read error";
      break;
    }
  }
  if (f != stdin) std::fclose(f);
  return error;
}

ReadResult read_input(const std::string& path, std::size_t max_bytes) {
  ReadResult r;
  std::string data;
  bool too_big = false;
  const std::string error = read_chunks(path, [&](std::string_view chunk) {
    if (data.size() + chunk.size() > max_bytes) {
      too_big = true;
      return false;
    }
    data.append(chunk);
    return true;
  });
  if (!error.empty()) {
    r.error = error;
  } else if (too_big) {
    r.error = (path == "-" ? std::string("stdin") : path) + ": larger than " +
              std::to_string(max_bytes) + " bytes";
  } else {
    r.data = std::move(data);
  }
  return r;
}

bool looks_like_hex(const std::string& text) {
  bool any = false;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    any = true;
  }
  return any;
}

std::optional<std::vector<std::uint8_t>> parse_hex_text(const std::string& text) {
  std::string compact;
  compact.reserve(text.size());
  for (const char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  }
  return protocol::from_hex(compact);
}

std::vector<Line> content_lines(const std::string& text) {
  std::vector<Line> out;
  std::size_t number = 0, start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++number;
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] != '#') out.push_back({number, std::move(line)});
    if (end == text.size()) break;
    start = end + 1;
  }
  return out;
}

}  // namespace syncsim::cli
