// The codec's throughput bound, measured in the calling process: the
// benchmarks (`syncsim run --bench`, bench/hostile_bench) print their
// frames/s beside it, so a ratio compares runs on different machines.
// Wall-clock time is read here only to measure; it never shapes a run.
#pragma once

#include <chrono>
#include <cstdint>

#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/validate.hpp"

namespace syncsim::conformance {

// Small DeltaPush frames (100-byte delta, protocol_bench's case) decoded and
// validated for about 0.3 s; frames per second. Sets `sample_ok` false if
// the sample frame drew findings (it must not).
inline double codec_bound_frames_per_s(bool& sample_ok) {
  protocol::DeltaPush p;
  p.collection = "orders";
  p.document_id = "order-000042";
  p.delta.assign(100, 0x5a);
  p.peer_id = 7;
  p.mutation_id = 1'000'000;
  p.checksum = protocol::crc32c(p.delta);
  p.device_valid_time_ms = 1'750'000'000'000;
  const protocol::Bytes frame = protocol::encode_frame(p);
  std::uint64_t n = 0, checksum = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double wall = 0;
  while (wall < 0.3) {
    for (int k = 0; k < 10'000; ++k, ++n) {
      protocol::DecodedFrame f = protocol::decode_frame(frame);
      protocol::validate(*f.message, protocol::Sender::Client, f.findings, f.offset);
      checksum += f.findings.size() + f.offset;  // used below: not optimized away
    }
    wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  sample_ok = checksum == 0;
  return static_cast<double>(n) / wall;
}

}  // namespace syncsim::conformance
