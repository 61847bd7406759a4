// The long hostile-frame run: 10 million mutated frames (or argv[1]) at the
// reference server, then at the reference client, in the simulator.
//   build/bench/hostile_bench [frames] [seed]
// Prints frames/s, the outcome mix, and whether each target survived; exit 1
// if one did not; last, each side's frames/s beside the codec's
// decode+validate bound measured in the same run. Under the sanitizer build
// it is the leak and crash hunt.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "conformance/explore/hostile.hpp"
#include "conformance/runner/codec_bound.hpp"

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
  double rate[2] = {0, 0};
  int k = 0;
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
    rate[k++] = static_cast<double>(s.frames) / secs;
  }
  bool sample_ok = true;
  const double bound = codec_bound_frames_per_s(sample_ok);
  // Issue 18's aim: 200k hostile frames/s where the codec's bound was 2.4M
  // frames/s (and the campaign 18.7k): 8.3 % of the bound.
  std::printf(
      "hostile frames/s: server %.0f, client %.0f; the codec's decode+validate bound: %.0f "
      "frames/s; ratio %.1f %% / %.1f %% (issue 18 aims at 8.3 %%: 200k against a 2.4M bound)\n",
      rate[0], rate[1], bound, 100 * rate[0] / bound, 100 * rate[1] / bound);
  return ok && sample_ok ? 0 : 1;
}
