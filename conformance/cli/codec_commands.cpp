// `syncsim decode`, `syncsim encode` and `syncsim rules`.
#include <fmt/core.h>

#include <array>
#include <filesystem>
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

  int run_bytes(std::span<const std::uint8_t> bytes) {
    auto frames = protocol::decode_stream(bytes);
    for (auto& f : frames) judge(f, "");
    return finish();
  }

  // JSON lines with "frame_hex" (golden.jsonl form): each line is one frame,
  // checked against its listed value when it has one.
  int run_jsonl(const std::string& text) {
    const auto lines = content_lines(text);
    if (o_.summary) {
      fmt::print("  {:<22} {:>8}  {:<18} {:>6}  {}\n", "id", "msg_type", "name", "bytes", "result");
    }
    for (const auto& line : lines) {
      const std::string where = o_.input + ":" + std::to_string(line.number) + ": ";
      const Json j = Json::parse(line.text, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        fmt::print(stderr, "syncsim decode: {}not a JSON object\n", where);
        return kExitInvalid;
      }
      const auto hex_it = j.find("frame_hex");
      if (hex_it == j.end() || !hex_it->is_string()) {
        fmt::print(stderr, "syncsim decode: {}no \"frame_hex\" string\n", where);
        return kExitInvalid;
      }
      const auto bytes = protocol::from_hex(hex_it->get_ref<const std::string&>());
      if (!bytes) {
        fmt::print(stderr, "syncsim decode: {}frame_hex is not even-length hex\n", where);
        return kExitInvalid;
      }
      auto f = protocol::decode_frame(*bytes);
      const auto findings = judge(f, where);
      std::string result = findings.empty() ? "ok" : !f.message ? "INVALID" : "";
      if (result.empty()) {
        // List the rules the frame breaks, MUST ones first.
        for (const auto level : {protocol::Level::Must, protocol::Level::Should}) {
          for (const auto& x : findings) {
            if (x.level != level) continue;
            if (!result.empty()) result += ", ";
            result += fmt::format("{} {}", x.rule, protocol::level_name(x.level));
          }
        }
      }
      if (f.message && j.contains("value")) {
        const auto listed = protocol::message_from_json(j);
        const bool same_value = listed.message && *listed.message == *f.message;
        const bool same_bytes = protocol::encode_frame(*f.message) == *bytes;
        if (!same_value || !same_bytes) {
          ++t_.mismatches;
          result = !same_value ? "MISMATCH: decoded value differs from the listed value"
                               : "MISMATCH: re-encoding differs from frame_hex";
          fmt::print(stderr, "syncsim decode: {}{}\n", where, result);
        } else if (findings.empty()) {
          result = "ok: value matches, re-encodes byte-exact";
        }
      }
      if (o_.summary) {
        const std::string id = j.contains("id") && j["id"].is_string()
                                   ? j["id"].get<std::string>()
                                   : "line " + std::to_string(line.number);
        const std::string name = f.message ? std::string(protocol::message_name(*f.message)) : "-";
        fmt::print("  {:<22}     0x{:02x}  {:<18} {:>6}  {}\n", id, f.msg_type, name, bytes->size(),
                   result);
      }
    }
    return finish();
  }

 private:
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

  const DecodeOptions& o_;
  protocol::Sender sender_ = protocol::Sender::Unknown;
  Tally t_;
};

int run_decode(const DecodeOptions& o) {
  std::string format = o.format;
  std::string text;
  const bool is_file = o.input == "-" || std::filesystem::is_regular_file(o.input);
  if (is_file) {
    auto r = read_input(o.input);
    if (!r.data) {
      fmt::print(stderr, "syncsim decode: {}\n", r.error);
      return kExitInvalid;
    }
    text = std::move(*r.data);
    if (format == "auto") {
      const auto first = text.find_first_not_of(" \t\r\n");
      if (first != std::string::npos && text[first] == '{') {
        format = "jsonl";
      } else if (looks_like_hex(text)) {
        format = "hex";
      } else {
        format = "binary";
      }
    }
  } else {
    if (format != "auto" && format != "hex") {
      fmt::print(stderr, "syncsim decode: {}: no such file\n", o.input);
      return kExitInvalid;
    }
    if (!looks_like_hex(o.input)) {
      fmt::print(stderr, "syncsim decode: '{}' is neither a file nor hex frame bytes\n", o.input);
      return kExitInvalid;
    }
    text = o.input;
    format = "hex";
  }
  if (o.summary)
    fmt::print("syncsim decode: {} ({})\n", o.input == "-" ? "stdin" : o.input, format);
  Decoder d(o);
  if (format == "jsonl") return d.run_jsonl(text);
  if (format == "hex") {
    const auto bytes = parse_hex_text(text);
    if (!bytes) {
      fmt::print(stderr, "syncsim decode: input is not an even number of hex digits\n");
      return kExitInvalid;
    }
    return d.run_bytes(*bytes);
  }
  const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
  return d.run_bytes(std::span<const std::uint8_t>(p, text.size()));
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
      "(golden.jsonl form; each line's value is checked against the frame).\n"
      "Findings (rule ID, level, byte offset) are added to the frame's line;\n"
      "MUST findings are also printed to stderr.\n\n"
      "Examples:\n"
      "  syncsim decode ff0500000092cd3039c2\n"
      "  syncsim decode capture.bin --sender client\n"
      "  syncsim decode --summary tests/vectors/golden.jsonl\n"
      "  syncsim decode --flat ff0500000092cd3039c2\n\n"
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
