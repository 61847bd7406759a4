#include "conformance/live/driver_contract.hpp"

#include <charconv>

#include "protocol/json.hpp"

namespace syncsim::conformance {

namespace {

// How many words follow a client step's name on its line.
std::size_t args_of(StepKind k) {
  switch (k) {
    case StepKind::Write: return 3;
    case StepKind::Presence:
    case StepKind::Samples: return 2;
    case StepKind::ApplyRate:
    case StepKind::Unsubscribe: return 1;
    default: return 0;
  }
}

const StepSpec* client_step(std::string_view name) {
  const StepSpec* spec = find_step(name);
  return spec && spec->live == LiveMode::ReferenceClient ? spec : nullptr;
}

std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// A word is printable ASCII without spaces: names travel as they are.
bool word_ok(std::string_view w) {
  if (w.empty()) return false;
  for (const char c : w) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

std::string hex_or_dash(const protocol::Bytes& b) { return b.empty() ? "-" : protocol::to_hex(b); }

}  // namespace

const std::set<std::string>& driver_verb_names() {
  static const std::set<std::string> kNames = [] {
    std::set<std::string> out;
    for (const auto& s : steps()) {
      if (s.live == LiveMode::ReferenceClient) out.emplace(s.name);
    }
    return out;
  }();
  return kNames;
}

std::string_view driver_verb_name(const DriverCommand& c) {
  if (c.verb == DriverVerb::Hello) return "hello";
  if (c.verb == DriverVerb::Quit) return "quit";
  return step(c.step).name;
}

DriverParse parse_driver_line(std::string_view line) {
  DriverParse out;
  if (line.size() > kDriverMaxLine) {
    out.error = "a line of " + std::to_string(line.size()) + " bytes (at most " +
                std::to_string(kDriverMaxLine) + ")";
    return out;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string_view> words;  // at most 5 (no command takes over 3 arguments)
  std::size_t at = 0;
  for (;;) {
    const auto sp = line.find(' ', at);
    if (words.size() == 4 && sp != std::string_view::npos) {
      out.error = "more than 3 arguments (no command takes more)";
      return out;
    }
    words.push_back(line.substr(at, sp == std::string_view::npos ? line.size() - at : sp - at));
    if (sp == std::string_view::npos) break;
    at = sp + 1;
  }
  for (const auto w : words) {
    if (!word_ok(w)) {
      out.error = "an empty word or a control or non-ASCII byte (words are separated by one space)";
      return out;
    }
  }
  DriverCommand c;
  std::size_t args = 0;
  if (words[0] == "hello") {
    c.verb = DriverVerb::Hello;
    args = 1;
  } else if (words[0] == "quit") {
    c.verb = DriverVerb::Quit;
  } else if (const StepSpec* spec = client_step(words[0])) {
    c.verb = DriverVerb::Step;
    c.step = spec->kind;
    args = args_of(spec->kind);
  } else {
    out.error = "unknown command \"" + std::string(words[0].substr(0, 40)) + "\"";
    return out;
  }
  const std::string name(driver_verb_name(c));
  if (words.size() - 1 != args) {
    out.error = name + " takes " + std::to_string(args) + " argument(s), not " +
                std::to_string(words.size() - 1);
    return out;
  }
  const auto want_number = [&](std::string_view w, const char* what) {
    const auto n = number(w);
    if (!n) out.error = name + ": " + what + " is not a number";
    return n.value_or(0);
  };
  const auto want_hex = [&](std::string_view w) {
    if (w == "-") return protocol::Bytes{};
    const auto b = protocol::from_hex(std::string(w));
    if (!b) out.error = name + ": the value is not hex";
    return b.value_or(protocol::Bytes{});
  };
  if (c.verb == DriverVerb::Hello) {
    c.number = want_number(words[1], "the version");
    if (out.error.empty() && c.number != static_cast<std::uint64_t>(kDriverVersion))
      out.error = "hello: version " + std::to_string(c.number) + " (this is version " +
                  std::to_string(kDriverVersion) + ")";
  } else if (c.verb == DriverVerb::Step) {
    switch (c.step) {
      case StepKind::Write:
        c.collection = words[1];
        c.document = words[2];
        c.value = want_hex(words[3]);
        break;
      case StepKind::Presence:
        c.channel = words[1];
        c.value = want_hex(words[2]);
        break;
      case StepKind::Samples:
        c.collection = words[1];
        c.number = want_number(words[2], "the count");
        if (out.error.empty() && c.number > 100'000) out.error = "samples: at most 100000 at once";
        break;
      case StepKind::ApplyRate: c.number = want_number(words[1], "the rate"); break;
      case StepKind::Unsubscribe: c.collection = words[1]; break;
      default: break;
    }
  }
  if (out.error.empty()) out.command = std::move(c);
  return out;
}

std::string driver_line(const DriverCommand& c) {
  std::string line(driver_verb_name(c));
  if (c.verb == DriverVerb::Hello) return line + " " + std::to_string(c.number);
  if (c.verb == DriverVerb::Quit) return line;
  switch (c.step) {
    case StepKind::Write:
      return line + " " + c.collection + " " + c.document + " " + hex_or_dash(c.value);
    case StepKind::Presence: return line + " " + c.channel + " " + hex_or_dash(c.value);
    case StepKind::Samples: return line + " " + c.collection + " " + std::to_string(c.number);
    case StepKind::ApplyRate: return line + " " + std::to_string(c.number);
    case StepKind::Unsubscribe: return line + " " + c.collection;
    default: return line;
  }
}

bool parse_driver_verbs(const std::string& text, std::set<std::string>& verbs, std::string& error) {
  verbs.clear();
  if (text == "none" || text.empty()) return true;
  if (text == "all") {
    verbs = driver_verb_names();
    return true;
  }
  std::size_t at = 0;
  while (at <= text.size()) {
    const auto comma = text.find(',', at);
    const std::string v =
        text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (!driver_verb_names().count(v)) {
      std::string known;
      for (const auto& n : driver_verb_names()) known += (known.empty() ? "" : ", ") + n;
      error =
          "unknown driver command \"" + v + "\" (expected all, none, or some of: " + known + ")";
      return false;
    }
    verbs.insert(v);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return true;
}

}  // namespace syncsim::conformance
