// Minimal field reflection: each wire struct lists its fields, in wire order,
// once; the codec, the JSON model and the test generators walk that list, so
// a field is never spelled twice.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

namespace syncsim::protocol {

template <class Owner, class Member>
struct FieldRef {
  using owner_type = Owner;
  using member_type = Member;
  std::string_view name;
  Member Owner::*member;
};

// SYNCSIM_FIELD(Type, member): the field's wire name is its C++ name, which is
// the Rust identifier of the spec (PROTOCOL.md §0.3).
#define SYNCSIM_FIELD(Type, member) \
  ::syncsim::protocol::FieldRef<Type, decltype(Type::member)> { #member, &Type::member }

// A struct is "reflected" when it has a static fields() returning a tuple of
// FieldRef.
template <class T>
concept Reflected = requires {
  T::fields();
};

template <Reflected T>
constexpr std::size_t field_count() {
  return std::tuple_size_v<decltype(T::fields())>;
}

// Calls fn(field_ref) for each field in wire order.
template <Reflected T, class Fn>
constexpr void for_each_field(Fn&& fn) {
  std::apply([&](const auto&... f) { (fn(f), ...); }, T::fields());
}

// An enum variant has a static kTag (the Rust variant name) and fields().
template <class T>
concept EnumVariant = Reflected<T> && requires {
  T::kTag;
};

template <class T>
struct is_variant : std::false_type {};
template <class... Ts>
struct is_variant<std::variant<Ts...>> : std::true_type {};

// The container shapes the wire types use (codec, JSON model).
template <class T>
struct is_std_vector : std::false_type {};
template <class T>
struct is_std_vector<std::vector<T>> : std::true_type {};
template <class T>
struct is_std_map : std::false_type {};
template <class K, class V>
struct is_std_map<std::map<K, V>> : std::true_type {};
template <class T>
struct is_std_optional : std::false_type {};
template <class T>
struct is_std_optional<std::optional<T>> : std::true_type {};

}  // namespace syncsim::protocol
