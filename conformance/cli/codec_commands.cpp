// `syncsim decode`, `syncsim encode` and `syncsim rules`.
#include <fmt/core.h>

#include <array>
#include <cctype>
#include <memory>
#include <set>

#include "conformance/cli/commands.hpp"
#include "conformance/cli/input.hpp"
#include "protocol/codec.hpp"
#include "protocol/frame_stream.hpp"
#include "protocol/json.hpp"
#include "protocol/rules.hpp"
#include "protocol/validate.hpp"

namespace syncsim::cli {
namespace {

using protocol::Json;

Json findings_json(const protocol::Findings& findings) {
  Json a = Json::array();
  for (const auto& f : findings) {
    a.push_back(Json{{"rule", std::string(f.rule)},
                     {"level", std::string(protocol::level_name(f.level))},
                     {"problem", std::string(protocol::problem_name(f.problem))},
                     {"offset", f.offset},
                     {"message", f.message}});
  }
  return a;
}

struct DecodeOptions {
  std::string input;
  std::string format = "auto";
  std::string sender = "unknown";
  bool summary = false;
  bool no_validate = false;
  bool flat = false;
  bool message = false;  // the input is one WebSocket message: one frame (FRAME-4/5/6)
};

// Tallies for the summary and the exit code.
struct Tally {
  std::size_t frames = 0, clean = 0, with_should = 0, value_violations = 0, invalid = 0;
  std::size_t mismatches = 0;
  std::set<std::uint8_t> codes;
};

class Decoder {
 public:
  explicit Decoder(const DecodeOptions& o) : o_(o) {
    if (o.sender == "client") sender_ = protocol::Sender::Client;
    if (o.sender == "server") sender_ = protocol::Sender::Server;
  }

  // Judges one decoded frame; prints its JSON line unless in summary mode.
  // Returns the frame's findings (encoding and, unless disabled, values).
  protocol::Findings judge(protocol::DecodedFrame& f, const std::string& label) {
    ++t_.frames;
    const bool encoding_must = protocol::has_must(f.findings);
    if (f.message) {
      t_.codes.insert(f.msg_type);
      if (!o_.no_validate) protocol::validate(*f.message, sender_, f.findings, f.offset);
    }
    if (!f.message || encoding_must) {
      ++t_.invalid;
    } else if (protocol::has_must(f.findings)) {
      ++t_.value_violations;
    } else if (!f.findings.empty()) {
      ++t_.with_should;
    } else {
      ++t_.clean;
    }
    for (const auto& finding : f.findings) {
      if (finding.level == protocol::Level::Must) {
        fmt::print(stderr, "syncsim decode: {}{}\n", label, protocol::format_finding(finding));
      }
    }
    if (!o_.summary) {
      Json line;
      if (f.message) {
        line = protocol::message_to_json(*f.message);
      } else {
        line = Json{{"msg_type", f.msg_type}, {"name", nullptr}, {"value", nullptr}};
      }
      if (!f.findings.empty()) {
        line["offset"] = f.offset;
        line["findings"] = findings_json(f.findings);
      }
      if (o_.flat) {
        for (const auto& leaf : protocol::flatten_json(line)) fmt::print("{}\n", leaf);
      } else {
        fmt::print("{}\n", protocol::dump_json(line));
      }
    }
    return f.findings;
  }

  // Prints the --summary table's header (JSON lines input).
  void summary_header() {
    if (o_.summary) {
      fmt::print("  {:<22} {:>8}  {:<18} {:>6}  {}\n", "id", "msg_type", "name", "bytes", "result");
    }
  }

  // One JSON line with "frame_hex" (golden.jsonl form): one frame, checked
  // against its listed value when it has one. False on invalid input.
  bool jsonl_line(const Line& line) {
    const std::string where = o_.input + ":" + std::to_string(line.number) + ": ";
    const Json j = Json::parse(line.text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      fmt::print(stderr, "syncsim decode: {}not a JSON object\n", where);
      return false;
    }
    const auto hex_it = j.find("frame_hex");
    if (hex_it == j.end() || !hex_it->is_string()) {
      fmt::print(stderr, "syncsim decode: {}no \"frame_hex\" string\n", where);
      return false;
    }
    const auto bytes = protocol::from_hex(hex_it->get_ref<const std::string&>());
    if (!bytes) {
      fmt::print(stderr, "syncsim decode: {}frame_hex is not even-length hex\n", where);
      return false;
    }
    auto f = protocol::decode_frame(*bytes);
    const auto findings = judge(f, where);
    std::string result = findings.empty() ? "ok" : !f.message ? "INVALID" : rules_broken(findings);
    if (f.message && j.contains("value")) compare_listed(j, f, *bytes, where, result);
    if (o_.summary) {
      const std::string id = j.contains("id") && j["id"].is_string()
                                 ? j["id"].get<std::string>()
                                 : "line " + std::to_string(line.number);
      const std::string name = f.message ? std::string(protocol::message_name(*f.message)) : "-";
      fmt::print("  {:<22}     0x{:02x}  {:<18} {:>6}  {}\n", id, f.msg_type, name, bytes->size(),
                 result);
    }
    return true;
  }

