// Codec throughput: encode, and decode + validate, of DeltaPush frames with a
// 100-byte and a 64 KiB delta; CRC-32C on the same sizes. Goal (issue 3):
// >= 2M small frames/s decoded and validated on one core.
#include <benchmark/benchmark.h>

#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/frame_stream.hpp"
#include "protocol/validate.hpp"

namespace {

using namespace syncsim::protocol;

DeltaPush make_push(std::size_t delta_size) {
  DeltaPush p;
  p.collection = "orders";
  p.document_id = "order-000042";
  p.delta.resize(delta_size);
  std::uint32_t x = 0x12345678;
  for (auto& b : p.delta) {  // xorshift filler: deterministic, incompressible
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  p.peer_id = 7;
  p.mutation_id = 1'000'000;
  p.checksum = crc32c(p.delta);
  p.device_valid_time_ms = 1'750'000'000'000;
  return p;
}

void BM_EncodeDeltaPush(benchmark::State& state) {
  const Message m = make_push(static_cast<std::size_t>(state.range(0)));
  Bytes out;
  out.reserve(1 << 17);
  std::size_t bytes = 0;
  for (auto _ : state) {
    out.clear();
    append_frame(m, out);
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetLabel("frames/s = items_per_second");
}

void BM_DecodeValidateDeltaPush(benchmark::State& state) {
  const Bytes frame = encode_frame(make_push(static_cast<std::size_t>(state.range(0))));
  for (auto _ : state) {
    DecodedFrame f = decode_frame(frame);
    validate(*f.message, Sender::Client, f.findings, f.offset);
    if (!f.findings.empty()) state.SkipWithError("unexpected finding");
    benchmark::DoNotOptimize(f);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}

// The stream path a TCP receiver takes: 64 back-to-back frames per chunk.
void BM_StreamDecodeValidateDeltaPush(benchmark::State& state) {
  const Bytes one = encode_frame(make_push(static_cast<std::size_t>(state.range(0))));
  Bytes chunk;
  for (int k = 0; k < 64; ++k) chunk.insert(chunk.end(), one.begin(), one.end());
  for (auto _ : state) {
    FrameStream s;
    s.feed(chunk);
    for (;;) {
      StreamEvent ev = s.next();
      if (ev.kind != StreamEvent::Kind::Frame) break;
      DecodedBody b = decode_body(ev.msg_type, ev.body);
      Findings f = validate(*b.message, Sender::Client);
      benchmark::DoNotOptimize(f);
    }
  }
  state.SetItemsProcessed(state.iterations() * 64);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk.size()));
}

void BM_Crc32c(benchmark::State& state) {
  const Bytes data = make_push(static_cast<std::size_t>(state.range(0))).delta;
  for (auto _ : state) benchmark::DoNotOptimize(crc32c(data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
  state.SetLabel(crc32c_is_hardware() ? "sse4.2" : "table");
}

void BM_Crc32cPortable(benchmark::State& state) {
  const Bytes data = make_push(static_cast<std::size_t>(state.range(0))).delta;
  for (auto _ : state) benchmark::DoNotOptimize(crc32c_portable(data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
  state.SetLabel("boost table");
}

BENCHMARK(BM_EncodeDeltaPush)->Arg(100)->Arg(64 * 1024);
BENCHMARK(BM_DecodeValidateDeltaPush)->Arg(100)->Arg(64 * 1024);
BENCHMARK(BM_StreamDecodeValidateDeltaPush)->Arg(100)->Arg(64 * 1024);
BENCHMARK(BM_Crc32c)->Arg(100)->Arg(64 * 1024);
BENCHMARK(BM_Crc32cPortable)->Arg(100)->Arg(64 * 1024);

}  // namespace
