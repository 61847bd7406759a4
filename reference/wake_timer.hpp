// One timer that wakes a sans-I/O core at its next deadline (steady ms):
// re-arming for the same deadline is free, a new deadline replaces the old,
// and a stale firing is ignored. Shared by the server and client shells.
#pragma once

#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>

namespace syncsim::reference {

template <class Runtime>
class WakeTimer {
 public:
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  explicit WakeTimer(const Runtime& rt) : timer_(rt.timer()) {}

  // Calls `fire` once at `deadline` unless re-armed for another one first.
  // `keep_alive` rides in the handler (the owner's shared_ptr).
  template <class KeepAlive>
  void arm(std::int64_t deadline, std::int64_t now_ms, KeepAlive keep_alive,
           std::function<void()> fire) {
    if (deadline == armed_for_) return;
    armed_for_ = deadline;
    timer_.cancel();
    if (deadline == kNever) return;
    timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, deadline - now_ms)));
    timer_.async_wait(
        [this, keep_alive, deadline, fire = std::move(fire)](boost::system::error_code ec) {
          // Only a cancel or a newer deadline stops it. Any other error still
          // wakes the core (it runs what is due, then arms again): returning
          // would leave armed_for_ set, so no later arm() for this deadline
          // would wait again and the core would never wake (D70).
          if (ec == boost::asio::error::operation_aborted || armed_for_ != deadline) return;
          armed_for_ = -1;
          fire();
        });
  }
  // True when arm(deadline, ...) would do nothing: the shells ask first, so an
  // unchanged deadline (most flushes) costs no clock read or handler (D192).
  bool armed_for(std::int64_t deadline) const { return deadline == armed_for_; }
  void cancel() {
    armed_for_ = -1;
    timer_.cancel();
  }

 private:
  typename Runtime::Timer timer_;
  std::int64_t armed_for_ = -1;
};

}  // namespace syncsim::reference
