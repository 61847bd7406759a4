#!/usr/bin/env bash
# Line and branch coverage of the committed fuzz corpora: builds the fuzzers
# with clang's source-based coverage instead of sanitizers (build-fuzz-cov/),
# runs every corpus input once through its target, and prints llvm-cov's
# report for protocol/ and conformance/checker/ (docs/fuzzing.md keeps the
# figures). Arguments: directories to report on (default those two).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-fuzz-cov}
DIRS=("$@")
[ ${#DIRS[@]} -gt 0 ] || DIRS=(protocol conformance/checker)
# The targets that reach protocol/ and the checker, so only those libraries
# are built (FUZZ_TARGETS="fuzzers" for every target).
read -r -a targets <<<"${FUZZ_TARGETS:-fuzz_frame_decode fuzz_frame_stream fuzz_json_message \
  fuzz_roundtrip fuzz_session_checker fuzz_trace_reader fuzz_jwt_claims}"
FUZZ_CMAKE_ARGS="-DSYNCSIM_FUZZ_COVERAGE=ON" scripts/fuzz_build.sh "$BUILD_DIR" "${targets[@]}"
prof="$BUILD_DIR/profiles"
rm -rf "$prof" && mkdir -p "$prof"
objects=()
for dir in fuzz/corpus/*/; do
  t=$(basename "$dir")
  bin="$BUILD_DIR/fuzz/$t"
  [ -x "$bin" ] || continue
  objects+=(-object "$bin")
  # Inputs given as files are each run once; no fuzzing.
  find "$dir" -type f -print0 | LLVM_PROFILE_FILE="$prof/$t-%p.profraw" \
    xargs -0 -n 500 "$bin" -rss_limit_mb=2048 -timeout=10 >/dev/null 2>&1
done
llvm-profdata-14 merge -sparse "$prof"/*.profraw -o "$prof/all.profdata"
sources=()
for d in "${DIRS[@]}"; do sources+=("$PWD/$d"); done
llvm-cov-14 report "${objects[@]:1}" -instr-profile "$prof/all.profdata" "${sources[@]}" |
  tee "$BUILD_DIR/coverage.txt"
