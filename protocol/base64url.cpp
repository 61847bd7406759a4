#include "protocol/base64url.hpp"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "protocol/assert.hpp"

namespace syncsim::protocol {

// OpenSSL codes standard base64 (RFC 4648 §4); the URL-safe alphabet (§5)
// differs in two characters and JWTs leave the padding out (D68).
std::string base64url_encode(std::string_view bytes) {
  if (bytes.empty()) return {};
  SYNCSIM_ASSERT_MSG(bytes.size() <= (std::size_t{1} << 30), "base64url_encode: input over 1 GiB");
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + EVP_EncodeBlock's NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  SYNCSIM_ASSERT(n >= 0 && static_cast<std::size_t>(n) < out.size());
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

// Strict and total: characters outside the URL-safe alphabet, padding that is
// not exactly what the length needs, and a length no encoding has (4k + 1)
// are refused before OpenSSL sees the text, so it never meets whitespace or
// '+' and '/', which it would take.
std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() > (std::size_t{1} << 30)) return std::nullopt;  // an int for OpenSSL
  std::size_t pad = 0;
  while (pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  const std::string_view data = text.substr(0, text.size() - pad);
  const std::size_t rem = data.size() % 4;
  if (rem == 1 || pad > 2 || (pad > 0 && rem + pad != 4)) return std::nullopt;
  std::string std64(data);
  for (char& c : std64) {
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (!plain)
      return std::nullopt;
  }
  const std::size_t fill = rem == 0 ? 0 : 4 - rem;
  std64.append(fill, '=');
  if (std64.empty()) return std::string{};
  std::string out(std64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(std64.data()),
                                static_cast<int>(std64.size()));
  // EVP_DecodeBlock counts the padding's zero bytes in its result.
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - fill);
  return out;
}

std::optional<TokenClaims> peek_token_claims(std::string_view token) {
  const auto first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  const auto text = base64url_decode(token.substr(first + 1, second - first - 1));
  if (!text) return std::nullopt;
  const auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  TokenClaims c;
  if (j.contains("tenant_id")) {
    if (!j["tenant_id"].is_number_unsigned() || j["tenant_id"].get<std::uint64_t>() > 0xffffffffULL)
      return std::nullopt;
    c.tenant_id = static_cast<std::uint32_t>(j["tenant_id"].get<std::uint64_t>());
  }
  if (j.contains("exp")) {
    if (!j["exp"].is_number_integer()) return std::nullopt;
    c.exp = j["exp"].get<std::int64_t>();
  }
  if (j.contains("sub") && j["sub"].is_string()) {
    const auto sub = j["sub"].get<std::string>();
    if (!sub.empty()) {
      c.username = sub;
    } else if (!j.contains("user_id")) {
      c.username = "jwt_user_0";
    } else if (j["user_id"].is_number_unsigned()) {
      c.username = "jwt_user_" + std::to_string(j["user_id"].get<std::uint64_t>());
    }
  }
  return c;
}

}  // namespace syncsim::protocol
