#include "conformance/live/admin_port.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <istream>
#include <set>

namespace syncsim::conformance {

using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {
constexpr std::size_t kMaxConnections = 8;
constexpr std::size_t kMaxLine = 4096;
}  // namespace

struct AdminPort::Impl : std::enable_shared_from_this<AdminPort::Impl> {
  struct Conn : std::enable_shared_from_this<Conn> {
    std::shared_ptr<Impl> port;
    tcp::socket socket;
    boost::asio::streambuf in{kMaxLine};
    std::string out;
    Conn(std::shared_ptr<Impl> p, tcp::socket s) : port(std::move(p)), socket(std::move(s)) {}

    void read() {
      boost::asio::async_read_until(socket, in, '\n',
                                    [self = shared_from_this()](const error_code& ec, std::size_t) {
                                      if (ec) return self->close();
                                      self->answer();
                                    });
    }
    void answer() {
      std::istream lines(&in);
      std::string line;
      std::getline(lines, line);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      out = port->handle(line) + "\n";
      boost::asio::async_write(socket, boost::asio::buffer(out),
                               [self = shared_from_this()](const error_code& ec, std::size_t) {
                                 if (ec) return self->close();
                                 self->read();
                               });
    }
    void close() {
      error_code ignored;
      socket.close(ignored);
      port->conns.erase(shared_from_this());
    }
  };

  boost::asio::io_context& ioc;
  Handler handle;
  tcp::acceptor acceptor;
  std::set<std::shared_ptr<Conn>> conns;
  bool stopped = false;
  Impl(boost::asio::io_context& io, Handler h) : ioc(io), handle(std::move(h)), acceptor(io) {}

  void accept() {
    acceptor.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket s) {
      if (self->stopped) return;
      if (!ec) {
        if (self->conns.size() >= kMaxConnections) {
          error_code ignored;
          s.close(ignored);
        } else {
          auto c = std::make_shared<Conn>(self, std::move(s));
          self->conns.insert(c);
          c->read();
        }
      }
      self->accept();
    });
  }
};

AdminPort::AdminPort(boost::asio::io_context& ioc, Handler handle)
    : impl_(std::make_shared<Impl>(ioc, std::move(handle))) {}
AdminPort::~AdminPort() { stop(); }

bool AdminPort::start(const std::string& host, std::uint16_t port, error_code& ec) {
  const tcp::endpoint at(boost::asio::ip::make_address(host, ec), port);
  if (ec) return false;
  auto& a = impl_->acceptor;
  a.open(at.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(at, ec);
  if (!ec) a.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return false;
  impl_->accept();
  return true;
}

std::uint16_t AdminPort::port() const {
  error_code ec;
  return impl_->acceptor.is_open() ? impl_->acceptor.local_endpoint(ec).port() : 0;
}

void AdminPort::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  error_code ignored;
  impl_->acceptor.close(ignored);
  auto conns = impl_->conns;
  for (auto& c : conns) c->close();
}

}  // namespace syncsim::conformance
