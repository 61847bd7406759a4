// Prints the trace of the chatter workload for a seed (argv[1]) on stdout.
// Built twice, at -O0 and at -O2, so a test can show the optimizer does not
// change a run (tests/CMakeLists.txt: sim.trace_identical_at_O0_and_O2).
#include <cstdlib>
#include <iostream>

#include "sim/demo/chatter.hpp"

int main(int argc, char** argv) {
  syncsim::sim::demo::ChatterOptions o;
  o.seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1;
  o.run_for = 3 * syncsim::sim::kSecond;
  o.trace_out = &std::cout;
  const auto r = syncsim::sim::demo::run_chatter(o);
  std::cout << "trace hash " << std::hex << r.trace_hash << "\n";
  return 0;
}
