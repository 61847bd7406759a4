// Type-erased storage for one pending Asio completion handler, and the one
// way a simulated I/O object completes it: posted to the handler's associated
// executor (by default the owning node's io_context), never invoked inline.
// When the owning node has crashed the handler is destroyed, never run.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <tuple>

namespace syncsim::sim {
class World;
}

namespace syncsim::sim::detail {

// One boot of one node: objects created during it die with it.
struct NodeLife {
  World* world = nullptr;
  std::uint32_t node = 0;
  std::uint64_t boot = 0;
  bool alive = true;
  boost::asio::io_context* ioc = nullptr;
};
using LifeRef = std::shared_ptr<NodeLife>;

// Marks the node's io_context as holding ready handlers (world.cpp).
void mark_ready(const NodeLife& life);

template <class... Args>
class Completion {
 public:
  Completion() = default;
  template <class Handler>
  Completion(LifeRef life, Handler&& h)
      : life_(std::move(life)),
        impl_(std::make_unique<Impl<std::decay_t<Handler>>>(std::forward<Handler>(h))) {}

  explicit operator bool() const { return impl_ != nullptr; }

  // Posts the handler with these arguments; the Completion becomes empty.
  void post(Args... args) {
    auto impl = std::move(impl_);
    if (!impl || !life_ || !life_->alive) return;  // a crashed node runs nothing
    impl->post(*life_->ioc, std::move(args)...);
    mark_ready(*life_);
  }
  void drop() { impl_.reset(); }  // destroys the handler without running it

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void post(boost::asio::io_context& ioc, Args... args) = 0;
  };
  template <class H>
  struct Impl final : Base {
    explicit Impl(H&& h) : handler(std::move(h)) {}
    explicit Impl(const H& h) : handler(h) {}
    void post(boost::asio::io_context& ioc, Args... args) override {
      auto ex = boost::asio::get_associated_executor(handler, ioc.get_executor());
      boost::asio::post(
          ex, [h = std::move(handler), tup = std::make_tuple(std::move(args)...)]() mutable {
            std::apply(std::move(h), std::move(tup));
          });
    }
    H handler;
  };
  LifeRef life_;
  std::unique_ptr<Base> impl_;
};

}  // namespace syncsim::sim::detail
