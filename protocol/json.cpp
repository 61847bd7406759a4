#include "protocol/json.hpp"

#include <charconv>
#include <limits>

namespace syncsim::protocol {
namespace {

// ---- to JSON ------------------------------------------------------------------

template <class T>
Json to_json(const T& v);

template <Reflected T>
Json fields_to_json(const T& s) {
  Json o = Json::object();
  for_each_field<T>([&](const auto& f) { o[std::string(f.name)] = to_json(s.*(f.member)); });
  return o;
}

template <class T>
Json to_json(const T& v) {
  if constexpr (std::is_same_v<T, Bytes>) {
    return Json{{"hex", to_hex(v)}};
  } else if constexpr (std::is_same_v<T, bool> || std::is_integral_v<T> ||
                       std::is_same_v<T, std::string>) {
    return Json(v);
  } else if constexpr (is_std_optional<T>::value) {
    return v ? to_json(*v) : Json(nullptr);
  } else if constexpr (is_std_vector<T>::value) {
    Json a = Json::array();
    for (const auto& e : v) a.push_back(to_json(e));
    return a;
  } else if constexpr (is_std_map<T>::value) {
    Json o = Json::object();
    for (const auto& [k, val] : v) {
      if constexpr (std::is_same_v<typename T::key_type, std::string>) {
        o[k] = to_json(val);
      } else {
        o[std::to_string(k)] = to_json(val);
      }
    }
    return o;
  } else if constexpr (is_variant<T>::value) {
    return std::visit(
        [](const auto& alt) {
          using A = std::decay_t<decltype(alt)>;
          Json o = Json::object();
          if constexpr (field_count<A>() == 0) {
            o[std::string(A::kTag)] = nullptr;
          } else {
            o[std::string(A::kTag)] = fields_to_json(alt);
          }
          return o;
        },
        v);
  } else {
    return fields_to_json(v);
  }
}

// ---- from JSON ----------------------------------------------------------------

class Reader {
 public:
  std::string error;

  template <class T>
  bool read(const Json& j, T& out, const std::string& path) {
    if constexpr (std::is_same_v<T, bool>) {
      if (!j.is_boolean()) return fail(path, "expected true or false");
      out = j.get<bool>();
      return true;
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      if (j.is_number_unsigned()) {
        if (j.get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          return fail(path, "i64 value above 2^63-1");
        }
        out = static_cast<std::int64_t>(j.get<std::uint64_t>());
        return true;
      }
      if (!j.is_number_integer()) return fail(path, "expected an integer (i64)");
      out = j.get<std::int64_t>();
      return true;
    } else if constexpr (std::is_unsigned_v<T>) {
      constexpr std::uint64_t kMax = std::numeric_limits<T>::max();
      if (!j.is_number_unsigned() || j.get<std::uint64_t>() > kMax) {
        return fail(path, "expected an unsigned integer <= " + std::to_string(kMax));
      }
      out = static_cast<T>(j.get<std::uint64_t>());
      return true;
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!j.is_string()) return fail(path, "expected a string");
      out = j.get<std::string>();
      return true;
    } else if constexpr (std::is_same_v<T, Bytes>) {
      if (!j.is_object() || j.size() != 1 || !j.contains("hex") || !j["hex"].is_string()) {
        return fail(path, "expected {\"hex\": \"<lowercase hex>\"}");
      }
      auto bytes = from_hex(j["hex"].get_ref<const std::string&>());
      if (!bytes) return fail(path + ".hex", "not an even-length hex string");
      out = std::move(*bytes);
      return true;
    } else if constexpr (is_std_optional<T>::value) {
      if (j.is_null()) {
        out.reset();
        return true;
      }
      typename T::value_type inner{};
      if (!read(j, inner, path)) return false;
      out = std::move(inner);
      return true;
    } else if constexpr (is_std_vector<T>::value) {
      if (!j.is_array()) return fail(path, "expected an array");
      out.clear();
      std::size_t k = 0;
      for (const auto& e : j) {
        typename T::value_type v{};
        if (!read(e, v, path + "[" + std::to_string(k++) + "]")) return false;
        out.push_back(std::move(v));
      }
      return true;
    } else if constexpr (is_std_map<T>::value) {
      if (!j.is_object()) return fail(path, "expected an object");
      out.clear();
      for (const auto& [key, val] : j.items()) {
        typename T::key_type k{};
        if constexpr (std::is_same_v<typename T::key_type, std::string>) {
          k = key;
        } else {
          const auto* first = key.data();
          const auto* last = key.data() + key.size();
          auto [p, ec] = std::from_chars(first, last, k);
          if (key.empty() || ec != std::errc{} || p != last) {
            return fail(path, "map key \"" + key + "\" is not a decimal integer");
          }
        }
        typename T::mapped_type v{};
        if (!read(val, v, path + "." + key)) return false;
        out.insert_or_assign(std::move(k), std::move(v));
      }
      return true;
    } else if constexpr (is_variant<T>::value) {
      if (!j.is_object() || j.size() != 1) {
        return fail(path, "expected an object with exactly one variant name as key");
      }
      const std::string& tag = j.begin().key();
      bool matched = false, ok = false;
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((!matched && std::variant_alternative_t<I, T>::kTag == tag
              ? (matched = true, ok = read_variant<std::variant_alternative_t<I, T>>(
                                     j.begin().value(), out, path + "." + tag))
              : false),
         ...);
      }
      (std::make_index_sequence<std::variant_size_v<T>>{});
      if (!matched) return fail(path, "unknown variant \"" + tag + "\"");
      return ok;
    } else {
      return read_fields(j, out, path);
    }
  }

