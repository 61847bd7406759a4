// What `syncsim check-trace` does with a file: read the trace, replay it into
// the checker, finish at its last time, print every finding.
#include "conformance/checker/trace_reader.hpp"

#include "conformance/checker/session_checker.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace syncsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto trace = conformance::read_trace(fuzz::text(data, size), "fuzz.jsonl");
  if (!trace.error.empty()) return 0;
  conformance::SessionChecker checker;
  conformance::replay(checker, trace.items);
  const std::int64_t last_t = trace.items.empty() ? 0 : trace.items.back().frame.t;
  checker.finish(last_t, 10'000'000'000);
  for (const auto& f : checker.findings()) (void)conformance::format_check_finding(f);
  return 0;
}
