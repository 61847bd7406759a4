// The hostile-frame campaign against a server on a real port (TCP or
// WebSocket, one frame per message): `syncsim hostile --target URL`.
#pragma once

#include <boost/asio/io_context.hpp>

#include "conformance/explore/hostile.hpp"
#include "conformance/live/endpoint.hpp"

namespace syncsim::conformance {

// Each session: connect, send the mutated frames and a Ping, wait up to
// `wait_ms` for the Pong or a close; at the end a fresh connection must be
// answered. Unreachable: alive false at once.
HostileStats hostile_live_server(boost::asio::io_context& ioc, const Endpoint& target,
                                 const HostileOptions& o, std::int64_t wait_ms = 300);

}  // namespace syncsim::conformance
