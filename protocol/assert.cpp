#include "protocol/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace syncsim::detail {

// The process is about to die: stderr is the one output this library writes.
void assert_failed(const char* file, int line, const char* condition,
                   const char* message) noexcept {
  std::fprintf(stderr, "%s:%d: assertion failed: %s%s%s\n", file, line, condition,
               message[0] != '\0' ? ": " : "", message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace syncsim::detail
