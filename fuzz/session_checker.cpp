// The session checker fed any sequence of records, then finished. Byte 0,
// bit 0: the server's Unix clock is known (as live checks know it), which
// turns on TOKEN-9. Then records:
//   kind u8    bit 0 sender (client/server), bits 1-2 seen (written,
//              received, both; 3 = a close), bit 3 with bits 1-2 = 3: a purge
//   conn u8    connection id (few, so sessions interleave)
//   dt u16 LE  milliseconds since the previous record
//   n u16 LE   frame size, then n frame bytes (header included, any bytes)
// Times only grow, as in every trace the harness reads; the deltas reach
// past every deadline (grace 10 s) so liveness rules fire too.
#include "conformance/checker/session_checker.hpp"

#include <algorithm>

#include "fuzz/fuzz_util.hpp"

using namespace syncsim;
using conformance::Seen;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  conformance::CheckerOptions options;
  if (data[0] & 1) options.server_unix_epoch_ms = 1'700'000'000'000;
  conformance::SessionChecker checker(options);
  std::int64_t t = 0;
  std::size_t pos = 1;
  while (size - pos >= 6) {
    const std::uint8_t kind = data[pos];
    const std::uint64_t conn = data[pos + 1];
    t += (std::int64_t{data[pos + 2]} | std::int64_t{data[pos + 3]} << 8) * 1'000'000;
    const std::size_t n =
        std::min<std::size_t>(data[pos + 4] | std::size_t{data[pos + 5]} << 8, size - pos - 6);
    const auto frame = fuzz::bytes(data + pos + 6, n);
    pos += 6 + n;
    const int seen = (kind >> 1) & 3;
    if (seen == 3 && (kind & 8)) {
      checker.on_purge(n > 0 ? frame[0] % 4 : 0, std::string(fuzz::text(frame.data(), n)), t);
    } else if (seen == 3) {
      checker.on_close(conn, t);
    } else {
      conformance::FrameRecord r;
      r.t = t;
      r.conn = conn;
      r.from = (kind & 1) ? protocol::Sender::Server : protocol::Sender::Client;
      r.seen = seen == 0 ? Seen::Written : seen == 1 ? Seen::Received : Seen::Both;
      r.frame.assign(frame.begin(), frame.end());
      checker.on_frame(r);
    }
  }
  checker.finish(t);
  for (const auto& f : checker.findings()) (void)conformance::format_check_finding(f);
  (void)checker.must_count();
  return 0;
}
