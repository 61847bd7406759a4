#include "conformance/cli/input.hpp"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "protocol/json.hpp"

namespace syncsim::cli {

ReadResult read_input(const std::string& path) {
  ReadResult r;
  std::string data;
  char buf[65536];
  if (path == "-") {
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
      if (data.size() + n > kMaxInputBytes) {
        r.error = "stdin: more than " + std::to_string(kMaxInputBytes) + " bytes";
        return r;
      }
      data.append(buf, n);
    }
    r.data = std::move(data);
    return r;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    r.error = path + ": cannot open";
    return r;
  }
  while (in) {
    in.read(buf, sizeof buf);
    const auto n = static_cast<std::size_t>(in.gcount());
    if (data.size() + n > kMaxInputBytes) {
      r.error = path + ": larger than " + std::to_string(kMaxInputBytes) + " bytes";
      return r;
    }
    data.append(buf, n);
  }
  if (in.bad()) {
    r.error = path + ": read error";
    return r;
  }
  r.data = std::move(data);
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
