#include "conformance/runner/yaml_reader.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "protocol/utf8.hpp"

namespace syncsim::conformance::yaml {

FrameFaultSpec read_frame_faults(const YAML::Node& f, const Reader& r) {
  r.keys(f,
         {"drop_ppm", "duplicate_ppm", "reorder_ppm", "corrupt_ppm", "reorder_window_ms", "types",
          "drop_next", "inject_unknown_ppm", "inject_undecodable_ppm"},
         "\"frames\"");
  FrameFaultSpec ff;
  opt(r, f, "drop_ppm", ff.drop_ppm, 0u, kPpm);
  opt(r, f, "duplicate_ppm", ff.duplicate_ppm, 0u, kPpm);
  opt(r, f, "reorder_ppm", ff.reorder_ppm, 0u, kPpm);
  opt(r, f, "corrupt_ppm", ff.corrupt_ppm, 0u, kPpm);
  opt(r, f, "reorder_window_ms", ff.reorder_window_ms, 0.0, 60'000.0);
  opt(r, f, "drop_next", ff.drop_next, 0u, 1'000'000u);
  opt(r, f, "inject_unknown_ppm", ff.inject_unknown_ppm, 0u, kPpm);
  opt(r, f, "inject_undecodable_ppm", ff.inject_undecodable_ppm, 0u, kPpm);
  if (f["types"]) {
    ff.types = r.strings(f["types"], "\"types\"");
    for (const auto& t : ff.types) {
      if (!message_names().count(t))
        r.fail(f["types"],
               "unknown message \"" + t + "\" (expected one of: " + joined(message_names()) + ")");
    }
  }
  return ff;
}

bool read_text_file(const std::string& path, std::string& text, std::string& error) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    error = path + ": no such file";
    return false;
  }
  if (std::filesystem::is_directory(st)) {
    error = path + ": is a directory, not a YAML file";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open";
    return false;
  }
  // Read at most one byte past the limit: a huge file is refused, not loaded.
  // The buffer is the file's size (from status, one byte over the limit at
  // most), not the limit: zeroing a MiB per file was 2.6 % of a sweep.
  constexpr std::size_t kMaxYamlBytes = 1u << 20;
  const auto size = std::filesystem::file_size(path, ec);
  std::string data(ec ? kMaxYamlBytes + 1 : std::min<std::uintmax_t>(size + 1, kMaxYamlBytes + 1),
                   '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) {
    error = path + ": read error";
    return false;
  }
  if (data.size() > kMaxYamlBytes) {
    error = path + ": larger than 1 MiB";
    return false;
  }
  text = std::move(data);
  return true;
}

namespace {

// Walks the parser's events before anything is built, refusing aliases (an
// alias bomb turns a few lines into billions of nodes for any code that walks
// the tree; no syncsim file needs them) and bounding the node count.
class EventScreen : public YAML::EventHandler {
 public:
  static constexpr std::size_t kMaxNodes = 200'000;
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { count(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override {
    throw YAML::ParserException(m, "YAML aliases (*name) are not supported in syncsim files");
  }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string& value) override {
    count(m);
    if (!protocol::is_valid_utf8(value)) throw YAML::ParserException(m, "invalid UTF-8 in a value");
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    count(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    count(m);
  }
  void OnMapEnd() override {}

 private:
  void count(const YAML::Mark& m) {
    if (++nodes_ > kMaxNodes)
      throw YAML::ParserException(m, "more than " + std::to_string(kMaxNodes) + " YAML nodes");
  }
  std::size_t nodes_ = 0;
};

void screen_events(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  EventScreen screen;
  while (parser.HandleNextDocument(screen)) {
  }
}

}  // namespace

std::string parse_yaml(const std::string& text, const std::string& file,
                       const std::function<void(const YAML::Node&, const Reader&)>& read) {
  try {
    screen_events(text);
    const YAML::Node root = YAML::Load(text);
    read(root, Reader(file));
  } catch (const ParseError& e) {
    return e.message;
  } catch (const YAML::Exception& e) {
    return file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
           ": " + e.msg;
  }
  return "";
}

}  // namespace syncsim::conformance::yaml
