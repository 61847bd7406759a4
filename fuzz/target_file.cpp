// The target-file and baseline reader (`check --target`, `--baseline`).
// Byte 0 chooses baseline-only mode; the rest is the file.
#include <algorithm>
#include <cctype>

#include "conformance/live/target.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace syncsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool baseline_only = data[0] & 1;
  const auto load =
      conformance::parse_target(fuzz::text(data + 1, size - 1), "fuzz.yaml", baseline_only);
  FUZZ_CHECK(load.target.has_value() != !load.error.empty());
  // What `check --write-baseline` writes (case and rule IDs) reads back.
  const auto plain = [](const std::string& id) {
    return !id.empty() && std::isalnum(static_cast<unsigned char>(id[0])) &&
           std::all_of(id.begin(), id.end(), [](unsigned char c) {
             return std::isalnum(c) || c == '-' || c == '_' || c == '.';
           });
  };
  if (load.target && std::all_of(load.target->expected_failures.begin(),
                                 load.target->expected_failures.end(), plain)) {
    const auto text = conformance::baseline_text(load.target->expected_failures, "fuzz");
    const auto again = conformance::parse_target(text, "baseline.yaml", true);
    FUZZ_CHECK(again.target && again.target->expected_failures == load.target->expected_failures);
  }
  return 0;
}