  int finish() {
    if (o_.summary) {
      fmt::print(
          "{} frames: {} conforming, {} with SHOULD findings, {} breaking value rules, {} invalid",
          t_.frames, t_.clean, t_.with_should, t_.value_violations, t_.invalid);
      if (t_.mismatches > 0) fmt::print(", {} golden MISMATCHES", t_.mismatches);
      fmt::print("; {}/{} message codes seen\n", t_.codes.size(), protocol::kMessageTypeCount);
    }
    if (t_.invalid > 0) return kExitInvalid;
    if (t_.mismatches > 0 || t_.value_violations > 0) return kExitFindings;
    return kExitOk;
  }

 private:
  // The rules a frame breaks, MUST ones first.
  static std::string rules_broken(const protocol::Findings& findings) {
    std::string result;
    for (const auto level : {protocol::Level::Must, protocol::Level::Should}) {
      for (const auto& x : findings) {
        if (x.level != level) continue;
        if (!result.empty()) result += ", ";
        result += fmt::format("{} {}", x.rule, protocol::level_name(x.level));
      }
    }
    return result;
  }

  void compare_listed(const Json& j, const protocol::DecodedFrame& f, const protocol::Bytes& bytes,
                      const std::string& where, std::string& result) {
    const auto listed = protocol::message_from_json(j);
    const bool same_value = listed.message && *listed.message == *f.message;
    // A frame with an encoding finding (ENC-12 non-minimal header, an
    // unsorted map...) cannot re-encode to itself; its value must still match.
    const bool canonical = f.findings.empty();
    const bool same_bytes = !canonical || protocol::encode_frame(*f.message) == bytes;
    if (!same_value || !same_bytes) {
      ++t_.mismatches;
      result = !same_value ? "MISMATCH: decoded value differs from the listed value"
                           : "MISMATCH: re-encoding differs from frame_hex";
      fmt::print(stderr, "syncsim decode: {}{}\n", where, result);
    } else if (f.findings.empty()) {
      result = "ok: value matches, re-encodes byte-exact";
    }
  }

  const DecodeOptions& o_;
  protocol::Sender sender_ = protocol::Sender::Unknown;
  Tally t_;
};

// The largest input --message takes: tungstenite's 64 MiB message bound (§2.3).
constexpr std::size_t kMaxMessageBytes = 64u * 1024 * 1024;
// The longest JSON line: a 16 MiB frame as hex, with room for its value.
constexpr std::size_t kMaxJsonLineBytes = 96u * 1024 * 1024;

// Hex text arriving in pieces, turned into bytes; whitespace is skipped.
class HexText {
 public:
  // Appends the bytes of `text` to out; false (with error set) on a non-hex character.
  bool convert(std::string_view text, protocol::Bytes& out) {
    for (const char c : text) {
      ++position_;
      if (std::isspace(static_cast<unsigned char>(c))) continue;
      const int v = digit(c);
      if (v < 0) {
        error = fmt::format("character {} ('{}') is not a hex digit", position_,
                            std::isprint(static_cast<unsigned char>(c))
                                ? std::string(1, c)
                                : fmt::format("\\x{:02x}", static_cast<unsigned char>(c)));
        return false;
      }
      if (high_ < 0) {
        high_ = v;
      } else {
        out.push_back(static_cast<std::uint8_t>(high_ << 4 | v));
        high_ = -1;
      }
    }
    return true;
  }
  bool odd() const { return high_ >= 0; }
  std::string error;

 private:
  static int digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  int high_ = -1;
  std::uint64_t position_ = 0;
};

std::string detect_format(std::string_view first_chunk) {
  const auto first = first_chunk.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && first_chunk[first] == '{') return "jsonl";
  return looks_like_hex(std::string(first_chunk)) ? "hex" : "binary";
}

// Feeds the input, chunk by chunk, to the Decoder in the input's format.
// Memory is bounded by one frame (FRAME-9), one JSON line or one message.
class DecodeSession {
 public:
  DecodeSession(const DecodeOptions& o, Decoder& d) : o_(o), d_(d) {}

