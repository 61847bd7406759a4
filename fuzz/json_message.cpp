// The JSON model reader `syncsim encode` uses: any text, parsed as it parses
// a line, then message_from_json. A message it accepts must encode, decode
// back to itself, and read back from its own JSON.
#include "fuzz/fuzz_util.hpp"
#include "protocol/codec.hpp"
#include "protocol/json.hpp"

using namespace syncsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = protocol::Json::parse(fuzz::text(data, size), nullptr, false);
  if (j.is_discarded()) return 0;
  const auto m = protocol::message_from_json(j);
  if (!m.message) {
    FUZZ_CHECK(!m.error.empty());
    return 0;
  }
  const auto frame = protocol::encode_frame(*m.message);
  if (frame.size() > protocol::kMaxFrameSize) return 0;  // `encode` refuses it (FRAME-9)
  const auto back = protocol::decode_frame(frame);
  FUZZ_CHECK(back.message && *back.message == *m.message);
  const auto again = protocol::message_from_json(protocol::message_to_json(*m.message));
  FUZZ_CHECK(again.message && *again.message == *m.message);
  return 0;
}
