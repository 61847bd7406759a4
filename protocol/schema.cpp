#include "protocol/schema.hpp"

#include <cstdio>
#include <type_traits>

#include "protocol/messages.hpp"
#include "protocol/reflect.hpp"

namespace syncsim::protocol {

namespace {

template <class T>
concept EnumType = is_variant<T>::value;

// Lua type expressions.
template <class T>
std::string lua_type();

template <Reflected T>
std::string lua_fields() {
  std::string out = "{";
  bool first = true;
  for_each_field<T>([&](const auto& f) {
    using F = typename std::decay_t<decltype(f)>::member_type;
    out +=
        std::string(first ? "" : ", ") + "{\"" + std::string(f.name) + "\", " + lua_type<F>() + "}";
    first = false;
  });
  return out + "}";
}

template <class T>
std::string lua_type() {
  if constexpr (std::is_same_v<T, Bytes>) {
    return "\"bin\"";
  } else if constexpr (std::is_same_v<T, bool>) {
    return "\"bool\"";
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    return "\"u\"";
  } else if constexpr (std::is_integral_v<T>) {
    return "\"i\"";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "\"str\"";
  } else if constexpr (is_std_optional<T>::value) {
    return "{opt=" + lua_type<typename T::value_type>() + "}";
  } else if constexpr (is_std_vector<T>::value) {
    return "{vec=" + lua_type<typename T::value_type>() + "}";
  } else if constexpr (is_std_map<T>::value) {
    return "{map={" + lua_type<typename T::key_type>() + ", " +
           lua_type<typename T::mapped_type>() + "}}";
  } else if constexpr (EnumType<T>) {
    std::string out = "{enum={";
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((out += std::string(I ? ", " : "") + "{\"" +
               std::string(std::variant_alternative_t<I, T>::kTag) + "\", " +
               (field_count<std::variant_alternative_t<I, T>>() == 0
                    ? std::string("false")
                    : lua_fields<std::variant_alternative_t<I, T>>()) +
               "}"),
       ...);
    }
    (std::make_index_sequence<std::variant_size_v<T>>{});
    return out + "}}";
  } else {
    static_assert(Reflected<T>, "a wire type the schema does not know");
    return "{struct=" + lua_fields<T>() + "}";
  }
}

// Readable listing. Element<T>: what an Option or a Vec holds, else T.
template <class T>
struct Element {
  using type = T;
};
template <class T>
struct Element<std::optional<T>> {
  using type = T;
};
template <class T>
struct Element<std::vector<T>> {
  using type = T;
};

template <class T>
void text_type(std::string& out, std::string_view name, int depth);

template <Reflected T>
void text_fields(std::string& out, int depth) {
  for_each_field<T>([&](const auto& f) {
    using F = typename std::decay_t<decltype(f)>::member_type;
    text_type<F>(out, f.name, depth);
  });
}

template <class T>
std::string type_word() {
  if constexpr (std::is_same_v<T, Bytes>) {
    return "bytes";
  } else if constexpr (std::is_same_v<T, bool>) {
    return "bool";
  } else if constexpr (std::is_integral_v<T>) {
    return std::string(std::is_unsigned_v<T> ? "u" : "i") + std::to_string(sizeof(T) * 8);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "string";
  } else if constexpr (is_std_optional<T>::value) {
    return "Option<" + type_word<typename T::value_type>() + ">";
  } else if constexpr (is_std_vector<T>::value) {
    return "Vec<" + type_word<typename T::value_type>() + ">";
  } else if constexpr (is_std_map<T>::value) {
    return "Map<" + type_word<typename T::key_type>() + ", " +
           type_word<typename T::mapped_type>() + ">";
  } else if constexpr (EnumType<T>) {
    return "enum";
  } else {
    return "struct";
  }
}

template <class T>
void text_type(std::string& out, std::string_view name, int depth) {
  out += std::string(static_cast<std::size_t>(depth) * 2, ' ') + std::string(name) + ": " +
         type_word<T>() + "\n";
  using Inner = typename Element<T>::type;
  if constexpr (EnumType<Inner>) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((out += std::string(static_cast<std::size_t>(depth + 1) * 2, ' ') + "| " +
               std::string(std::variant_alternative_t<I, Inner>::kTag) + "\n",
        text_fields<std::variant_alternative_t<I, Inner>>(out, depth + 2)),
       ...);
    }
    (std::make_index_sequence<std::variant_size_v<Inner>>{});
  } else if constexpr (Reflected<Inner>) {
    text_fields<Inner>(out, depth + 1);
  }
}

template <class Fn>
void for_each_message(Fn&& fn) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (fn(TypeTag<std::variant_alternative_t<I, Message>>{}), ...);
  }
  (std::make_index_sequence<kMessageTypeCount>{});
}

}  // namespace

std::string lua_schema() {
  std::string out = "local schema = {\n";
  for_each_message([&](auto tag) {
    using T = typename decltype(tag)::type;
    out += "  [" + std::to_string(T::kCode) + "] = {name=\"" +
           std::string(T::kCode == PingPong::kCode ? "Ping/Pong" : T::kName) +
           "\", fields=" + lua_fields<T>() + "},\n";
  });
  return out + "}\n";
}

std::string text_schema() {
  std::string out;
  for_each_message([&](auto tag) {
    using T = typename decltype(tag)::type;
    char code[8];
    std::snprintf(code, sizeof code, "0x%02X", T::kCode);
    out += std::string(T::kCode == PingPong::kCode ? "Ping/Pong" : T::kName) + " (" + code + ")\n";
    text_fields<T>(out, 1);
  });
  return out;
}

}  // namespace syncsim::protocol
