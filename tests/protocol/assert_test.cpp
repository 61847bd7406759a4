// SYNCSIM_ASSERT stays on in Release builds (protocol/assert.hpp). NDEBUG
// is forced here, as a Release build sets it, whatever this build's type.
#ifndef NDEBUG
#define NDEBUG
#endif
#include "protocol/assert.hpp"

#include <gtest/gtest.h>

namespace syncsim::test {
namespace {

int checked_half(int n) {
  SYNCSIM_ASSERT_MSG(n % 2 == 0, "only even numbers halve");
  return n / 2;
}

TEST(Assert, PassingConditionsCostNothingVisible) {
  SYNCSIM_ASSERT(1 + 1 == 2);
  EXPECT_EQ(checked_half(4), 2);
}

TEST(AssertDeathTest, AFailedAssertionAbortsWithWhereAndWhyUnderNdebug) {
  EXPECT_DEATH(checked_half(3), "assert_test.cpp:[0-9]+: assertion failed: n % 2 == 0: only even");
  EXPECT_DEATH(SYNCSIM_ASSERT(sizeof(int) == 0), "assertion failed: sizeof\\(int\\) == 0");
}

}  // namespace
}  // namespace syncsim::test
