// The main loop of the live commands (serve, client, proxy): run until
// Ctrl-C, SIGTERM or the --duration, calling `stop` once before leaving.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>

namespace syncsim::cli {

inline void run_until_stopped(boost::asio::io_context& ioc, double duration_s,
                              const std::function<void()>& stop) {
  bool stopping = false;
  auto stop_once = [&] {
    if (stopping) return;
    stopping = true;
    stop();
    ioc.stop();
  };
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& e, int) {
    if (!e) stop_once();
  });
  boost::asio::steady_timer deadline(ioc);
  if (duration_s > 0) {
    deadline.expires_after(std::chrono::milliseconds(static_cast<std::int64_t>(duration_s * 1000)));
    deadline.async_wait([&](const boost::system::error_code& e) {
      if (!e) stop_once();
    });
  }
  ioc.run();
}

}  // namespace syncsim::cli
