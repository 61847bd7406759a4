// Differential: decode -> encode -> decode is stable, and a frame decoded
// with no finding at all is already canonical, so it re-encodes to the very
// same bytes (§3.7).
#include "fuzz/fuzz_util.hpp"
#include "protocol/codec.hpp"

using namespace syncsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = fuzz::bytes(data, size);
  const auto first = protocol::decode_frame(in);
  if (!first.message) return 0;
  const auto encoded = protocol::encode_frame(*first.message);
  if (first.findings.empty()) {
    FUZZ_CHECK(encoded.size() == size && std::equal(encoded.begin(), encoded.end(), data));
  }
  const auto second = protocol::decode_frame(encoded);
  FUZZ_CHECK(second.message && *second.message == *first.message);
  FUZZ_CHECK(protocol::encode_frame(*second.message) == encoded);
  return 0;
}
