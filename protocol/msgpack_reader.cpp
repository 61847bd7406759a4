#include "protocol/msgpack_reader.hpp"

#include "protocol/assert.hpp"

namespace syncsim::protocol {
namespace {

std::uint64_t be(const std::uint8_t* p, int n) {
  std::uint64_t v = 0;
  for (int k = 0; k < n; ++k) v = (v << 8) | p[k];
  return v;
}

bool minimal_uint(std::uint8_t marker, std::uint64_t v) {
  switch (marker) {
    case 0xcc: return v >= 0x80;
    case 0xcd: return v > 0xff;
    case 0xce: return v > 0xffff;
    case 0xcf: return v > 0xffffffffULL;
    default: return true;  // fixint
  }
}

// Minimal signed form of §3.2 (the i64 table): non-negative values below 128
// belong in a positive fixint, which is of the Uint family, so any signed
// marker holding them is non-minimal.
bool minimal_int(std::uint8_t marker, std::int64_t v) {
  if (v >= 0 && v <= 127) return false;
  switch (marker) {
    case 0xd0: return v < -32;
    case 0xd1: return v < -128 || v > 127;
    case 0xd2: return v < -32768 || v > 32767;
    case 0xd3: return v < -2147483648LL || v > 2147483647LL;
    default: return true;  // negative fixint
  }
}

// Whether a str/bin/array/map header is the smallest one for its length.
bool minimal_len(std::uint8_t marker, std::uint32_t n) {
  switch (marker) {
    case 0xd9: return n > 31;      // str8
    case 0xda: return n > 0xff;    // str16
    case 0xdb: return n > 0xffff;  // str32
    case 0xc4: return true;        // bin8 is the smallest bin header
    case 0xc5: return n > 0xff;    // bin16
    case 0xc6: return n > 0xffff;  // bin32
    case 0xdc:
    case 0xde: return n > 15;  // array16, map16
    case 0xdd:
    case 0xdf: return n > 0xffff;  // array32, map32
    default: return true;          // fix forms
  }
}

}  // namespace

bool MpReader::next(MpToken& t) {
  if (pos_ >= size_) return false;
  const std::uint8_t* p = data_ + pos_;
  const std::size_t avail = size_ - pos_;
  const std::uint8_t m = p[0];
  t = MpToken{};
  t.marker = m;
  t.offset = pos_;

  auto need = [&](std::size_t n) { return avail >= n; };
  // Every path checks its fixed-size header with need() before reading it;
  // a payload's length comes from the input, so its bound is checked here.
  auto take_payload = [&](std::size_t header, std::uint32_t len) {
    SYNCSIM_ASSERT_MSG(header <= avail, "MessagePack header read past the input");
    if (avail - header < len) return false;
    t.length = len;
    t.data = p + header;
    pos_ += header + len;
    return true;
  };

  if (m <= 0x7f) {
    t.family = MpFamily::Uint;
    t.u = m;
    pos_ += 1;
    return true;
  }
  if (m >= 0xe0) {
    t.family = MpFamily::Int;
    t.i = static_cast<std::int8_t>(m);
    pos_ += 1;
    return true;
  }
  if ((m & 0xf0) == 0x80) {
    t.family = MpFamily::Map;
    t.length = m & 0x0f;
    pos_ += 1;
    return true;
  }
  if ((m & 0xf0) == 0x90) {
    t.family = MpFamily::Array;
    t.length = m & 0x0f;
    pos_ += 1;
    return true;
  }
  if ((m & 0xe0) == 0xa0) {
    t.family = MpFamily::Str;
    return take_payload(1, m & 0x1f);
  }
  switch (m) {
    case 0xc0:
      t.family = MpFamily::Nil;
      pos_ += 1;
      return true;
    case 0xc1:
      t.family = MpFamily::Never;
      pos_ += 1;
      return true;
    case 0xc2:
    case 0xc3:
      t.family = MpFamily::Bool;
      t.boolean = m == 0xc3;
      pos_ += 1;
      return true;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
      const int n = 1 << (m - 0xcc);
      if (!need(1 + n)) return false;
      t.family = MpFamily::Uint;
      t.u = be(p + 1, n);
      t.minimal = minimal_uint(m, t.u);
      pos_ += 1 + n;
      return true;
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      const int n = 1 << (m - 0xd0);
      if (!need(1 + n)) return false;
      const std::uint64_t raw = be(p + 1, n);
      const int shift = 64 - 8 * n;
      // Sign-extend an n-byte two's complement value.
      t.i = shift == 0 ? static_cast<std::int64_t>(raw)
                       : static_cast<std::int64_t>(raw << shift) >> shift;
      t.family = MpFamily::Int;
      t.minimal = minimal_int(m, t.i);
      pos_ += 1 + n;
      return true;
    }
    case 0xca:
    case 0xcb: {
      const std::size_t n = m == 0xca ? 4 : 8;
      if (!need(1 + n)) return false;
      t.family = MpFamily::Float;
      pos_ += 1 + n;
      return true;
    }
    case 0xd9:
    case 0xda:
    case 0xdb:
    case 0xc4:
    case 0xc5:
    case 0xc6: {
      const bool is_str = m >= 0xd9;
      const int n = 1 << (is_str ? m - 0xd9 : m - 0xc4);
      if (!need(1 + n)) return false;
      const auto len = static_cast<std::uint32_t>(be(p + 1, n));
      t.family = is_str ? MpFamily::Str : MpFamily::Bin;
      t.minimal = minimal_len(m, len);
      if (!take_payload(1 + n, len)) return false;
      return true;
    }
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf: {
      const int n = (m == 0xdc || m == 0xde) ? 2 : 4;
      if (!need(1 + n)) return false;
      t.family = (m <= 0xdd) ? MpFamily::Array : MpFamily::Map;
      t.length = static_cast<std::uint32_t>(be(p + 1, n));
      t.minimal = minimal_len(m, t.length);
      pos_ += 1 + n;
      return true;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: {
      const std::uint32_t len = 1u << (m - 0xd4);
      if (!need(2)) return false;
      t.family = MpFamily::Ext;
      return take_payload(2, len);
    }
    case 0xc7:
    case 0xc8:
    case 0xc9: {
      const int n = 1 << (m - 0xc7);
      if (!need(2 + n)) return false;
      t.family = MpFamily::Ext;
      return take_payload(2 + n, static_cast<std::uint32_t>(be(p + 1, n)));
    }
    default: break;
  }
  return false;  // unreachable: every byte value is handled above
}

}  // namespace syncsim::protocol
