// Reads traces in the format trace_writer.hpp writes (and `syncsim
// check-trace` documents): frames, connection ends, admin purges and
// state notes (D84), one JSON
// object per line; blank lines and lines starting with '#' are skipped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conformance/checker/session_checker.hpp"

namespace syncsim::conformance {

struct TraceItem {
  enum class Kind { Frame, Close, Purge, Note, Ws, Hangup };
  Kind kind = Kind::Frame;
  FrameRecord frame;  // Frame: the record; Close: its t and conn
  std::uint32_t tenant = 0;
  std::string collection;                            // Purge
  StateNote note;                                    // Note
  WsRecord ws;                                       // Ws
  protocol::Sender side = protocol::Sender::Client;  // Hangup (t, conn in frame)
};

struct TraceRead {
  std::vector<TraceItem> items;
  std::string error;  // "LABEL:LINE: why" when a line is wrong (reading stops there)
};

// Reads every line of `text`; `label` names it in errors (a file name).
TraceRead read_trace(std::string_view text, const std::string& label);

// Feeds the items to the checker, in order.
void replay(SessionChecker& checker, const std::vector<TraceItem>& items);

}  // namespace syncsim::conformance
