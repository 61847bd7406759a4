#include "reference/snapshot.hpp"

#include "protocol/msgpack_reader.hpp"

namespace syncsim::reference {
namespace {

// A length header: fix form (fix | n) up to fix_max when fix != 0, then the
// 8/16/32-bit forms (m8 = 0: no 8-bit form, as for arrays).
void put_len(protocol::Bytes& out, std::uint8_t fix, std::uint8_t m8, std::uint8_t m16,
             std::uint8_t m32, std::size_t n, std::size_t fix_max) {
  if (n <= fix_max && fix != 0) {
    out.push_back(static_cast<std::uint8_t>(fix | n));
  } else if (n <= 0xff && m8 != 0) {
    out.push_back(m8);
    out.push_back(static_cast<std::uint8_t>(n));
  } else if (n <= 0xffff) {
    out.push_back(m16);
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    out.push_back(m32);
    for (int k = 3; k >= 0; --k) out.push_back(static_cast<std::uint8_t>(n >> (8 * k)));
  }
}

}  // namespace

// Minimal headers throughout (the profile of PROTOCOL.md §3.3).
protocol::Bytes encode_snapshot_data(const std::map<std::string, protocol::Bytes>& documents) {
  protocol::Bytes out;
  put_len(out, 0x90, 0, 0xdc, 0xdd, documents.size(), 15);  // array
  for (const auto& [id, value] : documents) {
    out.push_back(0x92);
    put_len(out, 0xa0, 0xd9, 0xda, 0xdb, id.size(), 31);  // str
    out.insert(out.end(), id.begin(), id.end());
    put_len(out, 0, 0xc4, 0xc5, 0xc6, value.size(), 0);  // bin
    out.insert(out.end(), value.begin(), value.end());
  }
  return out;
}

std::optional<std::map<std::string, protocol::Bytes>> decode_snapshot_data(
    const protocol::Bytes& data) {
  protocol::MpReader r(data.data(), data.size());
  protocol::MpToken t;
  if (!r.next(t) || t.family != protocol::MpFamily::Array || t.length > r.remaining())
    return std::nullopt;
  std::map<std::string, protocol::Bytes> docs;
  for (std::uint32_t k = 0; k < t.length; ++k) {
    protocol::MpToken pair, id, value;
    if (!r.next(pair) || pair.family != protocol::MpFamily::Array || pair.length != 2)
      return std::nullopt;
    if (!r.next(id) || id.family != protocol::MpFamily::Str) return std::nullopt;
    if (!r.next(value) || value.family != protocol::MpFamily::Bin) return std::nullopt;
    docs[std::string(reinterpret_cast<const char*>(id.data), id.length)] =
        protocol::Bytes(value.data, value.data + value.length);
  }
  if (!r.at_end()) return std::nullopt;
  return docs;
}

std::string snapshot_digest(const protocol::Bytes& data) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (const std::uint8_t c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return std::to_string(h);
}

}  // namespace syncsim::reference
