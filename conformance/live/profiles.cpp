#include "conformance/live/profiles.hpp"

#include <algorithm>

#include "conformance/runner/sweep.hpp"
#include "protocol/rules.hpp"

namespace syncsim::conformance {

namespace {

// Spec §7.1, items 2-17 (item 1, a build break fixed 30 s later, touches no
// rule). Item 11 (constraint validation as tenant 0, duplicates re-applied;
// DELTA-6, DELTA-7) is left out: Origin still acknowledges a duplicate with
// lsn 0, so no case or finding sees it, and a DELTA-6/DELTA-7 failure is a
// real defect (D142).
DeviationProfile origin() {
  return {
      "origin@19ed8a6a",
      "NodeDB-Lab/nodedb @ 19ed8a6a",
      "server",
      {
          {"§7.1 item 2", {"DELTA-8"}, "DeltaAck lsn is always 0", "lsn 0", ""},
          {"§7.1 item 2", {"DELTA-15"}, "clock_skew_warning_ms is never set", "", ""},
          {"§7.1 item 3",
           {"SHAPE-3", "SHAPE-6", "SHAPE-9"},
           "no ShapeDelta is ever produced; each ShapeSubscribe registers into a discarded "
           "registry, so unsubscribe and per-shape state have no effect",
           "",
           ""},
          {"§7.1 item 4",
           {"SHAPE-4"},
           "document snapshots say doc_count 1; vector snapshots carry the collection name",
           "",
           ""},
          {"§7.1 item 5",
           {"SESSION-6"},
           "ShapeSubscribe, VectorClockSync and TokenRefresh are served before authentication",
           "",
           ""},
          {"§7.1 item 6",
           {"HS-10", "HS-12"},
           "the session stays authenticated after a fork rejection; an unchanged epoch is "
           "rejected as a fork",
           "",
           ""},
          {"§7.1 item 7",
           {"SESSION-3", "SESSION-8"},
           "idle timeout and outbound queues are only served when a message arrives",
           "",
           ""},
          {"§7.1 item 8", {"TOKEN-9"}, "token expiry is not enforced during a session", "", ""},
          {"§7.1 item 8", {"TOKEN-3"}, "TokenRefreshAck always says 3600 s", "", ""},
          {"§7.1 item 8",
           {"TOKEN-1"},
           "an invalid refresh keeps the session open",
           "disconnect",
           ""},
          {"§7.1 item 9",
           {"RESYNC-8", "THROTTLE-4"},
           "ResyncRequest and Throttle are only logged",
           "",
           ""},
          {"§7.1 item 10",
           {"PURGE-1", "PURGE-3", "PURGE-5"},
           "CollectionPurged goes to every session of the tenant, no offline replay, the "
           "32-slot control queue drops on overflow",
           "",
           "sent to a session of tenant"},  // a notice crossing tenants is not §7's
          {"§7.1 item 12",
           {"THROTTLE-6"},
           "the full delivery queue drops the newest delta",
           "",
           ""},
          {"§7.1 item 13",
           {"PRES-7"},
           "presence auto-join on ShapeSubscribe has no effect",
           "",
           "tenant"},  // presence crossing tenants is not §7's
          {"§7.1 item 14",
           {"DELTA-17"},
           "server-to-client DeltaPush carries a MessagePack row, not a CRDT delta",
           "",
           ""},
          {"§7.1 item 15",
           {"TS-4"},
           "TimeseriesAck lsn is a per-session counter, not a log position",
           "",
           ""},
          {"§7.1 item 16", {"AUTH-1"}, "an empty JWT always authenticates (trust mode)", "", ""},
          {"§7.1 item 17",
           {"ENC-12", "ENC-13", "FRAME-6"},
           "maps in random order; bytes after a body or a frame ignored",
           "",
           ""},
      }};
}

// Spec §7.2, items 1-12 but 11 (a failed CRDT import, logged: no rule).
DeviationProfile lite() {
  return {"lite@b72df15f",
          "NodeDB-Lab/nodedb-lite @ b72df15f",
          "client",
          {
              {"§7.2 item 1",
               {"SHAPE-13", "SHAPE-14", "THROTTLE-2", "PRES-10", "TS-6"},
               "never sends ShapeSubscribe, ShapeUnsubscribe, VectorClockSync, Throttle, "
               "PresenceUpdate or TimeseriesPush",
               "",
               ""},
              {"§7.2 item 2",
               {"PURGE-6", "PING-5"},
               "ignores CollectionPurged, presence, TimeseriesAck, server DeltaPush and the "
               "server's Pings",
               "",
               ""},
              {"§7.2 item 3",
               {"DELTA-13"},
               "a DeltaAck acknowledges every pending mutation at or below its id",
               "",
               ""},
              {"§7.2 item 4",
               {"FLOW-3"},
               "re-sends in-flight mutations every 100-ms tick when the round trip is longer",
               "",
               ""},
              {"§7.2 item 5",
               {"TOKEN-5", "TOKEN-7", "TOKEN-8"},
               "a TokenRefresh every 100 ms while paused; handshakes with the original token; "
               "ignores expires_in_secs",
               "",
               ""},
              {"§7.2 item 6",
               {"HS-11", "HS-12"},
               "always lite_id \"\" and epoch 0; no fork handling",
               "",
               ""},
              {"§7.2 item 7",
               {"VCLOCK-3"},
               "reads server_clock and VectorClockSync keys as hexadecimal peer ids",
               "",
               ""},
              {"§7.2 item 8",
               {"CONN-1"},
               "resets the reconnect counter only after a clean close; the delay overflows at 55",
               "",
               ""},
              {"§7.2 item 9",
               {"RESYNC-3"},
               "sequence tracking not seeded from the snapshot; one re-sync per connection; the "
               "tracked LSN may move backwards",
               "",
               ""},
              {"§7.2 item 10", {"FLOW-4"}, "pending-queue limits are not enforced", "", ""},
              {"§7.2 item 12",
               {"HS-14"},
               "the first WebSocket message of any kind is taken as the handshake answer",
               "",
               ""},
          }};
}

}  // namespace

const std::vector<DeviationProfile>& deviation_profiles() {
  static const std::vector<DeviationProfile> kProfiles = {origin(), lite()};
  return kProfiles;
}

const DeviationProfile* find_profile(std::string_view name) {
  for (const auto& p : deviation_profiles()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string profile_names() {
  std::string out;
  for (const auto& p : deviation_profiles()) out += (out.empty() ? "" : ", ") + std::string(p.name);
  return out;
}

const DeviationEntry* explaining_entry(const DeviationProfile& p, std::string_view rule,
                                       std::string_view evidence) {
  for (const auto& e : p.entries) {
    if (std::find(e.rules.begin(), e.rules.end(), rule) == e.rules.end()) continue;
    if (!e.match.empty() && evidence.find(e.match) == std::string_view::npos) continue;
    if (!e.except.empty() && evidence.find(e.except) != std::string_view::npos) continue;
    return &e;
  }
  return nullptr;
}

std::string deviation_text(const DeviationProfile& p, std::string_view rule,
                           const DeviationEntry& e) {
  return std::string(rule) + " (" + std::string(p.name) + ", " + std::string(e.item) + ": " +
         std::string(e.says) + ")";
}

DeviationJudgement judge_deviations(const DeviationProfile& p,
                                    const std::vector<DeviationEvidence>& evidence) {
  DeviationJudgement j;
  for (const auto& e : evidence) {
    const DeviationEntry* entry = e.rule.empty() ? nullptr : explaining_entry(p, e.rule, e.text);
    if (entry) {
      j.explained.emplace(e.rule, deviation_text(p, e.rule, *entry));
    } else {
      j.unexplained.insert(e.rule);
    }
  }
  for (const auto& rule : j.unexplained) j.explained.erase(rule);
  return j;
}

std::string DeviationJudgement::explained_text() const {
  std::string out;
  for (const auto& [rule, text] : explained) out += (out.empty() ? "" : "; ") + text;
  return out;
}

void apply_profile(RunRecord& r, const DeviationProfile* p) {
  if (!p || r.ok() || r.injects_bugs || !r.unsupported.empty()) return;
  std::vector<DeviationEvidence> evidence;
  for (const auto& f : r.failures) {
    const auto colon = f.find(": ");
    if (colon != std::string::npos && protocol::find_rule(f.substr(0, colon))) {
      evidence.push_back({f.substr(0, colon), f});
    } else if (f.find(" MUST findings (allowed ") != std::string::npos) {
      for (const auto& c : r.findings) {
        if (c.finding.level == protocol::Level::Must)
          evidence.push_back({std::string(c.finding.rule), c.finding.message});
      }
    } else {
      evidence.push_back({"", f});
    }
  }
  const DeviationJudgement j = judge_deviations(*p, evidence);
  if (j.explained.empty()) return;
  if (!j.deviation()) {
    r.notes.push_back("the profile explains " + j.explained_text() + ", not the other failures");
    return;
  }
  r.deviation = "known upstream deviation " + j.explained_text();
  for (auto& f : r.failures) r.notes.push_back("deviation: " + f);
  r.failures.clear();
}

}  // namespace syncsim::conformance
