// The declarative form of `check --server`'s scripted cases (internal to
// server_check.cpp and the server_cases_*.cpp files, one per family). A case
// is a list of steps over one or more connections of its own: send a frame,
// expect an answer, close a connection, wait and judge what arrived, or wait
// until something has arrived. Every wait is a budget times the time scale.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conformance/live/live_case.hpp"
#include "protocol/messages.hpp"

namespace syncsim::conformance::server_case {

using Clock = std::chrono::steady_clock;
using protocol::Bytes;
using protocol::Message;

// A frame a connection received, and when.
struct Received {
  Message message;
  Clock::time_point at;
};

// What the steps of a case see: every frame each connection received so far.
struct View {
  std::vector<std::vector<Received>> conns;
  std::vector<std::vector<Bytes>> undecodable;  // per connection: frames whose body did not decode
  Clock::time_point step_started;
  const std::vector<Received>& of(std::size_t conn) const {
    static const std::vector<Received> kNone;
    return conn < conns.size() ? conns[conn] : kNone;
  }
};

struct Step {
  enum class Kind { Send, SendRaw, Expect, Close, Hold, Await, Hook } kind = Kind::Send;
  std::size_t conn = 0;           // the case's connection it acts on (opened at first use)
  Message message;                // Send
  std::function<Message()> make;  // Send: built when sent (a token minted then), else `message`
  Bytes raw;                      // SendRaw
  // Expect: the first frame on `conn` not yet consumed that matches; frames a
  // server sends on its own are skipped, other answers fail the case unless
  // `others_allowed`.
  std::string want;
  std::function<bool(const Message&)> matches;
  bool others_allowed = false;
  // Expect: a frame that must not come before the awaited one (it fails the case).
  std::function<bool(const Message&)> forbidden;
  std::string forbidden_says;  // why, e.g. "a ShapeDelta before its ShapeSnapshot (SHAPE-3)"
  // Expect/Await: budget in ms (0: the suite's answer budget); Hold: how long to wait.
  std::int64_t ms = 0;
  bool unscaled = false;  // Hold/Await: `ms` is what the server's clock needs (token expiry)
  // Await: waits until `ready` holds (TIMEOUT otherwise); Hold: waits `ms`,
  // then `judge` says what is wrong ("" = nothing).
  std::function<bool(const View&)> ready;
  std::function<std::string(const View&)> judge;
  // Expect/Await: where the spec makes a harness choice NodeDB does not make
  // (own writes echoed, re-syncs answered by snapshots), an answer that never
  // comes is a FAIL naming the rule and the choice, never a TIMEOUT (D127).
  std::string choice;
  // Hook: the target's operator hook `hook` called with `hook_values` as its
  // {placeholders} (D132); it must end within hook_timeout_s with exit 0, else
  // the case is an ERROR of the run.
  std::string hook;
  std::map<std::string, std::string> hook_values;
};

struct Case {
  CaseInfo info;
  std::vector<Step> steps;
  bool mints_tokens = false;  // needs the JWT secret (UNSUPPORTED without it)
};

// What the cases are built from, per run.
struct CaseContext {
  std::string token;       // the run's token for every Handshake ("" = trust mode)
  std::string jwt_secret;  // HS256 key to mint tokens with ("" = cases that mint are unsupported)
  std::uint32_t tenant = 0;
  std::string tag;  // unique per run: collection names of their own
  // A token of `tenant` expiring at `exp` (Unix s; 0: an hour from now), minted now.
  std::string mint(std::uint32_t tenant, std::int64_t exp = 0) const;
  std::string collection(const std::string& name) const { return "syncsim_" + tag + "_" + name; }
};

// ---- building steps --------------------------------------------------------

Step send(Message m, std::size_t conn = 0);
Step send_made(std::function<Message()> make, std::size_t conn = 0);
Step send_raw(Bytes b, std::size_t conn = 0);
Step close_conn(std::size_t conn);
Step hold(std::int64_t ms, std::function<std::string(const View&)> judge);
Step await(std::string want, std::function<bool(const View&)> ready, std::int64_t ms = 0);
Step on(std::size_t conn, Step s);
Step eventually(Step s);
Step with_choice(Step s, std::string choice);
Step forbidding(Step s, std::function<bool(const Message&)> forbidden, std::string says);
Step within(std::int64_t ms, Step s);
Step operator_hook(std::string name, std::map<std::string, std::string> values);
// The hooks a case calls (UNSUPPORTED when the target declares one of them not).
std::vector<std::string> hooks_of(const Case& c);

template <class T>
Step expect(std::string want, std::function<bool(const T&)> ok = {}) {
  Step s;
  s.kind = Step::Kind::Expect;
  s.want = std::move(want);
  s.matches = [ok](const Message& m) {
    const auto* t = std::get_if<T>(&m);
    return t && (!ok || ok(*t));
  };
  return s;
}

// Frames a server may send on its own; they never answer a request.
bool unsolicited(const Message& m);

protocol::Handshake handshake(const std::string& token, std::uint16_t wire_version = 1);
protocol::DeltaPush push(std::uint64_t id, Bytes delta = {7, 1},
                         const std::string& collection = "syncsim_check");
protocol::ShapeDefinition document_shape(const std::string& shape_id,
                                         const std::string& collection);
Step handshake_ok(std::size_t conn = 0);  // expects HandshakeAck{success: true}
Step acked(std::uint64_t id, std::size_t conn = 0);
Step pong(std::uint64_t ts, std::size_t conn = 0);

// How many frames of type T on `conn` match `ok`, among those received since `since`.
template <class T>
std::size_t count(const View& v, std::size_t conn, const std::function<bool(const T&)>& ok,
                  Clock::time_point since = Clock::time_point::min()) {
  std::size_t n = 0;
  for (const auto& r : v.of(conn)) {
    const auto* t = std::get_if<T>(&r.message);
    if (t && r.at >= since && (!ok || ok(*t))) ++n;
  }
  return n;
}

// The cases of each family file.
std::vector<Case> token_cases(const CaseContext& ctx);
std::vector<Case> shape_cases(const CaseContext& ctx);
std::vector<Case> state_cases(const CaseContext& ctx);
std::vector<Case> fork_cases(const CaseContext& ctx);
std::vector<Case> purge_cases(const CaseContext& ctx);

}  // namespace syncsim::conformance::server_case
