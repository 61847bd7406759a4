#!/usr/bin/env bash
# Configures and builds the clang 14 fuzz build (SYNCSIM_FUZZ=ON: ASan,
# UBSan and libFuzzer's coverage hooks everywhere), with ccache.
#   scripts/fuzz_build.sh [BUILD_DIR [TARGET...]]   (default build-fuzz, fuzzers)
# Extra CMake arguments in FUZZ_CMAKE_ARGS (scripts/fuzz_coverage.sh uses it).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build-fuzz}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzzers)
# clang 14, its libFuzzer runtime (libclang-rt-14-dev), llvm-14 (coverage tools)
# and jq (compare_compilers.sh), with the usual packages.
if [ "${SYNCSIM_NO_INSTALL:-0}" != 1 ]; then
  SYNCSIM_EXTRA_PACKAGES="clang-14 libclang-rt-14-dev llvm-14 jq ${SYNCSIM_EXTRA_PACKAGES:-}" \
    SYNCSIM_INSTALL_ONLY=1 scripts/setup.sh
fi
LAUNCHER=()
command -v ccache >/dev/null 2>&1 && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD_DIR" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Release \
  -DSYNCSIM_FUZZ=ON -DSYNCSIM_WERROR=ON -DSYNCSIM_BUILD_TESTS=OFF -DSYNCSIM_BUILD_BENCH=OFF \
  "${LAUNCHER[@]}" ${FUZZ_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target "${TARGETS[@]}"
