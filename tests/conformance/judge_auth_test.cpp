// The auth judge (AUTH-1 to AUTH-5): for each rule a trace that breaks it
// and one that keeps it.
#include <gtest/gtest.h>

#include "tests/conformance/checker_trace.hpp"

namespace syncsim::test {
namespace {

using namespace checker_trace;

std::optional<Sender> auth_blamed(const Trace& tr, std::string_view rule) {
  for (const auto& f : tr.checker.findings()) {
    if (f.finding.rule == rule) return f.blamed;
  }
  return std::nullopt;
}

HandshakeAck auth_failed(std::string error) {
  HandshakeAck a;
  a.session_id = "sync-a:1-1";
  a.error = std::move(error);
  a.server_wire_version = 4;
  return a;
}

conformance::CheckerOptions with_trust(bool on) {
  conformance::CheckerOptions o;
  o.server_profile.trust_mode = on;
  return o;
}

TEST(AUTH_1, TheEmptyTokenFollowsTheTrustMode) {
  Trace on(with_trust(true));
  on.c(hs());
  on.s(auth_failed("malformed JWT token"));
  EXPECT_TRUE(on.has("AUTH-1")) << on.all();
  EXPECT_EQ(auth_blamed(on, "AUTH-1"), Sender::Server);

  Trace off(with_trust(false));
  off.c(hs());
  off.s(ok_ack());
  EXPECT_TRUE(off.has("AUTH-1")) << off.all();

  Trace other(with_trust(false));
  other.c(hs());
  other.s(auth_failed("JWT token expired"));
  EXPECT_TRUE(other.has("AUTH-1")) << other.all();
}

TEST(AUTH_1, TrustModeOnAuthenticatesAndOffRefusesAsMalformed) {
  Trace on(with_trust(true));
  on.c(hs());
  on.s(ok_ack());
  EXPECT_FALSE(on.has("AUTH-1")) << on.all();

  Trace off(with_trust(false));
  off.c(hs());
  off.s(auth_failed("malformed JWT token"));
  EXPECT_FALSE(off.has("AUTH-1")) << off.all();

  Trace unknown;  // no profile: not judged
  unknown.c(hs());
  unknown.s(auth_failed("malformed JWT token"));
  EXPECT_FALSE(unknown.has("AUTH-1")) << unknown.all();
}

TEST(AUTH_2, AStructurallyBadTokenFailsWithItsStepsText) {
  Trace accepted;
  accepted.c(hs("not-a-jwt"));
  accepted.s(ok_ack());
  EXPECT_TRUE(accepted.has("AUTH-2")) << accepted.all();
  EXPECT_EQ(auth_blamed(accepted, "AUTH-2"), Sender::Server);

  Trace wrong_text;  // valid header, claims without "sub": step 5
  wrong_text.c(
      hs(base64url_encode(R"({"alg":"HS256"})") + "." + base64url_encode(R"({"x":1})") + ".c2ln"));
  wrong_text.s(auth_failed("JWT signature verification failed"));
  EXPECT_TRUE(wrong_text.has("AUTH-2")) << wrong_text.all();

  Trace well_formed;  // a well-formed token is not refused as malformed
  well_formed.c(hs(token(0)));
  well_formed.s(auth_failed("invalid JWT claims"));
  EXPECT_TRUE(well_formed.has("AUTH-2")) << well_formed.all();
}

TEST(AUTH_2, EachStepAnswersItsOwnText) {
  const std::pair<std::string, std::string> cases[] = {
      {"a.b", "malformed JWT token"},
      {"a.b.c.d", "malformed JWT token"},
      {"!!.e30.c2ln", "JWT base64 decoding error"},
      {base64url_encode("[]") + ".e30.c2ln", "invalid JWT claims"},
      {base64url_encode(R"({"alg":"HS256"})") + ".!!.c2ln", "JWT base64 decoding error"},
      {base64url_encode(R"({"alg":"HS256"})") + "." + base64url_encode(R"({"sub":1})") + ".c2ln",
       "invalid JWT claims"},
      {base64url_encode(R"({"alg":"HS256"})") + "." + base64url_encode(R"({"sub":"u","exp":1.5})") +
           ".c2ln",
       "invalid JWT claims"},
      {base64url_encode(R"({"alg":"HS256"})") + "." + base64url_encode(R"({"sub":"u"})") + ".!!",
       "JWT base64 decoding error"},
      {token(0), "JWT signature verification failed"},
      {token(0), "JWT algorithm not supported or not configured"},
  };
  for (const auto& [tok, error] : cases) {
    Trace tr;
    tr.c(hs(tok));
    tr.s(auth_failed(error));
    EXPECT_FALSE(tr.has("AUTH-2")) << tok << tr.all();
  }
  Trace ok;
  ok.c(hs(token(0)));
  ok.s(ok_ack());
  EXPECT_FALSE(ok.has("AUTH-2")) << ok.all();
}

conformance::CheckerOptions server_clock_at(std::int64_t unix_s) {
  conformance::CheckerOptions o;
  o.server_unix_epoch_ms = unix_s * 1000;
  return o;
}

TEST(AUTH_3, AnExpiredTokenNeverAuthenticates) {
  Trace tr(server_clock_at(1'000'000));
  tr.c(hs(token(1'000'000 - 300)));  // expired 5 min ago, beyond the 60 s leeway
  tr.s(ok_ack());
  EXPECT_TRUE(tr.has("AUTH-3")) << tr.all();
  EXPECT_EQ(auth_blamed(tr, "AUTH-3"), Sender::Server);

  Trace early(server_clock_at(1'000'000));
  early.c(hs(token(1'000'000 + 300)));
  early.s(auth_failed("JWT token expired"));
  EXPECT_TRUE(early.has("AUTH-3")) << early.all();
}

TEST(AUTH_3, TheLeewayIsSixtySeconds) {
  Trace within(server_clock_at(1'000'000));
  within.c(hs(token(1'000'000 - 30)));  // expired 30 s ago: still accepted
  within.s(ok_ack());
  EXPECT_FALSE(within.has("AUTH-3")) << within.all();

  Trace expired(server_clock_at(1'000'000));
  expired.c(hs(token(1'000'000 - 300)));
  expired.s(auth_failed("JWT token expired"));
  EXPECT_FALSE(expired.has("AUTH-3")) << expired.all();

  Trace no_clock;  // without the server's clock: not judged
  no_clock.c(hs(token(1)));
  no_clock.s(ok_ack());
  EXPECT_FALSE(no_clock.has("AUTH-3")) << no_clock.all();
}

TEST(AUTH_4, ASessionHearsOnlyOfItsTenantsPurges) {
  Trace tr;
  tr.c(hs(token(0, 1)));
  tr.s(ok_ack());
  tr.s(CollectionPurged{0, "orders", 3});
  EXPECT_TRUE(tr.has("AUTH-4")) << tr.all();
  EXPECT_EQ(auth_blamed(tr, "AUTH-4"), Sender::Server);

  Trace ok;
  ok.c(hs(token(0, 1)));
  ok.s(ok_ack());
  ok.s(CollectionPurged{1, "orders", 3});
  EXPECT_FALSE(ok.has("AUTH-4")) << ok.all();
}

TEST(AUTH_5, AFailedReauthenticationLeavesTheSessionUnauthenticated) {
  Trace tr;
  tr.c(hs(token(0)));
  tr.s(ok_ack());
  tr.c(hs("bad"));
  tr.s(auth_failed("malformed JWT token"));
  tr.s(CollectionPurged{0, "orders", 3});
  EXPECT_TRUE(tr.has("AUTH-5")) << tr.all();
  EXPECT_EQ(auth_blamed(tr, "AUTH-5"), Sender::Server);
}

TEST(AUTH_5, ASuccessfulReauthenticationServesAsBefore) {
  Trace tr;
  tr.c(hs(token(0)));
  tr.s(ok_ack());
  tr.c(hs("bad"));
  tr.s(auth_failed("malformed JWT token"));
  tr.c(hs(token(0)));
  tr.s(ok_ack());
  tr.s(CollectionPurged{0, "orders", 3});
  EXPECT_FALSE(tr.has("AUTH-5")) << tr.all();
}

}  // namespace
}  // namespace syncsim::test
