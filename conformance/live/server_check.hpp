// `syncsim check --server URL`: h2spec-style cases against a running server
// nobody here wrote, over TCP or WebSocket. Each case opens its own
// connection, sends a short script, expects answers within a deadline, and
// has every frame judged by the session checker. Every case cites the rule
// it proves; a failing case says what was expected, what arrived, and the
// frames around it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "conformance/checker/session_checker.hpp"
#include "conformance/live/endpoint.hpp"
#include "conformance/live/live_case.hpp"

namespace syncsim::conformance {

struct ServerCheckOptions {
  Endpoint target;
  std::string token;         // sent in every Handshake ("" = trust mode)
  std::string jwt_secret;    // HS256 key: cases that mint tokens (expiry, tenants) need it
  std::uint32_t tenant = 0;  // the tenant of `token`; minted tokens use it and the next one
  // The target's operator hooks (purge, define...): cases that need one they
  // lack are UNSUPPORTED; a hook that fails is an ERROR of the run (D132).
  std::map<std::string, std::string> hooks;
  double hook_timeout_s = 10;
  std::int64_t answer_budget_ms = 2000;  // per expected answer, times suite.time_scale
  LiveSuiteOptions suite;
};

const std::vector<CaseInfo>& server_cases();

// Runs the selected cases in order on `ioc` (which must not be running
// elsewhere); unsupported ones are reported, not run; baselined ones XFAIL.
// Bounded: each wait has a deadline; an unreachable target ends the run
// after the first case.
std::vector<ServerCaseResult> check_server(boost::asio::io_context& ioc,
                                           const ServerCheckOptions& options);

}  // namespace syncsim::conformance
