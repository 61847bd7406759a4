#include "reference/jwt.hpp"

#include <array>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace syncsim::reference {
namespace {

constexpr std::array<std::uint32_t, 64> kK = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void sha256_block(std::array<std::uint32_t, 8>& h, const std::uint8_t* p) {
  std::array<std::uint32_t, 64> w{};
  for (int i = 0; i < 16; ++i) {
    w[i] = std::uint32_t{p[4 * i]} << 24 | std::uint32_t{p[4 * i + 1]} << 16 |
           std::uint32_t{p[4 * i + 2]} << 8 | std::uint32_t{p[4 * i + 3]};
  }
  for (int i = 16; i < 64; ++i) {
    const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  auto [a, b, c, d, e, f, g, hh] = h;
  for (int i = 0; i < 64; ++i) {
    const std::uint32_t t1 =
        hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
    const std::uint32_t t2 =
        (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

std::string_view as_text(const std::vector<std::uint8_t>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

}  // namespace

std::vector<std::uint8_t> sha256(std::string_view data) {
  std::array<std::uint32_t, 8> h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  std::size_t n = data.size();
  while (n >= 64) {
    sha256_block(h, p);
    p += 64;
    n -= 64;
  }
  std::array<std::uint8_t, 128> tail{};
  std::memcpy(tail.data(), p, n);
  tail[n] = 0x80;
  const std::size_t blocks = n + 9 <= 64 ? 1 : 2;
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  for (int k = 0; k < 8; ++k)
    tail[blocks * 64 - 1 - k] = static_cast<std::uint8_t>(bits >> (8 * k));
  for (std::size_t b = 0; b < blocks; ++b) sha256_block(h, tail.data() + 64 * b);
  std::vector<std::uint8_t> out(32);
  for (int i = 0; i < 8; ++i) {
    for (int k = 0; k < 4; ++k) out[4 * i + k] = static_cast<std::uint8_t>(h[i] >> (24 - 8 * k));
  }
  return out;
}

std::vector<std::uint8_t> hmac_sha256(std::string_view key, std::string_view data) {
  std::string k(key);
  if (k.size() > 64) {
    const auto d = sha256(k);
    k.assign(d.begin(), d.end());
  }
  k.resize(64, '\0');
  std::string inner(64, '\0'), outer(64, '\0');
  for (int i = 0; i < 64; ++i) {
    inner[i] = static_cast<char>(k[i] ^ 0x36);
    outer[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  inner.append(data);
  const auto ih = sha256(inner);
  outer.append(as_text(ih));
  return sha256(outer);
}

JwtResult verify_jwt(std::string_view token, const JwtConfig& config, std::int64_t now_s) {
  JwtResult r;
  auto fail = [&](std::string text) {
    r.error = std::move(text);
    return r;
  };
  // 1. Three dot-separated parts.
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos ||
      token.find('.', d2 + 1) != std::string_view::npos) {
    return fail("malformed JWT token");
  }
  const auto p1 = token.substr(0, d1), p2 = token.substr(d1 + 1, d2 - d1 - 1),
             p3 = token.substr(d2 + 1);
  // 2-3. Header.
  const auto header_text = base64url_decode(p1);
  if (!header_text) return fail("JWT base64 decoding error");
  const auto header = nlohmann::json::parse(*header_text, nullptr, false);
  if (!header.is_object() || !header.contains("alg") || !header["alg"].is_string()) {
    return fail("invalid JWT claims");
  }
  // 4-5. Claims, with their types.
  const auto claims_text = base64url_decode(p2);
  if (!claims_text) return fail("JWT base64 decoding error");
  const auto j = nlohmann::json::parse(*claims_text, nullptr, false);
  if (!j.is_object() || !j.contains("sub") || !j["sub"].is_string())
    return fail("invalid JWT claims");
  JwtClaims c;
  c.sub = j["sub"].get<std::string>();
  bool typed = true;
  auto int_claim = [&](const char* key, std::int64_t& out) {
    if (!j.contains(key)) return;
    if (!j[key].is_number_integer()) {
      typed = false;  // exp/nbf/iat: integer seconds (floats refused; docs/decisions.md)
      return;
    }
    if (j[key].is_number_unsigned() &&
        j[key].get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      typed = false;
      return;
    }
    out = j[key].get<std::int64_t>();
  };
  if (j.contains("tenant_id")) {
    if (!j["tenant_id"].is_number_unsigned() ||
        j["tenant_id"].get<std::uint64_t>() > 0xffffffffULL) {
      typed = false;
    } else {
      c.tenant_id = static_cast<std::uint32_t>(j["tenant_id"].get<std::uint64_t>());
    }
  }
  if (j.contains("user_id")) {
    if (!j["user_id"].is_number_unsigned()) {
      typed = false;
    } else {
      c.user_id = j["user_id"].get<std::uint64_t>();
    }
  }
  int_claim("exp", c.exp);
  int_claim("nbf", c.nbf);
  int_claim("iat", c.iat);
  for (const char* key : {"iss", "aud"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_string()) {
      typed = false;
    } else {
      (std::string_view(key) == "iss" ? c.iss : c.aud) = j[key].get<std::string>();
    }
  }
  if (j.contains("roles")) {
    if (!j["roles"].is_array()) {
      typed = false;
    } else {
      for (const auto& role : j["roles"]) {
        if (!role.is_string()) {
          typed = false;
          break;
        }
        c.roles.push_back(role.get<std::string>());
      }
    }
  }
  if (j.contains("is_superuser")) {
    if (!j["is_superuser"].is_boolean()) {
      typed = false;
    } else {
      c.is_superuser = j["is_superuser"].get<bool>();
    }
  }
  if (!typed) return fail("invalid JWT claims");
  // 6. Signature bytes.
  const auto signature = base64url_decode(p3);
  if (!signature) return fail("JWT base64 decoding error");
  // 7. Algorithm.
  if (header["alg"] != "HS256" || !config.hs256_secret) {
    return fail("JWT algorithm not supported or not configured");
  }
  // 8. HMAC-SHA256 over "part1.part2".
  const auto mac = hmac_sha256(*config.hs256_secret, token.substr(0, d2));
  if (as_text(mac) != *signature) return fail("JWT signature verification failed");
  // 9-10. Time, 60 s leeway.
  // (Written so that no claim value can overflow the arithmetic.)
  if (c.exp > 0 && now_s - 60 > c.exp) return fail("JWT token expired");
  if (c.nbf > 0 && now_s < c.nbf - 60) return fail("JWT token not yet valid");
  // 11-12. Issuer and audience.
  if (config.issuer && c.iss != config.issuer) return fail("JWT issuer mismatch");
  if (config.audience && c.aud != config.audience) return fail("JWT audience mismatch");
  r.claims = std::move(c);
  return r;
}

std::string mint_hs256(const JwtClaims& c, std::string_view secret) {
  nlohmann::ordered_json j;
  j["sub"] = c.sub;
  if (c.tenant_id != 0) j["tenant_id"] = c.tenant_id;
  if (c.exp != 0) j["exp"] = c.exp;
  if (c.user_id != 0) j["user_id"] = c.user_id;
  if (c.nbf != 0) j["nbf"] = c.nbf;
  if (c.iat != 0) j["iat"] = c.iat;
  if (c.iss) j["iss"] = *c.iss;
  if (c.aud) j["aud"] = *c.aud;
  if (!c.roles.empty()) j["roles"] = c.roles;
  if (c.is_superuser) j["is_superuser"] = true;
  const std::string signing_input =
      base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(j.dump());
  const auto mac = hmac_sha256(secret, signing_input);
  return signing_input + "." + base64url_encode(as_text(mac));
}

}  // namespace syncsim::reference
