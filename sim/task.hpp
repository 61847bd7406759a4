// A move-only `void()` callable with inline storage for small captures, so
// scheduling an event rarely allocates (std::function needs copyable
// callables and allocates beyond two pointers).
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace syncsim::sim {

class Task {
 public:
  // Room for the simulator's largest hot capture (a unit of bytes in flight
  // with its connection: 80 bytes) so that no scheduled unit allocates.
  static constexpr std::size_t kInline = 88;

  Task() = default;
  template <class F>
  requires(!std::is_same_v<std::decay_t<F>, Task> && std::is_invocable_v<std::decay_t<F>&>)
      Task(F&& f) {  // NOLINT: implicit on purpose, like std::function
    construct(std::forward<F>(f));
  }

  // Replaces the callable, constructing the new one in place.
  template <class F>
  void emplace(F&& f) {
    reset();
    if constexpr (std::is_same_v<std::decay_t<F>, Task>) {
      *this = std::forward<F>(f);
    } else {
      construct(std::forward<F>(f));
    }
  }

 private:
  template <class F>
  void construct(F&& f) {
    using Fn = std::decay_t<F>;
    if constexpr (sizeof(Fn) <= kInline && alignof(Fn) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<Fn>) {
      new (buf_) Fn(std::forward<F>(f));
      ops_ = &inline_ops<Fn>;
    } else {
      *reinterpret_cast<Fn**>(buf_) = new Fn(std::forward<F>(f));
      ops_ = &heap_ops<Fn>;
    }
  }

 public:
  Task(Task&& o) noexcept : ops_(o.ops_) {
    if (ops_) ops_->move(o.buf_, buf_);
    o.ops_ = nullptr;
  }
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      ops_ = o.ops_;
      if (ops_) ops_->move(o.buf_, buf_);
      o.ops_ = nullptr;
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  void operator()() { ops_->call(buf_); }
  void reset() {
    if (ops_) {
      if (ops_->destroy) ops_->destroy(buf_);  // null for trivially destructible captures
      ops_ = nullptr;
    }
  }

 private:
  struct Ops {
    void (*call)(void*);
    void (*move)(void* from, void* to);  // leaves `from` destroyed
    void (*destroy)(void*);
  };
  template <class Fn>
  static constexpr Ops inline_ops = {[](void* p) { (*static_cast<Fn*>(p))(); },
                                     [](void* from, void* to) {
                                       new (to) Fn(std::move(*static_cast<Fn*>(from)));
                                       static_cast<Fn*>(from)->~Fn();
                                     },
                                     std::is_trivially_destructible_v<Fn>
                                         ? nullptr
                                         : +[](void* p) { static_cast<Fn*>(p)->~Fn(); }};
  template <class Fn>
  static constexpr Ops heap_ops = {
      [](void* p) { (**static_cast<Fn**>(p))(); },
      [](void* from, void* to) { *static_cast<Fn**>(to) = *static_cast<Fn**>(from); },
      [](void* p) { delete *static_cast<Fn**>(p); }};

  alignas(std::max_align_t) unsigned char buf_[kInline];
  const Ops* ops_ = nullptr;
};

}  // namespace syncsim::sim
