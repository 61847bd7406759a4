#include "protocol/codec.hpp"

#include <array>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <msgpack.hpp>
#include <utility>

#include "protocol/msgpack_reader.hpp"
#include "protocol/utf8.hpp"

namespace syncsim::protocol {
namespace {

// ===========================================================================
// Encoding: msgpack-cxx's packer for every form it writes the zerompk way
// (unsigned ints, str, bin, array, map, nil, bool); i64 by hand (§3.2 warning).
// ===========================================================================

struct BytesWriter {
  Bytes& out;
  // As bytes: a char range into a uint8_t vector would be copied element by element.
  void write(const char* p, std::size_t n) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
};

template <class T>
concept EnumType = is_variant<T>::value && !std::is_same_v<T, Message>;

class Encoder {
 public:
  explicit Encoder(Bytes& out) : writer_{out}, pk_(writer_) {}

  void put(bool v) { v ? pk_.pack_true() : pk_.pack_false(); }
  void put(std::uint16_t v) { pk_.pack_uint16(v); }
  void put(std::uint32_t v) { pk_.pack_uint32(v); }
  void put(std::uint64_t v) { pk_.pack_uint64(v); }
  void put(std::int64_t v) { put_i64(v); }
  void put(const std::string& v) {
    const auto n = static_cast<std::uint32_t>(v.size());
    pk_.pack_str(n);
    pk_.pack_str_body(v.data(), n);
  }
  void put(const Bytes& v) {
    const auto n = static_cast<std::uint32_t>(v.size());
    pk_.pack_bin(n);
    pk_.pack_bin_body(reinterpret_cast<const char*>(v.data()), n);
  }
  template <class T>
  void put(const std::vector<T>& v) {
    pk_.pack_array(static_cast<std::uint32_t>(v.size()));
    for (const auto& e : v) put(e);
  }
  template <class K, class V>
  void put(const std::map<K, V>& m) {
    pk_.pack_map(static_cast<std::uint32_t>(m.size()));
    for (const auto& [k, v] : m) {  // std::map iterates sorted: canonical (§3.7)
      put(k);
      put(v);
    }
  }
  template <class T>
  void put(const std::optional<T>& v) {
    if (v) {
      put(*v);
    } else {
      pk_.pack_nil();
    }
  }
  template <Reflected T>
  requires(!EnumVariant<T>) void put(const T& s) { put_fields(s); }
  template <EnumType V>
  void put(const V& v) {
    std::visit(
        [&](const auto& alt) {
          using A = std::decay_t<decltype(alt)>;
          pk_.pack_array(2);
          pk_.pack_str(static_cast<std::uint32_t>(A::kTag.size()));
          pk_.pack_str_body(A::kTag.data(), static_cast<std::uint32_t>(A::kTag.size()));
          if constexpr (field_count<A>() == 0) {
            pk_.pack_nil();
          } else {
            put_fields(alt);
          }
        },
        v);
  }

 private:
  template <Reflected T>
  void put_fields(const T& s) {
    pk_.pack_array(static_cast<std::uint32_t>(field_count<T>()));
    for_each_field<T>([&](const auto& f) { put(s.*(f.member)); });
  }

  void put_i64(std::int64_t v) {
    auto be = [&](std::uint8_t marker, std::uint64_t bits, int n) {
      std::array<char, 9> b{};
      b[0] = static_cast<char>(marker);
      for (int k = 0; k < n; ++k) b[1 + k] = static_cast<char>(bits >> (8 * (n - 1 - k)));
      writer_.write(b.data(), static_cast<std::size_t>(1 + n));
    };
    const auto bits = static_cast<std::uint64_t>(v);
    if (v >= -32 && v <= 127) {
      const char c = static_cast<char>(static_cast<std::uint8_t>(bits));
      writer_.write(&c, 1);  // positive or negative fixint
    } else if (v >= -128 && v < 0) {
      be(0xd0, bits, 1);
    } else if (v >= -32768 && v <= 32767) {
      be(0xd1, bits, 2);
    } else if (v >= std::numeric_limits<std::int32_t>::min() &&
               v <= std::numeric_limits<std::int32_t>::max()) {
      be(0xd2, bits, 4);
    } else {
      be(0xd3, bits, 8);
    }
  }

