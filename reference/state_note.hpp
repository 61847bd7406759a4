// A fact a reference side states about its own state, which the wire cannot
// show (D84): "stored definition X", "merged clock". The runner hands notes to
// the checker and the trace, so rules about a side's state are judged in the
// simulator (Scope::Simulator) by the same judges that read the frames.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace syncsim::reference {

struct StateNote {
  std::string kind;                                         // e.g. "definition_stored"
  std::vector<std::pair<std::string, std::string>> fields;  // in the order stated
};

// Where a core sends its notes; `session` is the server's session handle (0 for
// the client, whose shell knows its one connection).
using NoteSink = std::function<void(std::uint64_t session, StateNote)>;

}  // namespace syncsim::reference
