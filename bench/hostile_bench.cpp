// The long hostile-frame run: 10 million mutated frames (or argv[1]) at the
// reference server, then at the reference client, in the simulator.
//   build/bench/hostile_bench [frames] [seed]
// Prints frames/s, the outcome mix, and whether each target survived; exit 1
// if one did not. Under the sanitizer build it is the leak and crash hunt.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "conformance/explore/hostile.hpp"

int main(int argc, char** argv) {
  using namespace syncsim::conformance;
  HostileOptions o;
  o.frames = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000;
  o.seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  o.progress = [](const HostileStats& s) {
    std::printf("  %llu frames, %llu sessions\n", static_cast<unsigned long long>(s.frames),
                static_cast<unsigned long long>(s.sessions));
    std::fflush(stdout);
  };
  bool ok = true;
  for (const char* side : {"server", "client"}) {
    const auto t0 = std::chrono::steady_clock::now();
    const HostileStats s =
        std::string(side) == "server" ? hostile_sim_server(o) : hostile_sim_client(o);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "%s: %llu frames, %llu sessions in %.1f s = %.0f frames/s; answered %llu, closed %llu, "
        "waiting %llu; %s\n",
        side, static_cast<unsigned long long>(s.frames),
        static_cast<unsigned long long>(s.sessions), secs, static_cast<double>(s.frames) / secs,
        static_cast<unsigned long long>(s.answered), static_cast<unsigned long long>(s.closed),
        static_cast<unsigned long long>(s.stalled),
        s.alive && s.problem.empty() ? "survived" : s.problem.c_str());
    ok = ok && s.alive && s.problem.empty();
  }
  return ok ? 0 : 1;
}
