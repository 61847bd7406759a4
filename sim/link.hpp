// What the network does to the bytes of one direction of a link (from one
// node to another). Two families of faults, documented as such:
//
// * Byte-stream faults, faithful to TCP: latency, jitter, bandwidth, random
//   segmentation, segment loss repaired by retransmission (it costs time,
//   never data or order), stalls (clog), partitions (data waits until the
//   partition heals) and connection resets. The application sees an ordered,
//   lossless stream or an error, as on a real socket.
// * Frame-level faults, modelling a lossy relay that forwards whole sync
//   frames: drop, duplicate, reorder (within a window) and corrupt (flip a bit
//   of the body). The receiver still gets whole frames, back to back, but not
//   necessarily all of them, once, in order or intact. This is how resync
//   paths are exercised. Enabled by `frame_faults`.
#pragma once

#include <bitset>
#include <cstdint>

#include "sim/prng.hpp"
#include "sim/time.hpp"

namespace syncsim::sim {

struct LinkParams {
  // Delay of every segment/frame: base + uniform[0, jitter] + (with
  // probability tail) an exponential with mean tail_mean.
  Duration latency = 1 * kMillisecond;
  Duration jitter = 0;
  Ratio tail = Ratio::never();
  Duration tail_mean = 0;
  std::uint64_t bandwidth_bytes_per_s = 0;  // 0 = unlimited
  std::uint32_t max_segment = 1460;         // segments are 1..max_segment bytes, drawn at random

  // Byte-stream faults.
  Ratio segment_loss = Ratio::never();  // a lost segment arrives after retransmit_delay
  Duration retransmit_delay = 200 * kMillisecond;
  Ratio segment_corrupt = Ratio::never();  // a broken middlebox: flips one bit of a segment

  // Frame-level faults (lossy relay); only when frame_faults is true.
  bool frame_faults = false;
  Ratio frame_drop = Ratio::never();
  Ratio frame_duplicate = Ratio::never();
  Ratio frame_reorder = Ratio::never();
  Duration reorder_window = 10 * kMillisecond;  // a reordered frame is held up to this long
  Ratio frame_corrupt = Ratio::never();
  // Before a frame, insert a frame of an unknown code (0x99, 4-byte body):
  // receivers must skip it and keep the connection (FRAME-3).
  Ratio frame_inject_unknown = Ratio::never();
  Ratio frame_inject_undecodable = Ratio::never();  // a Ping/Pong whose body is not MessagePack
  // Only frames whose msg_type is set here suffer the faults above.
  std::bitset<256> frame_types = std::bitset<256>().set();
  // Drops exactly the next N eligible frames, then counts down to 0: a
  // targeted loss ("lose one ShapeDelta") without any randomness.
  std::uint32_t drop_next = 0;

  // Bytes a direction holds (in flight + unread) before writers wait.
  std::uint32_t window = 1u << 20;
};

// The delay of one unit under these parameters.
Duration sample_latency(const LinkParams& p, Prng& rng);

}  // namespace syncsim::sim
