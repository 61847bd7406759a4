// 128-bit integers (a GCC/Clang extension on 64-bit targets) for exact
// intermediate products in time and random-number arithmetic.
#pragma once

namespace syncsim::sim {
__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;
}  // namespace syncsim::sim
