// Addresses users give on the command line: tcp://HOST:PORT and
// ws://HOST:PORT[/PATH] (the transports of §2.1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace syncsim::conformance {

struct Endpoint {
  enum class Transport { Tcp, WebSocket } transport = Transport::Tcp;
  std::string host;  // an IP address
  std::uint16_t port = 0;
  std::string path = "/";  // WebSocket request target
  std::string text() const;
};

struct EndpointParse {
  std::optional<Endpoint> endpoint;
  std::string error;  // what is wrong with the text, when endpoint is empty
};

EndpointParse parse_endpoint(std::string_view text);

}  // namespace syncsim::conformance
