// A scenario link (`links:` or an `action: link` step) applied to one
// direction's parameters: the simulator's links and the live proxy's.
#pragma once

#include "conformance/runner/scenario.hpp"
#include "sim/link.hpp"

namespace syncsim::conformance {

// Sets what `k` sets; unset keys keep their value. `frames: off` makes the
// direction a byte stream again.
void apply_link(sim::LinkParams& p, const LinkSpec& k);

}  // namespace syncsim::conformance