  // False stops reading: invalid input (reported) or a closed stream.
  bool chunk(std::string_view text) {
    if (format_.empty()) start(text);
    if (format_ == "jsonl") return jsonl_chunk(text);
    if (format_ == "hex") {
      scratch_.clear();
      if (!hex_.convert(text, scratch_)) return fail(hex_.error);
      return bytes(scratch_);
    }
    return bytes(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }

  int end() {
    if (failed_) return kExitInvalid;
    if (format_ == "jsonl" && !pending_.empty()) {
      if (!jsonl_line(pending_)) return kExitInvalid;
    }
    if (format_ == "hex" && hex_.odd()) return fail("an odd number of hex digits"), kExitInvalid;
    if (o_.message) {
      auto f = protocol::decode_frame(message_);
      d_.judge(f, "");
    } else {
      protocol::decode_end(stream_, [this](protocol::DecodedFrame&& f) { d_.judge(f, ""); });
    }
    return d_.finish();
  }

 private:
  void start(std::string_view first) {
    format_ = o_.format == "auto" ? detect_format(first) : o_.format;
    if (o_.summary)
      fmt::print("syncsim decode: {} ({}{})\n", o_.input == "-" ? "stdin" : o_.input, format_,
                 o_.message ? ", one WebSocket message" : "");
    if (format_ == "jsonl") d_.summary_header();
  }

  bool fail(const std::string& why) {
    fmt::print(stderr, "syncsim decode: {}: {}\n", o_.input == "-" ? "stdin" : o_.input, why);
    failed_ = true;
    return false;
  }

  bool bytes(std::span<const std::uint8_t> b) {
    if (o_.message) {
      if (message_.size() + b.size() > kMaxMessageBytes)
        return fail(
            fmt::format("a WebSocket message is at most {} bytes (§2.3)", kMaxMessageBytes));
      message_.insert(message_.end(), b.begin(), b.end());
      return true;
    }
    protocol::decode_chunk(stream_, b, {}, [this](protocol::DecodedFrame&& f) { d_.judge(f, ""); });
    return !stream_.closed();
  }

  bool jsonl_chunk(std::string_view text) {
    for (;;) {
      const auto nl = text.find('\n');
      const auto piece = text.substr(0, nl);
      if (pending_.size() + piece.size() > kMaxJsonLineBytes)
        return fail(fmt::format("line {}: longer than {} bytes", line_ + 1, kMaxJsonLineBytes));
      pending_.append(piece);
      if (nl == std::string_view::npos) return true;
      if (!jsonl_line(pending_)) return false;
      pending_.clear();
      text.remove_prefix(nl + 1);
    }
  }

  bool jsonl_line(std::string& text) {
    ++line_;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos || text[first] == '#') return true;
    if (!d_.jsonl_line(Line{line_, text})) return failed_ = true, false;
    return true;
  }

  const DecodeOptions& o_;
  Decoder& d_;
  std::string format_;
  protocol::FrameStream stream_;
  HexText hex_;
  protocol::Bytes scratch_, message_;
  std::string pending_;
  std::size_t line_ = 0;
  bool failed_ = false;
};

int run_decode(const DecodeOptions& o) {
  Decoder d(o);
  DecodeSession session(o, d);
  const PathKind kind = o.input == "-" ? PathKind::Other : path_kind(o.input);
  if (o.input != "-" && kind == PathKind::Missing) {
    // Not a file: the argument itself is the frame, as hex.
    if (!looks_like_hex(o.input) || (o.format != "auto" && o.format != "hex")) {
      const std::string shown = o.input.size() > 40 ? o.input.substr(0, 40) + "..." : o.input;
      fmt::print(stderr, "syncsim decode: '{}' is neither a file nor hex frame bytes\n", shown);
      return kExitInvalid;
    }
    DecodeOptions as_hex = o;
    as_hex.format = "hex";
    DecodeSession hex_session(as_hex, d);
    hex_session.chunk(o.input);
    return hex_session.end();
  }
  const std::string error =
      read_chunks(o.input, [&session](std::string_view chunk) { return session.chunk(chunk); });
  if (!error.empty()) {
    fmt::print(stderr, "syncsim decode: {}\n", error);
    return kExitInvalid;
  }
  return session.end();
}

struct EncodeOptions {
  std::string input = "-";
  bool check = false;
  bool binary = false;
};

int run_encode(const EncodeOptions& o) {
  auto r = read_input(o.input);
  if (!r.data) {
    fmt::print(stderr, "syncsim encode: {}\n", r.error);
    return kExitInvalid;
  }
  const std::string name = o.input == "-" ? "stdin" : o.input;
  std::size_t mismatches = 0;
  for (const auto& line : content_lines(*r.data)) {
    const std::string where = name + ":" + std::to_string(line.number);
    const Json j = Json::parse(line.text, nullptr, false);
    if (j.is_discarded()) {
      fmt::print(stderr, "syncsim encode: {}: not valid JSON\n", where);
      return kExitInvalid;
    }
    const auto m = protocol::message_from_json(j);
    if (!m.message) {
      fmt::print(stderr, "syncsim encode: {}: {}\n", where, m.error);
      return kExitInvalid;
    }
    const auto frame = protocol::encode_frame(*m.message);
    if (frame.size() > protocol::kMaxFrameSize) {
      fmt::print(stderr, "syncsim encode: {}: FRAME-9: frame of {} bytes exceeds 16 MiB\n", where,
                 frame.size());
      return kExitInvalid;
    }
    if (o.binary) {
      std::fwrite(frame.data(), 1, frame.size(), stdout);
    } else {
      fmt::print("{}\n", protocol::to_hex(frame));
    }
    if (o.check && j.contains("frame_hex") && j["frame_hex"].is_string()) {
      const std::string hex = protocol::to_hex(frame);
      if (hex != j["frame_hex"].get<std::string>()) {
        ++mismatches;
        fmt::print(stderr, "syncsim encode: {}: MISMATCH\n  expected {}\n  produced {}\n", where,
                   j["frame_hex"].get<std::string>(), hex);
      }
    }
  }
  return mismatches > 0 ? kExitFindings : kExitOk;
}

}  // namespace

