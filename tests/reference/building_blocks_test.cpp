// JWT (Appendix C), SHA-256/HMAC, base64url, Gorilla blocks (Appendix B) and
// snapshot data (SHAPE-4), against published and spec known answers.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <bit>

#include "protocol/json.hpp"
#include "reference/gorilla.hpp"
#include "reference/jwt.hpp"
#include "reference/snapshot.hpp"

namespace syncsim::test {
namespace {

using namespace reference;

std::string hex_of(const std::vector<std::uint8_t>& v) { return protocol::to_hex(v); }

TEST(JWT, Sha256AndHmacKnownAnswers) {
  EXPECT_EQ(hex_of(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_of(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_of(sha256(std::string(1000, 'a'))),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  // RFC 4231 test case 2.
  EXPECT_EQ(hex_of(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(JWT, Base64UrlRoundTripsWithOptionalPadding) {
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("-_8"), std::optional<std::string>("\xfb\xff"));
  EXPECT_EQ(base64url_decode("-_8="), std::optional<std::string>("\xfb\xff"));
  EXPECT_EQ(base64url_decode("a"), std::nullopt);
  EXPECT_EQ(base64url_decode("a+b="), std::nullopt);
}

// RFC 4231 cases 1 and 6 (a key longer than the block), and an empty key.
TEST(JWT, HmacKnownAnswersForShortLongAndEmptyKeys) {
  EXPECT_EQ(hex_of(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex_of(hmac_sha256(std::string(131, '\xaa'),
                               "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(hex_of(hmac_sha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// Appendix C: padding optional; the decoder refuses anything else a hostile
// token could hold (D68).
TEST(JWT, Base64UrlDecoderIsStrictAndTotal) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    const std::string text = base64url_encode(bytes);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos) << text;
    EXPECT_EQ(base64url_decode(text), bytes) << text;
    const std::string padded = text + std::string((4 - text.size() % 4) % 4, '=');
    EXPECT_EQ(base64url_decode(padded), bytes) << padded;
    bytes.push_back(static_cast<char>(n * 97 + 200));
  }
  EXPECT_EQ(base64url_decode(""), std::string());
  for (const char* bad : {"-_8==", "-_8A=", "AA===", "A", "A=", "AAAAA", "=", "====", " AAA",
                          "AA\nA", "AA/A", "AA+A", "AA=A", "AA.A",
                          "\xc3\xa9"
                          "AA"}) {
    EXPECT_EQ(base64url_decode(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(base64url_decode(std::string_view("AA\0A", 4)), std::nullopt);
}

const char* kSpecToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsInRlbmFudF9pZCI6MSwiZXhwIjoyMDAwMDAwMDAwfQ."
    "73TtMyL1ihtz7heY6yoxZha9OscBcio1xigSb3M4A_Y";

TEST(AUTH_2, AppendixCKnownAnswerMintsAndVerifies) {
  JwtClaims c;
  c.sub = "alice";
  c.tenant_id = 1;
  c.exp = 2'000'000'000;
  EXPECT_EQ(mint_hs256(c, "syncsim-secret"), kSpecToken);
  JwtConfig cfg;
  cfg.hs256_secret = "syncsim-secret";
  const auto r = verify_jwt(kSpecToken, cfg, 1'900'000'000);
  ASSERT_TRUE(r.claims) << r.error;
  EXPECT_EQ(r.claims->sub, "alice");
  EXPECT_EQ(r.claims->tenant_id, 1u);
}

TEST(AUTH_2, ChecksRunInAppendixCOrder) {
  JwtConfig cfg;
  cfg.hs256_secret = "syncsim-secret";
  auto err = [&](std::string_view token, std::int64_t now = 1'900'000'000) {
    return verify_jwt(token, cfg, now).error;
  };
  EXPECT_EQ(err("a.b"), "malformed JWT token");
  EXPECT_EQ(err("a.b.c.d"), "malformed JWT token");
  EXPECT_EQ(err("!!.e30.e30"), "JWT base64 decoding error");
  EXPECT_EQ(err(base64url_encode("[]") + ".!!.x"),
            "invalid JWT claims");  // header checked before claims decode
  const std::string h = base64url_encode(R"({"alg":"HS256"})");
  EXPECT_EQ(err(h + ".!!.x"), "JWT base64 decoding error");
  EXPECT_EQ(err(h + "." + base64url_encode(R"({"sub":1})") + ".x"), "invalid JWT claims");
  EXPECT_EQ(err(h + "." + base64url_encode(R"({"sub":"a","tenant_id":-1})") + ".x"),
            "invalid JWT claims");
  EXPECT_EQ(err(h + "." + base64url_encode(R"({"sub":"a"})") + ".!!"), "JWT base64 decoding error");
  EXPECT_EQ(err(base64url_encode(R"({"alg":"RS256"})") + "." + base64url_encode(R"({"sub":"a"})") +
                ".AA"),
            "JWT algorithm not supported or not configured");
  EXPECT_EQ(err(h + "." + base64url_encode(R"({"sub":"a"})") + ".AA"),
            "JWT signature verification failed");
  JwtClaims c;
  c.sub = "a";
  c.exp = 1000;
  EXPECT_EQ(err(mint_hs256(c, "syncsim-secret"), 1060), "");  // 60 s leeway
  EXPECT_EQ(err(mint_hs256(c, "syncsim-secret"), 1061), "JWT token expired");
  c.exp = 0;
  c.nbf = 2000;
  EXPECT_EQ(err(mint_hs256(c, "syncsim-secret"), 1940), "");
  EXPECT_EQ(err(mint_hs256(c, "syncsim-secret"), 1939), "JWT token not yet valid");
  c.nbf = 0;
  cfg.issuer = "me";
  EXPECT_EQ(err(mint_hs256(c, "syncsim-secret")), "JWT issuer mismatch");
  c.iss = "me";
  cfg.audience = "you";
  EXPECT_EQ(err(mint_hs256(c, "syncsim-secret")), "JWT audience mismatch");
  JwtConfig none;
  EXPECT_EQ(verify_jwt(kSpecToken, none, 0).error, "JWT algorithm not supported or not configured");
}

TEST(TS_3, GorillaBlocksOfAppendixB) {
  const std::int64_t times[] = {1000, 2000, 3000};
  const double values[] = {1.5, 1.5, 2.5};
  EXPECT_EQ(protocol::to_hex(ts_block_of(times)),
            "03000000"
            "00000000000003e8"
            "0000000000000000"
            "e3e800");
  EXPECT_EQ(protocol::to_hex(val_block_of(values)),
            "0300000000000000000000003ff80000000000008098267ffc");
  const auto decoded = gorilla_decode(val_block_of(values));
  ASSERT_EQ(decoded.size(), 3u);
  EXPECT_EQ(std::bit_cast<double>(decoded[2].value_bits), 2.5);
  EXPECT_EQ(decoded[2].timestamp, 2);
}

TEST(TS_3, GorillaDecodeStopsAtTheFirstSampleThatRunsOutOfBits) {
  const std::int64_t times[] = {1000, 2000, 3000};
  auto block = ts_block_of(times);
  EXPECT_EQ(gorilla_decode(std::span(block).first(4 + 16)).size(), 1u);
  EXPECT_EQ(gorilla_decode(std::span(block).first(3)).size(), 0u);
  // Count 255: after the three samples the 5 padding bits still decode as
  // two 2-bit "same as before" samples; the third runs out of bits.
  block[0] = 0xff;
  EXPECT_EQ(gorilla_decode(block).size(), 5u);
}

RC_GTEST_PROP(TS_3, GorillaRoundTrips,
              (const std::vector<std::int64_t>& ts, const std::vector<std::uint64_t>& vs)) {
  std::vector<GorillaSample> samples;
  for (std::size_t i = 0; i < std::min(ts.size(), vs.size()); ++i)
    samples.push_back({ts[i], vs[i]});
  RC_ASSERT(gorilla_decode(gorilla_encode(samples)) == samples);
}

RC_GTEST_PROP(TS_3, GorillaDecodeOfArbitraryBytesIsBounded,
              (const std::vector<std::uint8_t>& bytes)) {
  RC_ASSERT(gorilla_decode(bytes).size() <= bytes.size() * 4 + 1);
}

TEST(SHAPE_4, SnapshotDataIsSortedPairsOfIdAndValue) {
  std::map<std::string, protocol::Bytes> docs{{"o2", {2}}, {"o1", {1, 1}}};
  const auto data = encode_snapshot_data(docs);
  EXPECT_EQ(protocol::to_hex(data),
            "92"
            "92a26f31c4020101"
            "92a26f32c40102");
  EXPECT_EQ(decode_snapshot_data(data), docs);
  EXPECT_EQ(protocol::to_hex(encode_snapshot_data({})), "90");
  EXPECT_EQ(decode_snapshot_data(protocol::Bytes{0x91}), std::nullopt);
}

}  // namespace
}  // namespace syncsim::test