  BytesWriter writer_;
  msgpack::packer<BytesWriter> pk_;
};

// ===========================================================================
// Decoding (§3.6 – §3.8).
// ===========================================================================

std::string hex2(std::uint8_t b) {
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02x", b);
  return buf;
}

std::string_view family_name(MpFamily f) {
  switch (f) {
    case MpFamily::Nil: return "nil";
    case MpFamily::Bool: return "bool";
    case MpFamily::Uint: return "unsigned int";
    case MpFamily::Int: return "signed int";
    case MpFamily::Float: return "float";
    case MpFamily::Str: return "str";
    case MpFamily::Bin: return "bin";
    case MpFamily::Array: return "array";
    case MpFamily::Map: return "map";
    case MpFamily::Ext: return "ext";
    case MpFamily::Never: return "reserved marker c1";
  }
  return "?";
}

// The rule a wrong-typed value of each field kind breaks.
template <class T>
constexpr std::string_view rule_for() {
  if constexpr (std::is_same_v<T, bool>)
    return "ENC-8";
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return "ENC-3";
  else if constexpr (std::is_unsigned_v<T>)
    return "ENC-2";
  else if constexpr (std::is_same_v<T, std::string>)
    return "ENC-4";
  else if constexpr (std::is_same_v<T, Bytes>)
    return "ENC-5";
  else if constexpr (is_std_vector<T>::value || is_std_map<T>::value)
    return "ENC-6";
  else if constexpr (EnumType<T>)
    return "ENC-9";
  else
    return "ENC-1";
}

template <class T>
constexpr std::string_view kind_name() {
  if constexpr (std::is_same_v<T, bool>)
    return "bool";
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return "i64";
  else if constexpr (std::is_same_v<T, std::uint16_t>)
    return "u16";
  else if constexpr (std::is_same_v<T, std::uint32_t>)
    return "u32";
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return "u64";
  else if constexpr (std::is_same_v<T, std::string>)
    return "string";
  else if constexpr (std::is_same_v<T, Bytes>)
    return "bytes";
  else if constexpr (is_std_vector<T>::value)
    return "list";
  else if constexpr (is_std_map<T>::value)
    return "map";
  else if constexpr (EnumType<T>)
    return "enum";
  else
    return "struct";
}

class BodyDecoder {
 public:
  BodyDecoder(std::span<const std::uint8_t> body, const DecodeLimits& limits, std::uint64_t base,
              Findings& out)
      : r_(body.data(), body.size()),
        body_(body),
        limits_(limits),
        base_(base),
        out_(out),
        first_(out.size()) {}

  // Decodes into `out` in place: the message is built where it is kept, not
  // moved through a variant and an optional (D192).
  template <class M>
  void decode_message(std::optional<Message>& out) {
    if (body_.empty()) {
      must("ENC-1", Problem::EmptyBody, 0,
           std::string(M::kName) + " frame has N = 0: every message has at least one field");
      return;
    }
    M& m = std::get<M>(out.emplace(std::in_place_type<M>));
    PathScope top(*this, M::kName);
    if (!read_struct(m, "ENC-1")) {
      finish();
      out.reset();
      return;
    }
    if (!r_.at_end()) {
      should("ENC-13", Problem::TrailingBodyBytes, r_.position(),
             std::to_string(r_.remaining()) + " bytes after the " + std::string(M::kName) +
                 " value (NodeDB ignores them)");
    }
    finish();
  }

 private:
  // ---- findings and paths ---------------------------------------------------

  struct PathScope {
    PathScope(BodyDecoder& d, std::string_view name) : d_(d) {
      if (d_.path_len_ < d_.path_.size()) d_.path_[d_.path_len_] = name;
      ++d_.path_len_;
    }
    ~PathScope() { --d_.path_len_; }
    PathScope(const PathScope&) = delete;
    PathScope& operator=(const PathScope&) = delete;
    BodyDecoder& d_;
  };

  std::string path() const {
    std::string p;
    const std::size_t n = std::min(path_len_, path_.size());
    for (std::size_t k = 0; k < n; ++k) {
      if (k > 0 && path_[k] != "[]" && path_[k] != "{}") p += '.';
      p += path_[k];
    }
    if (path_len_ > path_.size()) p += "...";
    return p;
  }

