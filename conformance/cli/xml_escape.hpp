// Text for XML attributes and elements (JUnit reports): markup characters
// escaped, control characters other than newline and tab dropped.
#pragma once

#include <string>
#include <string_view>

namespace syncsim::cli {

inline std::string xml_escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') out += c;
    }
  }
  return out;
}

}  // namespace syncsim::cli
