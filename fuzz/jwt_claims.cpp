// Tokens from third parties: the checker's peek at a JWT's claims (tenant,
// exp), base64url both ways, and the reference server's full validation
// (Appendix C) of the same text. Byte 0 picks the verify clock's sign.
#include "fuzz/fuzz_util.hpp"
#include "protocol/base64url.hpp"
#include "reference/jwt.hpp"

using namespace syncsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string token = fuzz::text(data, size);
  (void)protocol::peek_token_claims(token);
  if (const auto raw = protocol::base64url_decode(token)) {
    // What decodes re-encodes to the same bytes' canonical (unpadded) form.
    FUZZ_CHECK(protocol::base64url_decode(protocol::base64url_encode(*raw)) == raw);
  }
  FUZZ_CHECK(protocol::base64url_decode(protocol::base64url_encode(token)) == token);
  reference::JwtConfig config;
  config.hs256_secret = "fuzz-secret";
  config.issuer = "iss";
  const std::int64_t now = size > 0 && (data[0] & 1) ? -1'000'000 : 1'700'000'000;
  const auto r = reference::verify_jwt(token, config, now);
  FUZZ_CHECK(r.claims.has_value() == r.error.empty());
  return 0;
}