  void add(std::string_view rule, Level level, Problem problem, std::size_t at, std::string msg) {
    if (out_.size() - first_ >= limits_.max_findings) {  // this body's own, not the frame's
      ++suppressed_;
      suppressed_level_ = std::min(suppressed_level_, level);  // Must < Should < May
      return;
    }
    out_.push_back(Finding{rule, level, problem, base_ + at, std::move(msg) + " at " + path()});
  }
  void must(std::string_view rule, Problem p, std::size_t at, std::string msg) {
    add(rule, Level::Must, p, at, std::move(msg));
  }
  void should(std::string_view rule, Problem p, std::size_t at, std::string msg) {
    add(rule, Level::Should, p, at, std::move(msg));
  }
  // An undescribable defect: report it and stop decoding.
  bool fail(std::string_view rule, Problem p, std::size_t at, std::string msg) {
    must(rule, p, at, std::move(msg));
    return false;
  }
  void finish() {
    if (suppressed_ > 0) {
      out_.push_back(
          Finding{"ENC-1", suppressed_level_, Problem::FindingsSuppressed, base_,
                  std::to_string(suppressed_) + " more findings in this body not listed"});
    }
  }

  bool token(MpToken& t) {
    if (r_.next(t)) return true;
    return fail("ENC-1", Problem::Truncated, r_.position(),
                "body ends inside a value (" + std::to_string(r_.remaining()) + " bytes left)");
  }

  template <class T>
  bool wrong_type(const MpToken& t) {
    const Problem p = t.family == MpFamily::Never ? Problem::InvalidMarker : Problem::WrongType;
    return fail(rule_for<T>(), p, t.offset,
                "wrong type for " + std::string(kind_name<T>()) + ": got " +
                    std::string(family_name(t.family)) + " (marker " + hex2(t.marker) + ")");
  }

  void non_minimal(const MpToken& t) {
    should("ENC-12", Problem::NonMinimalHeader, t.offset,
           "non-minimal " + std::string(family_name(t.family)) + " header " + hex2(t.marker));
  }

  // Element counts must be payable by the bytes left (each value is ≥ 1 byte),
  // so a lying header can never drive an allocation or a long loop.
  bool count_fits(const MpToken& t, std::uint64_t values) {
    if (values <= r_.remaining()) return true;
    return fail("ENC-1", Problem::Truncated, t.offset,
                std::string(family_name(t.family)) + " declares " + std::to_string(t.length) +
                    " entries but only " + std::to_string(r_.remaining()) + " bytes remain");
  }