 private:
  bool fail(const std::string& path, const std::string& why) {
    error = path + ": " + why;
    return false;
  }

  template <class A, class V>
  bool read_variant(const Json& j, V& out, const std::string& path) {
    A alt{};
    if constexpr (field_count<A>() == 0) {
      if (!j.is_null()) return fail(path, "unit variant takes null");
    } else {
      if (!read_fields(j, alt, path)) return false;
    }
    out = std::move(alt);
    return true;
  }

  template <Reflected T>
  bool read_fields(const Json& j, T& out, const std::string& path) {
    if (!j.is_object()) return fail(path, "expected an object of fields");
    bool ok = true;
    for_each_field<T>([&](const auto& f) {
      if (!ok) return;
      const std::string name(f.name);
      const auto it = j.find(name);
      if (it == j.end()) {
        ok = fail(path + "." + name, "missing field");
        return;
      }
      ok = read(*it, out.*(f.member), path + "." + name);
    });
    if (!ok) return false;
    for (const auto& item : j.items()) {
      const std::string& key = item.key();  // clang 14 cannot capture a structured binding
      bool known = false;
      for_each_field<T>([&](const auto& f) { known = known || f.name == key; });
      if (!known) return fail(path + "." + key, "not a field of this type");
    }
    return true;
  }
};

}  // namespace

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(bytes.size() * 2, '0');
  for (std::size_t k = 0; k < bytes.size(); ++k) {
    s[2 * k] = kDigits[bytes[k] >> 4];
    s[2 * k + 1] = kDigits[bytes[k] & 0xf];
  }
  return s;
}

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out(hex.size() / 2);
  for (std::size_t k = 0; k < out.size(); ++k) {
    const int hi = nibble(hex[2 * k]), lo = nibble(hex[2 * k + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[k] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

Json body_to_json(const Message& m) {
  return std::visit([](const auto& msg) { return to_json(msg); }, m);
}

Json message_to_json(const Message& m) {
  Json j = Json::object();
  j["msg_type"] = message_code(m);
  j["name"] = std::string(message_name(m));
  j["value"] = body_to_json(m);
  return j;
}

MessageFromJson message_from_json(const Json& j) {
  MessageFromJson out;
  if (!j.is_object()) {
    out.error = "expected an object {\"msg_type\", \"name\", \"value\"}";
    return out;
  }
  const auto type_it = j.find("msg_type");
  if (type_it == j.end() || !type_it->is_number_unsigned() || type_it->get<std::uint64_t>() > 255) {
    out.error = "msg_type: expected an integer 0..255";
    return out;
  }
  const auto code = static_cast<std::uint8_t>(type_it->get<std::uint64_t>());
  const auto value_it = j.find("value");
  if (value_it == j.end()) {
    out.error = "value: missing";
    return out;
  }
  Reader r;
  const bool known = with_message_type(code, [&](auto tag) {
    using M = typename decltype(tag)::type;
    M m{};
    if (r.read(*value_it, m, "value")) out.message = Message{std::move(m)};
  });
  if (!known) {
    out.error = "msg_type: " + std::to_string(code) + " is not one of the 22 message codes";
    return out;
  }
  if (!out.message) {
    out.error = r.error;
    return out;
  }
  const auto name_it = j.find("name");
  if (name_it != j.end()) {
    const std::string_view want = message_name(*out.message);
    if (!name_it->is_string() || name_it->get_ref<const std::string&>() != want) {
      out.error = "name: expected \"" + std::string(want) + "\" for this msg_type and value";
      out.message.reset();
    }
  }
  return out;
}

std::string dump_json(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {
void flatten_into(const Json& j, const std::string& path, std::vector<std::string>& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      flatten_into(it.value(), path.empty() ? it.key() : path + "." + it.key(), out);
  } else if (j.is_array() && !j.empty()) {
    for (std::size_t i = 0; i < j.size(); ++i)
      flatten_into(j[i], path + "[" + std::to_string(i) + "]", out);
  } else {
    out.push_back(path + "=" + dump_json(j));
  }
}
}  // namespace

std::vector<std::string> flatten_json(const Json& j) {
  std::vector<std::string> out;
  flatten_into(j, "", out);
  return out;
}

}  // namespace syncsim::protocol
