// Shared helpers for the test suites: files, hex, golden vectors.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/json.hpp"

namespace syncsim::test {

// Reads a whole file; nullopt when it cannot be opened.
std::optional<std::string> read_file(const std::string& path);

std::string source_path(const std::string& relative);  // under the checkout
std::string spec_path(const std::string& relative);    // under ../shared/spec

// Every non-empty line of a JSON-lines file, parsed.
std::vector<protocol::Json> read_jsonl(const std::string& text);

// The JSON lines of PROTOCOL.md Appendix E (between its ``` fences).
std::vector<protocol::Json> appendix_e_lines(const std::string& protocol_md);

protocol::Bytes hex(std::string_view h);  // aborts the test on bad hex

// FRAME-9's boundary: N of the largest frame (16 MiB with its header).
inline constexpr std::uint32_t kLargestBody = 16'777'211;
// A frame of the unknown code 0x99 declaring an n-byte body; the body is
// included when `whole`, otherwise only the header.
protocol::Bytes unknown_frame(std::uint32_t n, bool whole = true);

// True when some finding has this rule at MUST level.
bool has_must_rule(const protocol::Findings& f, std::string_view rule);
bool has_rule(const protocol::Findings& f, std::string_view rule, protocol::Level level);

// How many seeds a many-seed test runs: `full`, or a twentieth of it when
// SYNCSIM_QUICK is set (sanitizer builds).
std::uint64_t seed_count(std::uint64_t full);

// Findings as text, for failure messages.
std::string describe(const protocol::Findings& f);

}  // namespace syncsim::test