  struct DepthScope {
    explicit DepthScope(BodyDecoder& d) : d_(d) { ++d_.depth_; }
    ~DepthScope() { --d_.depth_; }
    DepthScope(const DepthScope&) = delete;
    DepthScope& operator=(const DepthScope&) = delete;
    BodyDecoder& d_;
  };
  bool depth_ok(const MpToken& t) {
    if (depth_ < limits_.max_depth) return true;
    return fail("ENC-1", Problem::TooDeep, t.offset,
                "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
  }

  // ---- scalar fields --------------------------------------------------------

  bool read(bool& v) {
    MpToken t;
    if (!token(t)) return false;
    if (t.family == MpFamily::Bool) {
      v = t.boolean;
      return true;
    }
    if (t.family == MpFamily::Uint && t.u <= 1) {
      must("ENC-8", Problem::WrongType, t.offset,
           "wrong type for bool: integer " + std::to_string(t.u) + " (marker " + hex2(t.marker) +
               "), NodeDB accepts only c2/c3");
      v = t.u == 1;
      return true;
    }
    return wrong_type<bool>(t);
  }

  template <class U>
  requires std::is_unsigned_v<U> &&(!std::is_same_v<U, bool>)bool read(U& v) {
    constexpr std::uint64_t kMax = std::numeric_limits<U>::max();
    // Widest marker NodeDB accepts for the field: cd for u16, ce for u32, cf for u64.
    constexpr std::uint8_t kWidest = sizeof(U) == 2 ? 0xcd : sizeof(U) == 4 ? 0xce : 0xcf;
    MpToken t;
    if (!token(t)) return false;
    if (t.family == MpFamily::Uint) {
      if (t.u > kMax) {
        return fail("ENC-2", Problem::ValueOutOfRange, t.offset,
                    std::string(kind_name<U>()) + " field holds " + std::to_string(t.u) +
                        ", above its maximum " + std::to_string(kMax));
      }
      if (t.marker > kWidest) {
        must("ENC-2", Problem::MarkerTooWide, t.offset,
             std::string(kind_name<U>()) + " field with " + hex2(t.marker) +
                 " marker (NodeDB accepts up to " + hex2(kWidest) + " whatever the value)");
      } else if (!t.minimal) {
        non_minimal(t);
      }
      v = static_cast<U>(t.u);
      return true;
    }
    if (t.family == MpFamily::Int) {
      if (t.i < 0 || static_cast<std::uint64_t>(t.i) > kMax) {
        // NodeDB refuses the signed marker itself, whatever the value.
        return fail("ENC-2", Problem::SignedMarkerForUnsigned, t.offset,
                    std::string(kind_name<U>()) + " field holds " + std::to_string(t.i) +
                        " (signed marker " + hex2(t.marker) + ")");
      }
      must("ENC-2", Problem::SignedMarkerForUnsigned, t.offset,
           std::string(kind_name<U>()) + " field with signed marker " + hex2(t.marker) +
               " (NodeDB rejects it whatever the value)");
      v = static_cast<U>(t.i);
      return true;
    }
    return wrong_type<U>(t);
  }

  bool read(std::int64_t& v) {
    MpToken t;
    if (!token(t)) return false;
    if (t.family == MpFamily::Int) {
      if (!t.minimal) non_minimal(t);
      v = t.i;
      return true;
    }
    if (t.family == MpFamily::Uint) {
      if (t.marker <= 0x7f) {  // positive fixint is the minimal signed form of 0..127
        v = static_cast<std::int64_t>(t.u);
        return true;
      }
      if (t.u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return fail("ENC-3", Problem::ValueOutOfRange, t.offset,
                    "i64 field holds " + std::to_string(t.u) + ", above 2^63-1");
      }
      must("ENC-3", Problem::UnsignedMarkerForSigned, t.offset,
           "i64 field with unsigned marker " + hex2(t.marker) +
               " (msgpack-cxx's int64 packing; NodeDB rejects cc-cf)");
      v = static_cast<std::int64_t>(t.u);
      return true;
    }
    return wrong_type<std::int64_t>(t);
  }

  void check_utf8(const MpToken& t) {
    const std::size_t bad = utf8_invalid_at(t.data, t.length);
    if (bad != t.length) {
      must("ENC-4", Problem::InvalidUtf8, static_cast<std::size_t>(t.data - body_.data()) + bad,
           "invalid UTF-8 in string (byte " + hex2(t.data[bad]) + ")");
    }
  }

  bool read(std::string& v) {
    MpToken t;
    if (!token(t)) return false;
    if (t.family == MpFamily::Str) {
      if (!t.minimal) non_minimal(t);
    } else if (t.family == MpFamily::Bin) {
      must("ENC-4", Problem::StrAsBytes, t.offset,
           "string field written as bin (marker " + hex2(t.marker) + ")");
    } else {
      return wrong_type<std::string>(t);
    }
    check_utf8(t);
    v.assign(reinterpret_cast<const char*>(t.data), t.length);
    return true;
  }

  bool read(Bytes& v) {
    MpToken t;
    if (!token(t)) return false;
    if (t.family == MpFamily::Bin) {
      if (!t.minimal) non_minimal(t);
      v.assign(t.data, t.data + t.length);
      return true;
    }
    if (t.family == MpFamily::Str) {
      must("ENC-5", Problem::BytesAsStr, t.offset,
           "bytes field written as str (marker " + hex2(t.marker) + ")");
      v.assign(t.data, t.data + t.length);
      return true;
    }
    if (t.family == MpFamily::Array) {
      if (!count_fits(t, t.length)) return false;
      v.clear();
      v.reserve(t.length);
      for (std::uint32_t k = 0; k < t.length; ++k) {
        MpToken e;
        if (!token(e)) return false;
        if (e.family != MpFamily::Uint || e.u > 0xff) {
          return fail("ENC-5", Problem::WrongType, e.offset,
                      "bytes field written as array holds a non-byte element (marker " +
                          hex2(e.marker) + ")");
        }
        v.push_back(static_cast<std::uint8_t>(e.u));
      }
      must("ENC-5", Problem::WrongType, t.offset,
           "bytes field written as array of integers (NodeDB requires bin)");
      return true;
    }
    return wrong_type<Bytes>(t);
  }

  // ---- containers -----------------------------------------------------------

  template <class T>
  bool read(std::optional<T>& v) {
    if (r_.peek() == 0xc0) {
      MpToken t;
      r_.next(t);
      v.reset();
      return true;
    }
    T inner{};
    if (!read(inner)) return false;
    v = std::move(inner);
    return true;
  }

  template <class T>
  bool read(std::vector<T>& v) {
    MpToken t;
    if (!token(t)) return false;
    if (t.family != MpFamily::Array) return wrong_type<std::vector<T>>(t);
    if (!depth_ok(t) || !count_fits(t, t.length)) return false;
    if (!t.minimal) non_minimal(t);
    DepthScope depth(*this);
    PathScope elem(*this, "[]");
    v.clear();
    v.reserve(std::min<std::uint32_t>(t.length, 4096));
    for (std::uint32_t k = 0; k < t.length; ++k) {
      T e{};
      if (!read(e)) return false;
      v.push_back(std::move(e));
    }
    return true;
  }

  template <class K, class V>
  bool read(std::map<K, V>& m) {
    MpToken t;
    if (!token(t)) return false;
    if (t.family != MpFamily::Map) return wrong_type<std::map<K, V>>(t);
    if (!depth_ok(t) || !count_fits(t, std::uint64_t{t.length} * 2)) return false;
    if (!t.minimal) non_minimal(t);
    DepthScope depth(*this);
    PathScope elem(*this, "{}");
    m.clear();
    bool sorted = true;
    std::optional<K> previous;
    for (std::uint32_t k = 0; k < t.length; ++k) {
      const std::size_t key_at = r_.position();
      K key{};
      if (!read(key)) return false;
      V value{};
      if (!read(value)) return false;
      if (previous && !(*previous < key)) sorted = sorted && (*previous == key);
      if (m.contains(key)) {
        must("ENC-10", Problem::DuplicateMapKey, key_at,
             "duplicate map key " + key_text(key) + " (NodeDB keeps the last value)");
      }
      m.insert_or_assign(key, std::move(value));
      previous = std::move(key);
    }
    if (!sorted) {
      should("ENC-12", Problem::UnsortedMap, t.offset, "map keys not in ascending order");
    }
    return true;
  }
  static std::string key_text(const std::string& k) { return '"' + k + '"'; }
  static std::string key_text(std::uint64_t k) { return std::to_string(k); }

  // ---- structs and enums ----------------------------------------------------

  template <Reflected T>
  requires(!EnumVariant<T>) bool read(T& s) { return read_struct(s, "ENC-1"); }

  // A struct (or a struct-like enum payload, rule ENC-9): an array of exactly
  // its fields. Too many elements are skipped; too few are describable only
  // when every missing trailing field is optional (a peer from before a field
  // was added); a map of field names is describable when it names them all.
  template <Reflected T>
  bool read_struct(T& s, std::string_view rule) {
    constexpr std::size_t kFields = field_count<T>();
    MpToken t;
    if (!token(t)) return false;
    if (t.family == MpFamily::Map) return read_struct_from_map(s, t, rule);
    if (t.family != MpFamily::Array) {
      const Problem p = t.family == MpFamily::Never ? Problem::InvalidMarker : Problem::WrongType;
      return fail(rule, p, t.offset,
                  "wrong type for struct: got " + std::string(family_name(t.family)) + " (marker " +
                      hex2(t.marker) + "), expected an array of " + std::to_string(kFields) +
                      " fields");
    }
    if (!depth_ok(t) || !count_fits(t, t.length)) return false;
    if (!t.minimal) non_minimal(t);
    DepthScope depth(*this);
    const std::size_t n = t.length;
    if (n < kFields) {
      bool missing_all_optional = true;
      std::size_t k = 0;
      for_each_field<T>([&](const auto& f) {
        using F = typename std::decay_t<decltype(f)>::member_type;
        if (k++ >= n && !is_std_optional<F>::value) missing_all_optional = false;
      });
      if (!missing_all_optional) {
        return fail(rule, Problem::ArityMismatch, t.offset,
                    "array length mismatch: " + std::to_string(n) + " elements, schema has " +
                        std::to_string(kFields) + " fields");
      }
      must(rule, Problem::ArityMismatch, t.offset,
           "array length mismatch: " + std::to_string(n) + " elements, schema has " +
               std::to_string(kFields) + " fields (missing trailing options read as None)");
      must("ENC-7", Problem::ArityMismatch, t.offset,
           "absent optional fields left out instead of written as c0");
    }
    bool ok = true;
    std::size_t k = 0;
    for_each_field<T>([&](const auto& f) {
      if (!ok || k++ >= n) return;
      PathScope field(*this, f.name);
      ok = read(s.*(f.member));
    });
    if (!ok) return false;
    if (n > kFields) {
      must(rule, Problem::ArityMismatch, t.offset,
           "array length mismatch: " + std::to_string(n) + " elements, schema has " +
               std::to_string(kFields) + " fields (extra elements skipped)");
      for (std::size_t extra = kFields; extra < n; ++extra) {
        if (!skip_value()) return false;
      }
    }
    return true;
  }

  template <Reflected T>
  bool read_struct_from_map(T& s, const MpToken& t, std::string_view rule) {
    constexpr std::size_t kFields = field_count<T>();
    must(rule, Problem::StructAsMap, t.offset,
         "struct written as map of " + std::to_string(t.length) +
             " entries (NodeDB requires an array)");
    if (!depth_ok(t) || !count_fits(t, std::uint64_t{t.length} * 2)) return false;
    DepthScope depth(*this);
    std::array<bool, 16> seen{};
    static_assert(kFields <= seen.size());
    for (std::uint32_t e = 0; e < t.length; ++e) {
      MpToken key;
      if (!token(key)) return false;
      if (key.family != MpFamily::Str) {
        return fail(rule, Problem::StructAsMap, key.offset,
                    "struct-as-map key is not a field name");
      }
      const std::string_view name(reinterpret_cast<const char*>(key.data), key.length);
      bool matched = false, ok = true;
      std::size_t k = 0;
      for_each_field<T>([&](const auto& f) {
        if (!matched && f.name == name) {
          matched = true;
          seen[k] = true;
          PathScope field(*this, f.name);
          ok = read(s.*(f.member));
        }
        ++k;
      });
      if (!ok) return false;
      if (!matched) {
        must(rule, Problem::StructAsMap, key.offset, "struct-as-map has unknown field name");
        if (!skip_value()) return false;
      }
    }
    bool complete = true;
    std::size_t k = 0;
    for_each_field<T>([&](const auto& f) {
      using F = typename std::decay_t<decltype(f)>::member_type;
      if (!seen[k++] && !is_std_optional<F>::value) complete = false;
    });
    if (!complete) {
      return fail(rule, Problem::StructAsMap, t.offset, "struct-as-map lacks a required field");
    }
    return true;
  }

  template <EnumType V>
  bool read(V& v) {
    MpToken t;
    if (!token(t)) return false;
    if (t.family != MpFamily::Array) return wrong_type<V>(t);
    if (t.length != 2) {
      return fail(
          "ENC-9", Problem::ArityMismatch, t.offset,
          "enum array has " + std::to_string(t.length) + " elements, expected [tag, payload]");
    }
    if (!t.minimal) non_minimal(t);
    if (!depth_ok(t)) return false;
    DepthScope depth(*this);
    MpToken tag;
    if (!token(tag)) return false;
    if (tag.family != MpFamily::Str) {
      return fail("ENC-9", Problem::UnknownEnumVariant, tag.offset,
                  "unknown enum variant: tag is " + std::string(family_name(tag.family)) +
                      ", not a variant name");
    }
    if (!tag.minimal) non_minimal(tag);  // NodeDB reads a str8 tag; only canonical form differs
    const std::string_view name(reinterpret_cast<const char*>(tag.data), tag.length);
    bool matched = false, ok = false;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((!matched && std::variant_alternative_t<I, V>::kTag == name
            ? (matched = true, ok = read_variant<std::variant_alternative_t<I, V>>(v))
            : false),
       ...);
    }
    (std::make_index_sequence<std::variant_size_v<V>>{});
    if (!matched) {
      std::string shown(name.substr(0, 64));
      return fail("ENC-9", Problem::UnknownEnumVariant, tag.offset,
                  "unknown enum variant \"" + shown + "\"");
    }
    return ok;
  }

