// `syncsim check --server URL`: h2spec-style cases against a running server
// nobody here wrote, over TCP or WebSocket. Each case opens its own
// connection, sends a short script, expects answers within a deadline, and
// has every frame judged by the session checker. Every case cites the rule
// it proves; a failing case says what was expected, what arrived, and the
// frames around it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "conformance/checker/session_checker.hpp"
#include "conformance/live/endpoint.hpp"

namespace syncsim::conformance {

enum class Verdict { Pass, Fail, Timeout, Unreachable };
std::string_view verdict_name(Verdict v);  // "PASS", "FAIL", "TIMEOUT", "UNREACHABLE"

struct ServerCaseResult {
  std::string id;    // e.g. "delta-duplicate-acked-with-lsn-0"
  std::string rule;  // e.g. "DELTA-6"
  std::string title;
  Verdict verdict = Verdict::Pass;
  std::string detail;                  // what was expected and what arrived
  std::vector<std::string> frames;     // the case's frames, in order ("-> ..." sent, "<- ..." got)
  std::vector<CheckFinding> findings;  // what the checker found on the case's connection
};

struct ServerCheckOptions {
  Endpoint target;
  std::string token;                               // sent in every Handshake ("" = trust mode)
  std::chrono::milliseconds answer_timeout{2000};  // per expected answer
  std::string filter;                              // only cases whose id or rule contains it
};

struct ServerCaseInfo {
  std::string id, rule, title;
};
const std::vector<ServerCaseInfo>& server_cases();

// Runs the cases in order on `ioc` (which must not be running elsewhere).
// Bounded: each wait has a deadline; an unreachable target ends the run
// after the first case.
std::vector<ServerCaseResult> check_server(boost::asio::io_context& ioc,
                                           const ServerCheckOptions& options);

}  // namespace syncsim::conformance
