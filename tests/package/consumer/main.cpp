// Uses the installed codec and checker as any C++ project would.
#include <cstdio>

#include "conformance/checker/session_checker.hpp"
#include "protocol/codec.hpp"
#include "protocol/json.hpp"

int main() {
  using namespace syncsim;
  // The golden Ping of the spec (Appendix E).
  const auto bytes = protocol::from_hex("ff0500000092cd3039c2");
  if (!bytes) return 1;
  const auto frame = protocol::decode_frame(*bytes);
  if (!frame.valid()) return 1;
  std::printf("decoded: %s\n",
              protocol::dump_json(protocol::message_to_json(*frame.message)).c_str());
  // A client that pings before its handshake breaks HS-1.
  conformance::SessionChecker checker;
  checker.on_frame(
      conformance::FrameRecord{1000, 1, protocol::Sender::Client, *bytes, conformance::Seen::Both});
  checker.finish(2000);
  for (const auto& f : checker.findings())
    std::printf("finding: %s\n", conformance::format_check_finding(f).c_str());
  return 0;
}