  template <EnumVariant A, class V>
  bool read_variant(V& v) {
    PathScope variant(*this, A::kTag);
    A alt{};
    if constexpr (field_count<A>() == 0) {
      MpToken p;
      if (!token(p)) return false;
      if (p.family == MpFamily::Array && p.length == 0) {
        must("ENC-9", Problem::BadEnumPayload, p.offset,
             "unit variant payload is an empty array, not nil (c0)");
      } else if (p.family != MpFamily::Nil) {
        return fail("ENC-9", Problem::BadEnumPayload, p.offset,
                    "unit variant payload is " + std::string(family_name(p.family)) +
                        ", expected nil (c0)");
      }
    } else {
      if (!read_struct(alt, "ENC-9")) return false;
    }
    v = std::move(alt);
    return true;
  }

  // ---- skipping -------------------------------------------------------------

  // Skips one value of any shape without recursion. Every token consumes at
  // least one byte and every container count is checked against the bytes
  // left, so the loop ends; the depth bound caps the stack.
  bool skip_value() {
    std::vector<std::uint64_t> pending{1};
    while (!pending.empty()) {
      if (pending.back() == 0) {
        pending.pop_back();
        continue;
      }
      --pending.back();
      MpToken t;
      if (!token(t)) return false;
      if (t.family == MpFamily::Never) {
        return fail("ENC-1", Problem::InvalidMarker, t.offset, "reserved marker c1");
      }
      if (t.family == MpFamily::Array || t.family == MpFamily::Map) {
        const std::uint64_t n = std::uint64_t{t.length} * (t.family == MpFamily::Map ? 2 : 1);
        if (!count_fits(t, n)) return false;
        if (depth_ + pending.size() > limits_.max_depth) {  // the level this container opens
          return fail("ENC-1", Problem::TooDeep, t.offset,
                      "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
        }
        pending.push_back(n);
      }
    }
    return true;
  }

  MpReader r_;
  std::span<const std::uint8_t> body_;
  const DecodeLimits& limits_;
  std::uint64_t base_;
  Findings& out_;
  std::size_t first_;  // out_'s size before this body: findings already there are not its
  std::array<std::string_view, 16> path_{};
  std::size_t path_len_ = 0;
  std::uint32_t depth_ = 0;
  std::size_t suppressed_ = 0;
  Level suppressed_level_ = Level::May;
};

constexpr std::array<std::uint8_t, kMessageTypeCount> kCodes = [] {
  std::array<std::uint8_t, kMessageTypeCount> codes{};
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((codes[I] = std::variant_alternative_t<I, Message>::kCode), ...);
  }
  (std::make_index_sequence<kMessageTypeCount>{});
  return codes;
}();

// By code: a lookup, not a scan (two per frame on the simulator's path).
constexpr std::array<bool, 256> kKnownCode = [] {
  std::array<bool, 256> known{};
  for (const auto c : kCodes) known[c] = true;
  return known;
}();

}  // namespace

// ---- message metadata -------------------------------------------------------

std::uint8_t message_code(const Message& m) {
  return std::visit([](const auto& x) { return std::decay_t<decltype(x)>::kCode; }, m);
}

std::string_view message_name(const Message& m) {
  if (const auto* p = std::get_if<PingPong>(&m)) return p->is_pong ? "Pong" : "Ping";
  return std::visit([](const auto& x) { return std::decay_t<decltype(x)>::kName; }, m);
}

Direction message_direction(const Message& m) {
  return std::visit([](const auto& x) { return std::decay_t<decltype(x)>::kDirection; }, m);
}

std::string_view code_name(std::uint8_t code) {
  if (code == PingPong::kCode) return "Ping/Pong";
  std::string_view name;
  with_message_type(code, [&](auto tag) { name = decltype(tag)::type::kName; });
  return name;
}

bool is_known_code(std::uint8_t code) { return kKnownCode[code]; }

// ---- encoding -----------------------------------------------------------------

void append_body(const Message& m, Bytes& out) {
  Encoder enc(out);
  std::visit([&](const auto& msg) { enc.put(msg); }, m);
}

Bytes encode_body(const Message& m) {
  Bytes out;
  append_body(m, out);
  return out;
}

void append_frame(const Message& m, Bytes& out) {
  const std::size_t start = out.size();
  out.push_back(message_code(m));
  out.insert(out.end(), 4, 0);
  append_body(m, out);
  const auto n = static_cast<std::uint32_t>(out.size() - start - kFrameHeaderSize);
  for (int k = 0; k < 4; ++k) out[start + 1 + k] = static_cast<std::uint8_t>(n >> (8 * k));
}

Bytes encode_frame(const Message& m) {
  Bytes out;
  out.reserve(256);  // most frames fit: no regrowth while the packer appends piece by piece
  append_frame(m, out);
  return out;
}

// ---- decoding -----------------------------------------------------------------

namespace {
// decode_body's work, into storage the caller keeps.
void decode_body_into(std::uint8_t code, std::span<const std::uint8_t> body,
                      const DecodeLimits& limits, std::uint64_t base_offset,
                      std::optional<Message>& message, Findings& findings) {
  const bool known = with_message_type(code, [&](auto tag) {
    using M = typename decltype(tag)::type;
    BodyDecoder d(body, limits, base_offset, findings);
    d.template decode_message<M>(message);
  });
  if (!known) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "unknown message type 0x%02x", code);
    findings.push_back(
        Finding{"FRAME-2", Level::Must, Problem::UnknownMessageType, base_offset, buf});
  }
}
}  // namespace

