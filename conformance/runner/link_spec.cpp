#include "conformance/runner/link_spec.hpp"

#include "protocol/messages.hpp"

namespace syncsim::conformance {

namespace {

std::uint8_t code_of(const std::string& name) {
  for (int code = 0; code < 256; ++code) {
    const auto n = protocol::code_name(static_cast<std::uint8_t>(code));
    if (n == name || (n == "Ping/Pong" && (name == "Ping" || name == "Pong")))
      return static_cast<std::uint8_t>(code);
  }
  return 0;
}

}  // namespace

void apply_link(sim::LinkParams& p, const LinkSpec& k) {
  if (k.latency_ms) p.latency = scenario_ns(*k.latency_ms / 1000);
  if (k.jitter_ms) p.jitter = scenario_ns(*k.jitter_ms / 1000);
  if (k.bandwidth_kbps)
    p.bandwidth_bytes_per_s = static_cast<std::uint64_t>(*k.bandwidth_kbps * 125);
  if (k.segment_loss_ppm) p.segment_loss = sim::Ratio::ppm(*k.segment_loss_ppm);
  if (k.segment_corrupt_ppm) p.segment_corrupt = sim::Ratio::ppm(*k.segment_corrupt_ppm);
  if (k.frames_off) p.frame_faults = false;
  if (k.frames) {
    const FrameFaultSpec& f = *k.frames;
    p.frame_faults = true;
    p.frame_drop = sim::Ratio::ppm(f.drop_ppm);
    p.frame_duplicate = sim::Ratio::ppm(f.duplicate_ppm);
    p.frame_reorder = sim::Ratio::ppm(f.reorder_ppm);
    p.frame_corrupt = sim::Ratio::ppm(f.corrupt_ppm);
    p.frame_inject_unknown = sim::Ratio::ppm(f.inject_unknown_ppm);
    p.frame_inject_undecodable = sim::Ratio::ppm(f.inject_undecodable_ppm);
    p.reorder_window = scenario_ns(f.reorder_window_ms / 1000);
    p.drop_next = f.drop_next;
    if (f.types.empty()) {
      p.frame_types.set();
    } else {
      p.frame_types.reset();
      for (const auto& t : f.types) p.frame_types.set(code_of(t));
    }
  }
}

}  // namespace syncsim::conformance
