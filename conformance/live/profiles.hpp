// Deviation profiles: the known deviations of an upstream implementation at
// one commit, as spec §7 lists them (docs/live.md "Deviation profiles",
// D140-D144). A target file's `profile: origin@19ed8a6a` (a server) or
// `profile: lite@b72df15f` (a client) turns a failure that an entry explains
// into the verdict DEVIATION, naming the rule and the §7 item, instead of
// FAIL; a failure no entry explains still fails the run.
//
// Only tables and string matching: no reference/ header (the checker layer
// and the report may use it).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace syncsim::conformance {

// One §7 item as it shows in a verdict. A failure of `rule` is explained when
// its evidence (a MUST finding's message, or the failed case's detail when
// its own script failed) contains `match` (empty: anything) and does not
// contain `except` (empty: nothing excluded). `match`/`except` narrow a broad
// rule to the behaviour §7 describes.
struct DeviationEntry {
  std::string_view item;  // "§7.1 item 9"
  std::vector<std::string_view> rules;
  std::string_view says;  // what upstream does, one line
  std::string_view match;
  std::string_view except;
};

struct DeviationProfile {
  std::string_view name;      // "origin@19ed8a6a"
  std::string_view upstream;  // "NodeDB-Lab/nodedb @ 19ed8a6a"
  std::string_view side;      // "server" or "client": what it describes
  std::vector<DeviationEntry> entries;
};

const std::vector<DeviationProfile>& deviation_profiles();
// The profile called `name`, or nullptr.
const DeviationProfile* find_profile(std::string_view name);
// "origin@19ed8a6a, lite@b72df15f": for messages.
std::string profile_names();

// The entry of `p` that explains a failure of `rule` whose evidence is
// `evidence`, or nullptr.
const DeviationEntry* explaining_entry(const DeviationProfile& p, std::string_view rule,
                                       std::string_view evidence);

// "RESYNC-8 (origin@19ed8a6a, §7.1 item 9: ResyncRequest and Throttle are only logged)"
std::string deviation_text(const DeviationProfile& p, std::string_view rule,
                           const DeviationEntry& e);

// One piece of evidence of a failure: the rule it breaks ("" when it names
// none, e.g. a hook that failed) and what was said of it.
struct DeviationEvidence {
  std::string rule, text;
};

// What a profile makes of a failure's evidence: a rule is explained when
// every piece of evidence of it is; one unexplained piece keeps it failing.
struct DeviationJudgement {
  std::map<std::string, std::string> explained;  // rule -> deviation_text
  std::set<std::string> unexplained;             // rules ("" for evidence naming none)
  // Every piece explained, and there was one: the failure is a DEVIATION.
  bool deviation() const { return !explained.empty() && unexplained.empty(); }
  std::string explained_text() const;  // "RULE (...); RULE (...)"
};
DeviationJudgement judge_deviations(const DeviationProfile& p,
                                    const std::vector<DeviationEvidence>& evidence);

struct RunRecord;
// `run --server` (D144): a failed live run of a scenario that injects no bug,
// each of whose failures the profile explains, gets `deviation` set (what
// each explained rule is) and its failures moved to its notes; a failure
// line "RULE: ..." is evidence of RULE, the MUST-count line evidence of
// every MUST finding, any other line (a step that waited, a hook) of no rule.
// A run with one unexplained failure keeps them all, and a note names the
// explained rules. `p` null: nothing happens.
void apply_profile(RunRecord& r, const DeviationProfile* p);

}  // namespace syncsim::conformance
