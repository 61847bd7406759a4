// The reference client on a real connection (TCP or WebSocket), with the
// checker judging every frame it writes and reads, live: `syncsim client`
// (try a server by hand, or be the client `check --client --exec` starts),
// and the client end of the proxy's tests. Time is the machine's.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>

#include "conformance/checker/session_checker.hpp"
#include "conformance/live/driver_contract.hpp"
#include "conformance/live/endpoint.hpp"
#include "reference/client_core.hpp"

namespace syncsim::conformance {

class LiveClient {
 public:
  struct Options {
    Endpoint connect;
    reference::ClientConfig config;
    std::uint64_t seed = 1;
    // Writes of 3-byte values to `collection`, one every `write_every_ms`
    // from the start, to documents doc-0 .. doc-(docs-1).
    int writes = 0;
    std::string collection = "orders";
    int docs = 10;
    std::int64_t write_every_ms = 100;
    std::ostream* trace = nullptr;  // JSON lines for check-trace (a tap: no "seen")
    std::function<void(const CheckFinding&)> on_finding;
    std::function<void(const protocol::Message&, bool from_client)> on_frame;  // -v printing
  };

  LiveClient(boost::asio::io_context& ioc, Options options);
  ~LiveClient();
  LiveClient(const LiveClient&) = delete;
  LiveClient& operator=(const LiveClient&) = delete;

  void start();  // false never: connection failures are retried with the core's backoff
  void stop();
  void finish();  // judges what is still owed, as of now; after stop()
  // One command of the driver contract (`client --driver`, D150): write,
  // presence, samples, apply-rate, corrupt-state or resubscribe, done as the
  // application would; hello and quit are the caller's.
  void drive(const DriverCommand& c);

  const SessionChecker& checker() const;
  std::string tap_tolerance_text() const;  // D118
  const reference::ClientCore& core() const;
  int writes_done() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace syncsim::conformance
