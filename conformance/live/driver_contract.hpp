// The driver contract (docs/live.md, "Drive your client: the stdin
// contract", D150): how `run --client-exec` tells a client under test to do
// a scenario's client steps. One command per line on the client's stdin,
// words separated by one space, at most kDriverMaxLine bytes; the first line
// is "hello 1" (the contract's version). Nothing is answered: the client's
// stdout and stderr are logs. Binary values travel as lowercase hex.
//
//   hello 1                                     the contract's version
//   write <collection> <document> <value_hex>   one application write ("-": delete)
//   presence <channel> <state_hex>              join or update presence on a channel
//   samples <collection> <count>                record <count> timeseries samples now
//   apply-rate <per_s>                          apply at most per_s data frames/s (0: at once)
//   corrupt-state                               the local store is found corrupt (RESYNC-5)
//   resubscribe                                 subscribe the shapes again (SHAPE-5)
//   unsubscribe <collection>                    end its shapes of it, for good (SHAPE-6)
//   quit                                        the run is over: close and exit
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "conformance/runner/vocabulary.hpp"
#include "protocol/messages.hpp"

namespace syncsim::conformance {

inline constexpr int kDriverVersion = 1;
inline constexpr std::size_t kDriverMaxLine = 4096;  // bytes, without the newline

// A line is hello, quit, or a client step of the scenario vocabulary (those
// a reference client does live: write, presence, samples, apply-rate,
// corrupt-state, resubscribe, unsubscribe), named as in a scenario's `action:`.
enum class DriverVerb : std::uint8_t { Hello, Step, Quit };

struct DriverCommand {
  DriverVerb verb = DriverVerb::Quit;
  StepKind step = StepKind::Write;            // with DriverVerb::Step
  std::string collection, document, channel;  // write, samples, unsubscribe; write; presence
  protocol::Bytes value;     // write's value (empty: a delete, "-" on the line), presence's state
  std::uint64_t number = 0;  // hello's version, samples' count, apply-rate's rate
};

struct DriverParse {
  std::optional<DriverCommand> command;
  std::string error;  // why the line is not a command of the contract
};

// The commands a client may declare (`--client-driver`, the target's
// `driver:`): the client steps; hello and quit every driven client takes.
const std::set<std::string>& driver_verb_names();
std::string_view driver_verb_name(const DriverCommand& c);  // "hello", "write", ...

// One line (without its newline) to a command, or a clear error.
DriverParse parse_driver_line(std::string_view line);
// The line for a command (without the newline); parse_driver_line reads it back.
std::string driver_line(const DriverCommand& c);

// A "a,b,c" or "all" or "none" list of verbs; false with `error` on an unknown one.
bool parse_driver_verbs(const std::string& text, std::set<std::string>& verbs, std::string& error);

}  // namespace syncsim::conformance
