#include "sim/event_loop.hpp"

#include <algorithm>
#include <cassert>

namespace syncsim::sim {

EventId EventLoop::at(Time t, Task fn) {
  if (t < now_) t = now_;
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.fn = std::move(fn);
  s.live = true;
  heap_.push_back(Entry{t, seq_++, slot, s.generation});
  std::push_heap(heap_.begin(), heap_.end(), later);
  ++live_;
  return EventId{slot, s.generation};
}

bool EventLoop::is_pending(EventId id) const {
  return id.slot < slots_.size() && slots_[id.slot].generation == id.generation &&
         slots_[id.slot].live;
}

bool EventLoop::cancel(EventId id) {
  if (!is_pending(id)) return false;
  Slot& s = slots_[id.slot];
  s.live = false;
  s.fn.reset();
  --live_;
  return true;  // the heap entry becomes a tombstone, freed when it surfaces
}

void EventLoop::drop_tombstones() {
  while (!heap_.empty() && !slots_[heap_.front().slot].live) {
    const std::uint32_t slot = heap_.front().slot;
    std::pop_heap(heap_.begin(), heap_.end(), later);
    heap_.pop_back();
    ++slots_[slot].generation;
    free_.push_back(slot);
  }
}

Time EventLoop::next_time() {
  drop_tombstones();
  return heap_.empty() ? kTimeMax : heap_.front().t;
}

void EventLoop::advance_to(Time t) {
  assert(t <= next_time());
  if (t > now_) now_ = t;
}

void EventLoop::clear() {
  heap_.clear();
  for (auto& s : slots_) {
    if (s.live) {
      s.live = false;
      s.fn.reset();
    }
    ++s.generation;
  }
  free_.clear();
  for (std::uint32_t k = 0; k < slots_.size(); ++k) free_.push_back(k);
  live_ = 0;
}

bool EventLoop::step() {
  drop_tombstones();
  if (heap_.empty()) return false;
  const Entry e = heap_.front();
  std::pop_heap(heap_.begin(), heap_.end(), later);
  heap_.pop_back();
  Slot& s = slots_[e.slot];
  Task fn = std::move(s.fn);
  s.live = false;
  ++s.generation;
  free_.push_back(e.slot);
  --live_;
  assert(e.t >= now_);
  now_ = e.t;
  ++executed_;
  fn();  // may schedule or cancel; slots_ may reallocate, s is not used after
  return true;
}

}  // namespace syncsim::sim
