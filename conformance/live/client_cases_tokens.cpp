// check --client cases of §5.2: when the client refreshes its token.
#include <algorithm>

#include "conformance/live/client_case.hpp"

namespace syncsim::conformance::client_case {

using namespace protocol;

namespace {

// TOKEN-10 asks only that no push is ever rejected "token expired": the
// server allows 60 s past exp (AUTH-3), so the refresh must pass here by
// then, less a second for its trip (D119), not at a set share of the
// lifetime (TOKEN-5 is the client's own plan).
std::int64_t until_leeway_ends(const View& s) {
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const std::int64_t left_ms = (s.token_exp + 60) * 1000 - 1000 - now_ms;
  return s.unscaled(std::max<std::int64_t>(0, left_ms));
}

Outcome has_expiring_token(const View& s) {
  if (s.sent_token && s.token_exp > 0) return ok();
  return {Verdict::Unsupported,
          "the client sent no token with an expiry (give it SYNCSIM_TOKEN to run this case)"};
}

}  // namespace

std::vector<Case> token_cases() {
  Policy deny;
  deny.reject_pushes = true;
  Case expiring{
      {"token-refreshed-before-expiry", "TOKEN-10",
       "a token that expires in 5 s is refreshed before the server's 60 s leeway ends", "tokens"},
      {},
      {handshaken(), judge(has_expiring_token),
       with_budget(
           until_leeway_ends,
           expect<TokenRefresh>("a TokenRefresh before exp + 60 s (the server's leeway)", 0))}};
  expiring.token_lifetime_ms = 5000;
  return {
      expiring,
      {{"permission-denied-refreshes", "TOKEN-6",
        "a push rejected with PermissionDenied makes the client refresh its token", "tokens"},
       deny,
       {handshaken(), pushed(), expect<TokenRefresh>("a TokenRefresh", 3000)}},
  };
}

}  // namespace syncsim::conformance::client_case
