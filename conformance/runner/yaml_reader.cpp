#include "conformance/runner/yaml_reader.hpp"

#include <fstream>

namespace syncsim::conformance::yaml {

FrameFaultSpec read_frame_faults(const YAML::Node& f, const Reader& r) {
  r.keys(f,
         {"drop_ppm", "duplicate_ppm", "reorder_ppm", "corrupt_ppm", "reorder_window_ms", "types",
          "drop_next", "inject_unknown_ppm"},
         "\"frames\"");
  FrameFaultSpec ff;
  opt(r, f, "drop_ppm", ff.drop_ppm, 0u, kPpm);
  opt(r, f, "duplicate_ppm", ff.duplicate_ppm, 0u, kPpm);
  opt(r, f, "reorder_ppm", ff.reorder_ppm, 0u, kPpm);
  opt(r, f, "corrupt_ppm", ff.corrupt_ppm, 0u, kPpm);
  opt(r, f, "reorder_window_ms", ff.reorder_window_ms, 0.0, 60'000.0);
  opt(r, f, "drop_next", ff.drop_next, 0u, 1'000'000u);
  opt(r, f, "inject_unknown_ppm", ff.inject_unknown_ppm, 0u, kPpm);
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
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open";
    return false;
  }
  std::ostringstream s;
  s << in.rdbuf();
  if (s.str().size() > (1u << 20)) {
    error = path + ": larger than 1 MiB";
    return false;
  }
  text = s.str();
  return true;
}

std::string parse_yaml(const std::string& text, const std::string& file,
                       const std::function<void(const YAML::Node&, const Reader&)>& read) {
  try {
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
