// The reference client's persistent state on a simulated node's disk, so a
// restarted client keeps its ids (DELTA-1) and raises its epoch (HS-12).
#pragma once

#include <string>

#include "reference/client_core.hpp"
#include "sim/world.hpp"

namespace syncsim::reference {

inline ClientPersistent load_persistent(sim::Disk& disk) {
  ClientPersistent p;
  if (!disk.count("lite_id")) return p;
  p.lite_id = disk["lite_id"];
  p.epoch = std::stoull(disk["epoch"]);
  p.peer_id = std::stoull(disk["peer_id"]);
  p.last_mutation_id = std::stoull(disk["last_mutation_id"]);
  return p;
}

inline void save_persistent(sim::Disk& disk, const ClientPersistent& p) {
  disk["lite_id"] = p.lite_id;
  disk["epoch"] = std::to_string(p.epoch);
  disk["peer_id"] = std::to_string(p.peer_id);
  disk["last_mutation_id"] = std::to_string(p.last_mutation_id);
}

}  // namespace syncsim::reference
