// The simulator's core: one queue of events ordered by (virtual time,
// insertion sequence), so events due at the same instant run first-in
// first-out. Running an event jumps the clock straight to its time; there
// are no ticks. Single-threaded by design; nothing here reads a wall clock.
//
// Cancellation is lazy: a cancelled event stays in the heap as a tombstone
// and is skipped when it surfaces, so cancel() is O(1).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "sim/task.hpp"
#include "sim/time.hpp"
#include "sim/wide_int.hpp"

namespace syncsim::sim {

struct EventId {
  std::uint32_t slot = UINT32_MAX;
  std::uint32_t generation = 0;
  bool valid() const { return slot != UINT32_MAX; }
  bool operator==(const EventId&) const = default;
};

class EventLoop {
 public:
  Time now() const { return now_; }

  // Runs fn at time t (clamped to now: the past is not schedulable). The
  // callable is constructed in place in the event's slot.
  template <class F>
  EventId at(Time t, F&& fn) {
    const std::uint32_t i = take_slot();
    Slot& s = slot(i);
    s.fn.emplace(std::forward<F>(fn));
    return enqueue(t, i);
  }
  template <class F>
  EventId after(Duration d, F&& fn) {
    return at(d > 0 ? now_ + d : now_, std::forward<F>(fn));
  }

  // Cancels a pending event; false if it already ran or was cancelled.
  bool cancel(EventId id);
  bool is_pending(EventId id) const;

  // Runs the next live event. Returns false when none is pending.
  bool step();

  // Time of the next live event, or kTimeMax when none.
  Time next_time();

  // Moves the clock forward to t with nothing running (idle time). t must
  // not pass a pending event.
  void advance_to(Time t);

  // Destroys every pending event without running it.
  void clear();

  std::size_t pending() const { return live_; }
  std::uint64_t executed() const { return executed_; }

 private:
  struct Entry {
    Time t;
    std::uint64_t seq;
    std::uint32_t slot;
    std::uint32_t generation;
  };
  struct Slot {
    Task fn;
    std::uint32_t generation = 0;
    bool live = false;
  };
  // (t, seq) order as one 128-bit comparison: branch-free, which matters
  // because the heap's compares are unpredictable. Times are never negative.
  static bool before(const Entry& a, const Entry& b) {
    const u128 ka = static_cast<u128>(static_cast<std::uint64_t>(a.t)) << 64 | a.seq;
    const u128 kb = static_cast<u128>(static_cast<std::uint64_t>(b.t)) << 64 | b.seq;
    return ka < kb;
  }
  // A binary min-heap over (t, seq).
  static constexpr std::uint32_t kChunkBits = 10;  // slots live in chunks: stable addresses
  Slot& slot(std::uint32_t i) { return chunks_[i >> kChunkBits][i & ((1u << kChunkBits) - 1)]; }
  const Slot& slot(std::uint32_t i) const {
    return chunks_[i >> kChunkBits][i & ((1u << kChunkBits) - 1)];
  }
  std::uint32_t take_slot();
  EventId enqueue(Time t, std::uint32_t slot);
  void heap_push(const Entry& e);
  void heap_pop();
  void drop_tombstones();

  std::vector<Entry> heap_;
  std::vector<std::unique_ptr<Slot[]>> chunks_;
  std::uint32_t slot_count_ = 0;
  std::vector<std::uint32_t> free_;
  Time now_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t executed_ = 0;
  std::size_t live_ = 0;
};

}  // namespace syncsim::sim
