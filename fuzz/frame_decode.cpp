// decode_frame on any bytes, then what `syncsim decode` does with the result:
// validation, the JSON model (compact and flat) and the findings' text.
#include "fuzz/fuzz_util.hpp"
#include "protocol/codec.hpp"
#include "protocol/json.hpp"
#include "protocol/validate.hpp"

using namespace syncsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto f = protocol::decode_frame(fuzz::bytes(data, size));
  FUZZ_CHECK(f.offset == 0);
  for (const auto& finding : f.findings) (void)protocol::format_finding(finding);
  if (!f.message) return 0;
  FUZZ_CHECK(protocol::message_code(*f.message) == f.msg_type);
  (void)protocol::validate(*f.message, protocol::Sender::Unknown);
  const auto j = protocol::message_to_json(*f.message);
  (void)protocol::dump_json(j);
  (void)protocol::flatten_json(j);
  return 0;
}
