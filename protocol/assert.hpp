// Assertions that stay on in Release builds (TigerBeetle's discipline: an
// invariant that is only checked in Debug is not checked where it matters).
// A failed assertion prints file:line, the condition and a message to stderr
// and aborts. The passing path is one predictable branch: no allocation, no
// formatting, no call.
#pragma once

namespace syncsim::detail {
[[noreturn]] void assert_failed(const char* file, int line, const char* condition,
                                const char* message) noexcept;
}  // namespace syncsim::detail

#define SYNCSIM_ASSERT_MSG(cond, msg)                                     \
  do {                                                                    \
    if (!(cond)) [[unlikely]] {                                           \
      ::syncsim::detail::assert_failed(__FILE__, __LINE__, #cond, (msg)); \
    }                                                                     \
  } while (false)

#define SYNCSIM_ASSERT(cond) SYNCSIM_ASSERT_MSG(cond, "")
