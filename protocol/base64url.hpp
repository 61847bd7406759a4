// Base64url (RFC 4648 §5) and a look at a JWT's claims without verifying it.
// The checker uses the peek to learn a session's tenant and token expiry
// from the Handshake it judges; verification is the server's job (App. C).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace syncsim::protocol {

std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);  // padding optional

struct TokenClaims {
  std::uint32_t tenant_id = 0;  // absent: 0 (AUTH-4)
  std::int64_t exp = 0;         // Unix s; absent: 0 = never expires
  // AUTH-4's username: `sub`, or "jwt_user_<user_id>" when `sub` is empty;
  // nullopt when either claim is missing or mistyped (PRES-2's user_id).
  std::optional<std::string> username;
};

// The tenant and expiry a JWT claims, if its middle part is base64url JSON
// with well-typed claims; nullopt otherwise. The signature is not checked.
std::optional<TokenClaims> peek_token_claims(std::string_view token);

}  // namespace syncsim::protocol
