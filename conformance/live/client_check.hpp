// `syncsim check --client`: syncsim plays the server for a client nobody
// here wrote, over TCP or WebSocket. Each case waits for the client to
// connect (started by `--exec` for every case, or by the user, who keeps it
// reconnecting), answers it as a plain server would (handshake, pongs, acks,
// snapshots), and runs a script of server behaviour that a rule says how
// the client must meet: a sequence gap, a flood of shape deltas, a purge, a
// refused handshake, a permission-denied reject. Every frame is judged by
// the session checker; only findings that blame the client count.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <string>
#include <vector>

#include "conformance/live/endpoint.hpp"
#include "conformance/live/live_case.hpp"

namespace syncsim::conformance {

struct ClientCheckOptions {
  Endpoint listen;   // where syncsim listens (port 0: any free port)
  std::string exec;  // a shell command starting the client for each case ("": the user does)
  std::int64_t connect_budget_ms = 10'000;  // how long a case waits for the client to connect
  LiveSuiteOptions suite;
  // The key of the HS256 tokens handed to an --exec'd client (SYNCSIM_TOKEN,
  // SYNCSIM_JWT_SECRET); the scripted server accepts any token (trust).
  std::string jwt_secret = "syncsim-check-secret";
  std::uint32_t tenant = 0;
  bool show_client_output = false;                   // else kept, and its tail shown on failure
  std::function<void(const std::string&)> progress;  // "case X: waiting for the client on ..."
};

struct ClientCheckRun {
  std::string error;  // set when nothing could run (cannot listen)
  std::uint16_t port = 0;
  std::vector<CaseResult> results;
  // D118: the largest tap tolerance a case used, and the round trip behind it.
  std::int64_t max_tap_tolerance_ns = 0, max_round_trip_ns = 0;
};

const std::vector<CaseInfo>& client_cases();

// Runs the selected cases in order on `ioc` (which must not run elsewhere).
// Bounded: every wait has a deadline; a client that never connects ends the
// run after the first case (UNREACHABLE).
ClientCheckRun check_client(boost::asio::io_context& ioc, const ClientCheckOptions& options);

}  // namespace syncsim::conformance
