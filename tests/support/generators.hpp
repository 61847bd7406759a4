// RapidCheck generators for every wire type, derived from the same field
// lists the codec walks (reflect.hpp), so a new field is generated for free.
#pragma once

#include <rapidcheck.h>

#include <limits>

#include "protocol/json.hpp"
#include "protocol/messages.hpp"

namespace syncsim::protocol {
// How RapidCheck prints a counterexample: the Appendix D JSON line.
inline void showValue(const Message& m, std::ostream& os) { os << dump_json(message_to_json(m)); }
}  // namespace syncsim::protocol

namespace syncsim::test {

template <class T>
rc::Gen<T> gen_of();

// Boundary values of each integer width, mixed with arbitrary ones, so the
// marker-size edges of §3.2 are hit often.
template <class T>
rc::Gen<T> gen_int() {
  using L = std::numeric_limits<T>;
  std::vector<T> edges = {0, 1, L::max(), static_cast<T>(L::max() - 1)};
  for (long long e : {31LL, 32LL, 127LL, 128LL, 255LL, 256LL, 32767LL, 32768LL, 65535LL, 65536LL,
                      2147483647LL, 2147483648LL, 4294967295LL, 4294967296LL}) {
    if (static_cast<unsigned long long>(e) <= static_cast<unsigned long long>(L::max())) {
      edges.push_back(static_cast<T>(e));
    }
  }
  if constexpr (std::is_signed_v<T>) {
    for (long long e :
         {-1LL, -32LL, -33LL, -128LL, -129LL, -32768LL, -32769LL, -2147483648LL, -2147483649LL}) {
      edges.push_back(static_cast<T>(e));
    }
    edges.push_back(L::min());
  }
  return rc::gen::weightedOneOf<T>({{3, rc::gen::arbitrary<T>()}, {1, rc::gen::elementOf(edges)}});
}

// UTF-8 text from code points in every encoding length (no surrogates).
inline rc::Gen<std::string> gen_utf8() {
  auto cp = rc::gen::weightedOneOf<std::uint32_t>(
      {{6, rc::gen::inRange<std::uint32_t>(0x20, 0x7f)},
       {1, rc::gen::inRange<std::uint32_t>(0, 0x20)},
       {1, rc::gen::inRange<std::uint32_t>(0x80, 0x800)},
       {1, rc::gen::inRange<std::uint32_t>(0x800, 0xd800)},
       {1, rc::gen::inRange<std::uint32_t>(0xe000, 0x10000)},
       {1, rc::gen::inRange<std::uint32_t>(0x10000, 0x110000)}});
  return rc::gen::map(rc::gen::container<std::vector<std::uint32_t>>(cp),
                      [](const std::vector<std::uint32_t>& cps) {
                        std::string s;
                        for (const std::uint32_t c : cps) {
                          if (c < 0x80) {
                            s += static_cast<char>(c);
                          } else if (c < 0x800) {
                            s += static_cast<char>(0xc0 | (c >> 6));
                            s += static_cast<char>(0x80 | (c & 0x3f));
                          } else if (c < 0x10000) {
                            s += static_cast<char>(0xe0 | (c >> 12));
                            s += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
                            s += static_cast<char>(0x80 | (c & 0x3f));
                          } else {
                            s += static_cast<char>(0xf0 | (c >> 18));
                            s += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
                            s += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
                            s += static_cast<char>(0x80 | (c & 0x3f));
                          }
                        }
                        return s;
                      });
}

template <class T>
struct GenOf;

template <class T>
rc::Gen<T> gen_of() {
  return GenOf<T>::make();
}

template <>
struct GenOf<bool> {
  static rc::Gen<bool> make() { return rc::gen::arbitrary<bool>(); }
};
template <class T>
requires std::is_integral_v<T> &&(!std::is_same_v<T, bool>)struct GenOf<T> {
  static rc::Gen<T> make() { return gen_int<T>(); }
};
template <>
struct GenOf<std::string> {
  static rc::Gen<std::string> make() { return gen_utf8(); }
};
template <>
struct GenOf<protocol::Bytes> {
  static rc::Gen<protocol::Bytes> make() { return rc::gen::arbitrary<protocol::Bytes>(); }
};
template <class T>
struct GenOf<std::vector<T>> {
  static rc::Gen<std::vector<T>> make() {
    return rc::gen::resize(12, rc::gen::container<std::vector<T>>(gen_of<T>()));
  }
};
template <class K, class V>
struct GenOf<std::map<K, V>> {
  static rc::Gen<std::map<K, V>> make() {
    return rc::gen::resize(12, rc::gen::container<std::map<K, V>>(gen_of<K>(), gen_of<V>()));
  }
};
template <class T>
struct GenOf<std::optional<T>> {
  static rc::Gen<std::optional<T>> make() {
    return rc::gen::oneOf(rc::gen::just(std::optional<T>{}), rc::gen::map(gen_of<T>(), [](T v) {
                            return std::optional<T>(std::move(v));
                          }));
  }
};
template <protocol::Reflected T>
struct GenOf<T> {
  static rc::Gen<T> make() {
    return rc::gen::exec([] {
      T value{};
      protocol::for_each_field<T>([&](const auto& f) {
        using F = typename std::decay_t<decltype(f)>::member_type;
        value.*(f.member) = *gen_of<F>();
      });
      return value;
    });
  }
};
template <class... Ts>
struct GenOf<std::variant<Ts...>> {
  static rc::Gen<std::variant<Ts...>> make() {
    return rc::gen::oneOf(
        rc::gen::map(gen_of<Ts>(), [](Ts v) { return std::variant<Ts...>(std::move(v)); })...);
  }
};

inline rc::Gen<protocol::Message> gen_message() { return gen_of<protocol::Message>(); }

}  // namespace syncsim::test
