#!/usr/bin/env bash
# Determinism across compilers: runs the whole scenario suite on several
# seeds with the gcc build (build/syncsim) and the clang build
# (build-fuzz/syncsim) and compares the trace hash of every (scenario, seed)
# from `syncsim run --json`; any difference fails. docs/fuzzing.md.
#   scripts/compare_compilers.sh [SEEDS]      (default 1..3)
# Environment: GCC_SYNCSIM, CLANG_SYNCSIM to name other binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-1..3}
GCC_SYNCSIM=${GCC_SYNCSIM:-build/syncsim}
CLANG_SYNCSIM=${CLANG_SYNCSIM:-build-fuzz/syncsim}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hashes() {  # binary, output: "scenario seed hash" lines, sorted
  local rc=0
  "$1" run scenarios --seeds "$SEEDS" --json "$tmp/run.json" >"$tmp/run.log" 2>&1 || rc=$?
  # Exit 1 is a failed scenario, still hashed and compared; 2 is unusable.
  if [ $rc -gt 1 ]; then
    cat "$tmp/run.log" >&2
    echo "compare_compilers: $1 run failed (exit $rc)" >&2
    exit 2
  fi
  jq -r '.runs[] | "\(.scenario) \(.seed) \(.trace_hash)"' "$tmp/run.json" | sort >"$2"
}
for bin in "$GCC_SYNCSIM" "$CLANG_SYNCSIM"; do
  [ -x "$bin" ] || { echo "compare_compilers: no $bin (build it first)" >&2; exit 2; }
done
hashes "$GCC_SYNCSIM" "$tmp/gcc.txt"
hashes "$CLANG_SYNCSIM" "$tmp/clang.txt"
runs=$(wc -l <"$tmp/gcc.txt")
if ! diff -u "$tmp/gcc.txt" "$tmp/clang.txt" >"$tmp/diff.txt"; then
  echo "compare_compilers: trace hashes differ between gcc and clang:"
  grep '^[-+][^-+]' "$tmp/diff.txt" | head -40
  exit 1
fi
echo "compare_compilers: $runs runs (seeds $SEEDS): gcc and clang trace hashes identical"
