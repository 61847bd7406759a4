// Server-facing cases run by the reference client itself, not a script: two
// reference clients against the target server, directly or through an
// in-process `syncsim proxy` with faults, must end with the same view of a
// collection one of them writes. They prove the server's fan-out (SHAPE-3)
// and its answer to re-syncs (RESYNC-8) the way an application sees them.
#pragma once

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "conformance/live/live_case.hpp"
#include "conformance/live/server_check.hpp"

namespace syncsim::conformance {

const std::vector<CaseInfo>& server_scenario_cases();

// Runs the one named `id` (from server_scenario_cases()) against options.target.
CaseResult run_server_scenario(boost::asio::io_context& ioc, const ServerCheckOptions& options,
                               const CaseInfo& info);

// Two reference clients against options.target, through an in-process proxy
// with `faults` (a proxy fault file's text; "" = direct, seeded by
// proxy_seed): one writes `writes` times to 10 documents of a fresh
// collection, both views must hold the same 10 documents within budget_ms
// (times the time scale), and no MUST finding may blame the server. The
// scenario cases above and `syncsim explore --target` run it.
CaseResult run_convergence(boost::asio::io_context& ioc, const ServerCheckOptions& options,
                           const CaseInfo& info, const std::string& faults, int writes,
                           std::int64_t budget_ms, std::uint64_t proxy_seed);

}  // namespace syncsim::conformance
