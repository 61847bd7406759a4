#include "sim/event_loop.hpp"

#include <algorithm>

#include "protocol/assert.hpp"

namespace syncsim::sim {

void EventLoop::heap_push(const Entry& e) {
  std::size_t i = heap_.size();
  heap_.push_back(e);
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!before(e, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

// Bottom-up deletion (Wegener): walk the hole down to a leaf along the
// smaller children, then sift the last entry up from there. The last entry
// almost always belongs near the bottom, so this halves the comparisons of
// the textbook sift-down.
void EventLoop::heap_pop() {
  const Entry last = heap_.back();
  heap_.pop_back();
  const std::size_t n = heap_.size();
  if (n == 0) return;
  std::size_t i = 0;
  for (std::size_t child = 1; child < n; child = 2 * i + 1) {
    const std::size_t right = child + 1;
    const std::size_t best = (right < n && before(heap_[right], heap_[child])) ? right : child;
    heap_[i] = heap_[best];
    i = best;
  }
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!before(last, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = last;
}

std::uint32_t EventLoop::take_slot() {
  if (!free_.empty()) {
    const std::uint32_t i = free_.back();
    free_.pop_back();
    return i;
  }
  if ((slot_count_ & ((1u << kChunkBits) - 1)) == 0) {
    // Default-initialised, not value-initialised: a Task's inline buffer is
    // not zeroed (that memset was 1 % of the suite, a chunk per world).
    chunks_.push_back(std::unique_ptr<Slot[]>(new Slot[std::size_t{1} << kChunkBits]));
  }
  return slot_count_++;
}

EventId EventLoop::enqueue(Time t, std::uint32_t i) {
  if (t < now_) t = now_;
  Slot& s = slot(i);
  s.live = true;
  heap_push(Entry{t, seq_++, i, s.generation});
  ++live_;
  return EventId{i, s.generation};
}

bool EventLoop::is_pending(EventId id) const {
  return id.slot < slot_count_ && slot(id.slot).generation == id.generation && slot(id.slot).live;
}

bool EventLoop::cancel(EventId id) {
  if (!is_pending(id)) return false;
  Slot& s = slot(id.slot);
  s.live = false;
  s.fn.reset();
  --live_;
  return true;  // the heap entry becomes a tombstone, freed when it surfaces
}

void EventLoop::drop_tombstones() {
  while (!heap_.empty() && !slot(heap_.front().slot).live) {
    const std::uint32_t i = heap_.front().slot;
    heap_pop();
    ++slot(i).generation;
    free_.push_back(i);
  }
}

Time EventLoop::next_time() {
  drop_tombstones();
  return heap_.empty() ? kTimeMax : heap_.front().t;
}

void EventLoop::advance_to(Time t) {
  SYNCSIM_ASSERT_MSG(t <= next_time(), "idle time may not skip a pending event");
  if (t > now_) now_ = t;
}

void EventLoop::clear() {
  heap_.clear();
  free_.clear();
  for (std::uint32_t i = 0; i < slot_count_; ++i) {
    Slot& s = slot(i);
    s.live = false;
    s.fn.reset();
    ++s.generation;
    free_.push_back(i);
  }
  live_ = 0;
}

bool EventLoop::step() {
  drop_tombstones();
  if (heap_.empty()) return false;
  const Entry e = heap_.front();
  heap_pop();
  Slot& s = slot(e.slot);  // chunked storage: stays put while fn runs
  s.live = false;          // cancel() of the running event is a no-op
  --live_;
  SYNCSIM_ASSERT_MSG(e.t >= now_, "virtual time never goes backwards");
  now_ = e.t;
  ++executed_;
  s.fn();
  s.fn.reset();
  ++s.generation;
  free_.push_back(e.slot);
  return true;
}

}  // namespace syncsim::sim