Runner add_decode_command(CLI::App& app) {
  auto o = std::make_shared<DecodeOptions>();
  auto* cmd = app.add_subcommand(
      "decode",
      "Decode frames and print each as one JSON line (PROTOCOL.md Appendix D).\n\n"
      "INPUT is hex frame bytes, a file, or '-' for stdin. A file may hold\n"
      "concatenated binary frames, hex text, or JSON lines with \"frame_hex\"\n"
      "(golden.jsonl form: each line is one frame, as a WebSocket message, and\n"
      "its value is checked against the frame).\n"
      "Hex or binary input is a TCP byte stream of frames back to back (FRAME-8):\n"
      "bytes after a frame start the next one. With --message it is one\n"
      "WebSocket message instead, which carries exactly one frame: bytes after\n"
      "it are a FRAME-6 finding, a short message FRAME-1/FRAME-5.\n"
      "Files of any size are read in pieces; memory is bounded by one frame.\n"
      "Findings (rule ID, level, byte offset) are added to the frame's line;\n"
      "MUST findings are also printed to stderr.\n\n"
      "Examples:\n"
      "  syncsim decode ff0500000092cd3039c2\n"
      "  syncsim decode capture.bin --sender client\n"
      "  syncsim decode --summary tests/vectors/golden.jsonl\n"
      "  syncsim decode --flat ff0500000092cd3039c2\n"
      "  syncsim decode --message ff0500000092cd3039c2deadbe   # FRAME-6\n"
      "  syncsim decode --summary tests/vectors/noncanonical.jsonl\n\n"
      "Exit: 0 all frames valid, 1 value-constraint violations or golden\n"
      "mismatch, 2 a frame is invalid (framing or encoding) or bad input.");
  cmd->add_option("INPUT", o->input, "hex bytes, a file, or - for stdin")->required();
  cmd->add_option("--input-format", o->format, "how to read a file")
      ->check(CLI::IsMember({"auto", "binary", "hex", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("--sender", o->sender, "who sent the frames, for direction rules (FRAME-11)")
      ->check(CLI::IsMember({"client", "server", "unknown"}))
      ->capture_default_str();
  cmd->add_flag("--summary", o->summary, "print a table and totals instead of JSON lines");
  cmd->add_flag("--flat", o->flat,
                "one line per field, path=value (msg_type=16, value.collection=\"orders\"),\n"
                "as the Wireshark dissector in wireshark/ shows them");
  cmd->add_flag("--message", o->message,
                "the input is one WebSocket message holding one frame (FRAME-4/5/6),\n"
                "not a TCP stream of frames");
  cmd->add_flag("--no-validate", o->no_validate,
                "skip per-frame value constraints; judge framing and encoding only");
  return [o] { return run_decode(*o); };
}

Runner add_encode_command(CLI::App& app) {
  auto o = std::make_shared<EncodeOptions>();
  auto* cmd = app.add_subcommand(
      "encode",
      "Encode JSON lines {\"msg_type\", \"name\", \"value\"} (Appendix D) into\n"
      "canonical frames, printed as one lowercase hex line each.\n\n"
      "Examples:\n"
      "  echo '{\"msg_type\":255,\"value\":{\"timestamp_ms\":1,\"is_pong\":true}}' | syncsim "
      "encode\n"
      "  syncsim encode --check tests/vectors/golden.jsonl\n\n"
      "Exit: 0 ok, 1 --check found a frame_hex mismatch, 2 invalid input\n"
      "(the error names file:line and the JSON path).");
  cmd->add_option("INPUT", o->input, "JSON lines file, or - for stdin")->capture_default_str();
  cmd->add_flag("--check", o->check, "compare each frame with the line's frame_hex");
  cmd->add_flag("--binary", o->binary, "write raw frame bytes to stdout instead of hex");
  return [o] { return run_encode(*o); };
}

}  // namespace syncsim::cli
