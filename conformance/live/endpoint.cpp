#include "conformance/live/endpoint.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace syncsim::conformance {

std::string Endpoint::text() const {
  const bool ws = transport == Transport::WebSocket;
  return std::string(ws ? "ws://" : "tcp://") + host + ":" + std::to_string(port) +
         (ws ? path : "");
}

EndpointParse parse_endpoint(std::string_view text) {
  EndpointParse out;
  auto fail = [&](std::string why) {
    out.error = "\"" + std::string(text) + "\": " + std::move(why) +
                " (expected tcp://HOST:PORT or ws://HOST:PORT/PATH)";
    return out;
  };
  Endpoint e;
  std::string_view rest = text;
  if (rest.starts_with("tcp://")) {
    rest.remove_prefix(6);
  } else if (rest.starts_with("ws://")) {
    e.transport = Endpoint::Transport::WebSocket;
    rest.remove_prefix(5);
  } else {
    return fail("unknown scheme");
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (e.transport != Endpoint::Transport::WebSocket) return fail("a path needs ws://");
    e.path = std::string(rest.substr(slash));
    rest = rest.substr(0, slash);
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) return fail("no port");
  e.host = std::string(rest.substr(0, colon));
  if (e.host.starts_with('[') && e.host.ends_with(']'))
    e.host = e.host.substr(1, e.host.size() - 2);
  boost::system::error_code ec;
  boost::asio::ip::make_address(e.host, ec);
  if (ec) return fail("\"" + e.host + "\" is not an IP address");
  const auto port = rest.substr(colon + 1);
  unsigned value = 0;
  const auto [end, perr] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (perr != std::errc() || end != port.data() + port.size() || value > 65535)
    return fail("the port must be 0..65535");
  e.port = static_cast<std::uint16_t>(value);
  out.endpoint = e;
  return out;
}

}  // namespace syncsim::conformance
