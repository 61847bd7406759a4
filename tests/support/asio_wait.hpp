// Runs an io_context until a condition holds, bounded (1000 turns of at most
// 5 ms), for tests on real loopback sockets.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace syncsim::test {

inline void run_until(boost::asio::io_context& ioc, const std::function<bool()>& done) {
  for (int k = 0; k < 1000 && !done(); ++k) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(5));
  }
}

// For transfers of many megabytes, which take thousands of handlers: as
// many turns as it takes, for at most `limit` of wall time.
inline void run_until_within(boost::asio::io_context& ioc, const std::function<bool()>& done,
                             std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(5));
  }
}

}  // namespace syncsim::test
