// A port that takes one operator command per line and answers each with one
// line: `syncsim serve --admin-port`, which a target file's hooks drive
// (D132). Bounded: at most 8 connections, lines of at most 4 KiB (a longer
// one closes its connection).
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace syncsim::conformance {

class AdminPort {
 public:
  using Handler = std::function<std::string(const std::string& line)>;
  AdminPort(boost::asio::io_context& ioc, Handler handle);
  ~AdminPort();
  AdminPort(const AdminPort&) = delete;
  AdminPort& operator=(const AdminPort&) = delete;

  bool start(const std::string& host, std::uint16_t port, boost::system::error_code& ec);
  std::uint16_t port() const;
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace syncsim::conformance