DecodedBody decode_body(std::uint8_t code, std::span<const std::uint8_t> body,
                        const DecodeLimits& limits, std::uint64_t base_offset) {
  DecodedBody out;
  decode_body_into(code, body, limits, base_offset, out.message, out.findings);
  return out;
}

// One frame held whole, as a WebSocket message holds it: split by
// frame_of_message, the findings ordered as a receiver meets them.
DecodedFrame decode_frame(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  DecodedFrame f;
  const MessageFrame m = frame_of_message(bytes, limits.max_body);
  f.msg_type = bytes.empty() ? 0 : bytes[0];
  f.body_size = m.header.body_size;
  auto report = [&](std::string_view rule, Level level, Problem p, std::uint64_t at,
                    std::string msg) {
    f.findings.push_back(Finding{rule, level, p, at, std::move(msg)});
  };
  if (bytes.size() < kFrameHeaderSize) {
    report("FRAME-1", Level::Must, Problem::Truncated, bytes.size(),
           "truncated: frame header needs 5 bytes, got " + std::to_string(bytes.size()));
    return f;
  }
  if (m.kind == MessageFrame::Kind::TooLarge) {
    f.findings.push_back(frame_too_large(m.header, 1, limits.max_body));
    return f;
  }
  if (!is_known_code(f.msg_type)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "unknown message type 0x%02x", f.msg_type);
    report("FRAME-2", Level::Must, Problem::UnknownMessageType, 0, buf);
    return f;
  }
  if (m.kind == MessageFrame::Kind::Short) {
    report("FRAME-1", Level::Must, Problem::Truncated, bytes.size(),
           "truncated: length declares " + std::to_string(f.body_size) + " body bytes, " +
               std::to_string(bytes.size() - kFrameHeaderSize) + " present");
    return f;
  }
  if (m.trailing > 0) {
    report("FRAME-6", Level::Should, Problem::TrailingFrameBytes, m.frame.size(),
           std::to_string(m.trailing) + " bytes after the frame (ignored by NodeDB)");
  }
  decode_body_into(f.msg_type, m.frame.subspan(kFrameHeaderSize), limits, kFrameHeaderSize,
                   f.message, f.findings);
  return f;
}

}  // namespace syncsim::protocol
