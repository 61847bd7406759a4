// The scenario reader (`syncsim run`, `explore`): any text must parse or be
// refused with "file:line:col: why", never throw or crash.
#include "conformance/runner/scenario.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace syncsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto load = conformance::parse_scenario(fuzz::text(data, size), "fuzz.yaml");
  FUZZ_CHECK(load.scenario.has_value() != !load.error.empty());
  if (load.scenario) (void)conformance::rules_named(*load.scenario);
  return 0;
}
