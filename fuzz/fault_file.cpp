// The proxy's fault-file reader (`syncsim proxy --faults`).
#include "conformance/live/proxy.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace syncsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto load = conformance::parse_proxy_faults(fuzz::text(data, size), "fuzz.yaml");
  FUZZ_CHECK(load.faults.has_value() != !load.error.empty());
  if (load.faults) {
    (void)conformance::describe_faults(load.faults->to_server);
    (void)conformance::describe_faults(load.faults->to_client);
  }
  return 0;
}
