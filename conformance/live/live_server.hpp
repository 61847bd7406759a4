// The reference server on a real port (TCP or WebSocket) with the checker
// judging every frame it reads and writes, live: `syncsim serve`, and the
// server side of checks against third-party clients. Time in the trace is
// the machine's steady clock since start; runs on real sockets are not
// reproducible (the simulator is for that).
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>

#include "conformance/checker/session_checker.hpp"
#include "conformance/live/endpoint.hpp"
#include "reference/server_core.hpp"

namespace syncsim::conformance {

class LiveServer {
 public:
  struct Options {
    Endpoint listen;
    reference::ServerConfig config;
    std::uint64_t seed = 1;         // the server's PRNG (nothing in it is random today)
    std::ostream* trace = nullptr;  // JSON lines for check-trace (a tap: no "seen")
    std::function<void(const CheckFinding&)> on_finding;  // each finding as it is made
  };

  LiveServer(boost::asio::io_context& ioc, Options options);
  ~LiveServer();
  LiveServer(const LiveServer&) = delete;
  LiveServer& operator=(const LiveServer&) = delete;

  // Binds and starts accepting; false with ec when the address is unusable.
  bool start(boost::system::error_code& ec);
  std::uint16_t port() const;  // the bound port (useful with port 0)
  void stop();
  // Judges what is still owed (liveness) as of now; call after stop().
  void finish();

  // One operator command, as `serve --admin-port` reads them (the faulty
  // server's line protocol, tests/faulty/README.md): "purge <tenant>
  // <collection>", "write <tenant> <collection> <document> <hex>", "define
  // <tenant> <type> <name> put <json>|delete". Answers "ok" or "error <why>".
  std::string admin(const std::string& line);

  // The documents of one collection in the server's store (run --client-exec's convergence).
  std::map<std::string, protocol::Bytes> documents(std::uint32_t tenant,
                                                   const std::string& collection) const;

  const SessionChecker& checker() const;
  std::string tap_tolerance_text() const;  // D118
  std::uint64_t connections() const;       // accepted so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace syncsim::conformance
