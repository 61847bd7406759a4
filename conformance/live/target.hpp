// A target file: what the live suites need to know about an implementation
// nobody here wrote (docs/live.md has the reference):
//
//   server: ws://127.0.0.1:9090/sync   # check --server's address (--server wins)
//   token: "eyJ..."                    # a ready-made JWT for every Handshake, or
//   jwt_secret: "s3cret"               # an HS256 key: a fresh token is minted per case
//   tenant: 7                          # tenant_id claim of minted tokens
//   capabilities: [handshake, ping, deltas, shapes]   # default: every family
//   expected_failures: [duplicate-acked-with-lsn-0:DELTA-6, TOKEN-1]  # case:RULE, RULE, case
//   time_scale: 2                      # every wait's budget times this
//   tap_tolerance_ms: 80               # least tap tolerance (D81); round trips raise it (D118)
//   hooks:                             # operator actions for `run --server` (D132)
//     purge: "my-admin purge {tenant} {collection}"
//   hook_timeout_s: 10
//   profile: origin@19ed8a6a           # known upstream deviations (spec §7) are DEVIATION (D140)
//   driver: [write, resubscribe]       # run --client-exec: the stdin contract's commands (D150)
//   settings: {idle_timeout_s: 30, max_sessions: 8}   # its fixed server settings (D185)
//
// A baseline file holds `expected_failures` only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace syncsim::conformance {

struct TargetFile {
  std::string file;
  std::string server;
  std::string token;
  std::string jwt_secret;
  std::uint32_t tenant = 0;
  std::set<std::string> capabilities;  // empty: every family
  std::set<std::string> expected_failures;
  std::optional<double> time_scale;
  std::optional<double> tap_tolerance_ms;
  std::map<std::string, std::string> hooks;  // hook name -> shell command with {placeholders}
  double hook_timeout_s = 10;
  std::string profile;           // a deviation profile's name (profiles.hpp), or ""
  std::set<std::string> driver;  // run --client-exec: the driver commands the client takes (D150)
  // The target's fixed server settings (`settings:`, D185): option name (as a
  // scenario's `server:` spells it) -> value, booleans 1 or 0.
  std::map<std::string, double> settings;
};

struct TargetLoad {
  std::optional<TargetFile> target;
  std::string error;  // "file:line:col: what was expected"
};

// `baseline_only`: the file may hold `expected_failures` and nothing else.
TargetLoad load_target(const std::string& path, bool baseline_only = false);

// The server options a scenario's `server:` may set that a target file can
// declare as its own fixed settings (D185).
const std::set<std::string>& server_setting_names();
TargetLoad parse_target(const std::string& text, const std::string& file,
                        bool baseline_only = false);

// A baseline file listing `ids`, with a header saying where it came from.
std::string baseline_text(const std::set<std::string>& ids, const std::string& origin);

}  // namespace syncsim::conformance
