// The hostile-frame campaign: structure-aware mutations of valid frames
// (MessagePack type swaps, huge declared lengths and counts, deep nesting,
// wrong enum tags, truncation, random bodies, unknown codes, splices, bit
// flips), fed to the reference server and client in the simulator, or to any
// server over TCP. A target must neither crash nor hang nor grow without
// bound: each session ends with a Ping that is answered, or with the target
// closing the connection; a fresh connection is always served.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "protocol/messages.hpp"
#include "sim/prng.hpp"

namespace syncsim::conformance {

enum class Mutation {
  BitFlip,      // one bit of the body
  TypeSwap,     // a body byte replaced by another MessagePack type marker
  HugeLength,   // the header declares far more than follows (up to 4 GiB)
  HugeCount,    // an array, map or string header claiming 2^32-1 elements
  DeepNesting,  // a body of thousands of nested one-element arrays
  WrongTag,     // a variant's tag string replaced by one that names nothing
  Truncate,     // the frame cut short (what follows is read as its rest)
  RandomBody,   // the body replaced by random bytes
  UnknownCode,  // a msg_type no message has
  Splice,       // the head of one frame joined to the tail of another
};
inline constexpr std::size_t kMutationCount = 10;
std::string_view mutation_name(Mutation m);

// Valid frames of every message type, then mutations of them, from a seed.
class FrameMutator {
 public:
  explicit FrameMutator(std::uint64_t seed);
  protocol::Bytes next(Mutation& how);
  const std::vector<protocol::Bytes>& seeds() const { return seeds_; }

 private:
  sim::Prng rng_;
  std::vector<protocol::Bytes> seeds_;
};

struct HostileStats {
  std::uint64_t frames = 0, sessions = 0;
  std::uint64_t answered = 0;  // sessions whose closing Ping was answered
  std::uint64_t closed = 0;    // sessions the target ended (a fatal framing error)
  std::uint64_t stalled = 0;   // neither: a declared length still waiting for bytes
  std::array<std::uint64_t, kMutationCount> by_mutation{};
  bool alive = true;    // a fresh connection was served at the end
  std::string problem;  // why not, or what grew
};

struct HostileOptions {
  std::uint64_t seed = 1;
  std::uint64_t frames = 10'000;
  int frames_per_session = 4;  // few: more sessions get past their first fatal frame
  std::function<void(const HostileStats&)> progress;  // every 10% or so
};

// The reference server in the simulator, hostile clients against it.
HostileStats hostile_sim_server(const HostileOptions& o);
// The reference client in the simulator, a hostile server answering it.
HostileStats hostile_sim_client(const HostileOptions& o);

}  // namespace syncsim::conformance
