#!/usr/bin/env bash
# Rebuilds the committed fuzz corpora: fuzz/make_seeds.py writes seeds from
# the project's vectors, scenarios, traces (and traces of a few runs of
# build/syncsim), then libFuzzer's -merge=1 keeps only the inputs that add
# coverage to fuzz/corpus/<target>/ (regress-* inputs are always kept).
#   scripts/fuzz_seeds.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
python3 fuzz/make_seeds.py "$seeds" "$([ -x build/syncsim ] && echo build/syncsim)"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=($(ls "$seeds"))
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  "$BUILD_DIR/fuzz/$t" -merge=1 -max_len=65536 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$seeds/" \
    "fuzz/corpus/$t" "$seeds/$t" 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" || true
  echo "$t: $(ls "fuzz/corpus/$t" | wc -l) inputs, $(du -sh "fuzz/corpus/$t" | cut -f1)"
done
