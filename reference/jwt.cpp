#include "reference/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "protocol/assert.hpp"

namespace syncsim::reference {
namespace {

std::string_view as_text(const std::vector<std::uint8_t>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

}  // namespace

// OpenSSL's, not ours (D68). Neither call fails for SHA-256 short of memory
// exhaustion, which is fatal anyway.
std::vector<std::uint8_t> sha256(std::string_view data) {
  std::vector<std::uint8_t> out(SHA256_DIGEST_LENGTH);
  unsigned int n = 0;
  const int ok = EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
  SYNCSIM_ASSERT_MSG(ok == 1 && n == out.size(), "EVP_Digest(SHA-256) failed");
  return out;
}

std::vector<std::uint8_t> hmac_sha256(std::string_view key, std::string_view data) {
  static const unsigned char kNoKey = 0;  // OpenSSL wants a pointer even for an empty key
  std::vector<std::uint8_t> out(SHA256_DIGEST_LENGTH);
  unsigned int n = 0;
  const unsigned char* k =
      key.empty() ? &kNoKey : reinterpret_cast<const unsigned char*>(key.data());
  const unsigned char* d = reinterpret_cast<const unsigned char*>(data.empty() ? "" : data.data());
  const auto* mac =
      HMAC(EVP_sha256(), k, static_cast<int>(key.size()), d, data.size(), out.data(), &n);
  SYNCSIM_ASSERT_MSG(mac != nullptr && n == out.size(), "HMAC(SHA-256) failed");
  return out;
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
  if (signature->size() != mac.size() ||
      CRYPTO_memcmp(signature->data(), mac.data(), mac.size()) != 0) {  // constant time
    return fail("JWT signature verification failed");
  }
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
