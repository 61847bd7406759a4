// JWT validation exactly as PROTOCOL.md Appendix C profiles it (HS256 with a
// configured secret; RS256 is not configured in the reference server), and
// minting of HS256 tokens for scenarios. Checks run in the Appendix's order
// and the first failure's text is the answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/base64url.hpp"

namespace syncsim::reference {

struct JwtConfig {
  std::optional<std::string> hs256_secret;  // none: every non-empty token fails at step 7
  std::optional<std::string> issuer;        // step 11 when set
  std::optional<std::string> audience;      // step 12 when set
};

struct JwtClaims {
  std::string sub;
  std::uint32_t tenant_id = 0;
  std::uint64_t user_id = 0;
  std::int64_t exp = 0;  // 0: no expiry
  std::int64_t nbf = 0;
  std::int64_t iat = 0;
  std::optional<std::string> iss, aud;
  std::vector<std::string> roles;
  bool is_superuser = false;
};

struct JwtResult {
  std::optional<JwtClaims> claims;  // set when valid
  std::string error;                // Appendix C text otherwise
};

// Validates `token` at `now_s` (server clock, whole seconds; 60 s leeway).
JwtResult verify_jwt(std::string_view token, const JwtConfig& config, std::int64_t now_s);

// An HS256 token for these claims (header {"alg":"HS256","typ":"JWT"}).
// Zero/empty optional claims are left out.
std::string mint_hs256(const JwtClaims& claims, std::string_view secret);

// Building blocks, exposed for tests.
std::vector<std::uint8_t> sha256(std::string_view data);
std::vector<std::uint8_t> hmac_sha256(std::string_view key, std::string_view data);
using protocol::base64url_decode;
using protocol::base64url_encode;

}  // namespace syncsim::reference
