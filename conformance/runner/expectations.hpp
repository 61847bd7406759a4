// A scenario's `expect:` judged on a finished run, the same way whether the
// run was simulated or live: MUST findings over the limit, rules that must
// be absent, frame and stat expectations, convergence (the caller's part:
// the simulator compares views with the server's store, a live run the
// clients' views with each other), then the rules a bug scenario demands.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "conformance/runner/runner.hpp"
#include "conformance/runner/scenario.hpp"
#include "protocol/messages.hpp"
#include "reference/client_core.hpp"

namespace syncsim::conformance {

// A frame as the expectations see it: who wrote it on a client's connection,
// `t` ns from the start of the run.
struct SeenFrame {
  std::int64_t t = 0;
  bool from_client = true;
  protocol::Message message;
};

// A client at the end of a run, for stat expectations.
struct ClientAtEnd {
  const reference::ClientCore* core = nullptr;
  std::uint64_t refused = 0;  // writes it refused (FLOW-4)
};

// Judges s.expect into result (failures, then passed). `convergence` adds
// the failures or notes of `converged: true`; it is called only then.
void judge_expectations(const Scenario& s,
                        const std::map<std::string, std::vector<SeenFrame>>& frames,
                        const std::map<std::string, ClientAtEnd>& clients,
                        const std::function<void(ScenarioResult&)>& convergence,
                        ScenarioResult& result);

// "the first difference: "doc-3" is 0x0102 at the client, absent at the server".
std::string first_difference(const std::map<std::string, protocol::Bytes>& client,
                             const std::map<std::string, protocol::Bytes>& server,
                             const std::string& client_side = "the client",
                             const std::string& server_side = "the server");

std::string seconds_text(double s);  // "2.5 s"

}  // namespace syncsim::conformance
