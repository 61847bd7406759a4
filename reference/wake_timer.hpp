// One timer that wakes a sans-I/O core at its next deadline (steady ms):
// re-arming for the same deadline is free, a new deadline replaces the old,
// and a stale firing is ignored. Shared by the server and client shells.
#pragma once

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <limits>

namespace syncsim::reference {

template <class Runtime>
class WakeTimer {
 public:
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  // `rt` is the owner's runtime, which outlives the timer: its clock.
  explicit WakeTimer(const Runtime& rt) : rt_(rt), timer_(rt.timer()) {}

  // Calls `fire` once at `deadline` unless re-armed for another one first.
  // The owner's shared_ptr rides in the handler. Re-arming for the armed
  // deadline returns before the clock is read or the handler made: the
  // shells re-arm after every flush, and most flushes leave it as it was (D192).
  template <class Owner, class Fire>
  void arm(std::int64_t deadline, Owner& owner, Fire fire) {
    if (deadline == armed_for_) return;
    armed_for_ = deadline;
    timer_.cancel();
    if (deadline == kNever) return;
    const std::int64_t now_ms = rt_.now().steady_ms;
    timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, deadline - now_ms)));
    timer_.async_wait([this, keep_alive = owner.shared_from_this(), deadline,
                       fire = std::move(fire)](boost::system::error_code ec) {
      // Only a cancel or a newer deadline stops it. Any other error still
      // wakes the core (it runs what is due, then arms again): returning
      // would leave armed_for_ set, so no later arm() for this deadline
      // would wait again and the core would never wake (D70).
      if (ec == boost::asio::error::operation_aborted || armed_for_ != deadline) return;
      armed_for_ = -1;
      fire();
    });
  }
  void cancel() {
    armed_for_ = -1;
    timer_.cancel();
  }

 private:
  const Runtime& rt_;
  typename Runtime::Timer timer_;
  std::int64_t armed_for_ = -1;
};

}  // namespace syncsim::reference
