// ShapeSnapshot.data of the reference server (SHAPE-4, HARNESS CHOICE): a
// MessagePack array of [document_id (str), value (bin)] pairs sorted by
// document_id bytes.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "protocol/messages.hpp"

namespace syncsim::reference {

protocol::Bytes encode_snapshot_data(const std::map<std::string, protocol::Bytes>& documents);

// nullopt when `data` is not in that form.
std::optional<std::map<std::string, protocol::Bytes>> decode_snapshot_data(
    const protocol::Bytes& data);

// FNV-1a 64 of snapshot data, in decimal: what a side's state note (D84)
// says of a document set, for the checker to compare with a frame's data.
std::string snapshot_digest(const protocol::Bytes& data);

}  // namespace syncsim::reference
