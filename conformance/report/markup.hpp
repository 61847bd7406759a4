// Text for XML and HTML, attributes and elements alike (JUnit and HTML
// reports): markup characters escaped, control characters other than
// newline and tab dropped (XML 1.0 cannot carry them).
#pragma once

#include <string>
#include <string_view>

namespace syncsim::conformance::report {

inline std::string escape_markup(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') out += c;
    }
  }
  return out;
}

}  // namespace syncsim::conformance::report
