#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/, clang 14, ASan + UBSan, ccache)
# and runs each for SECONDS_PER_TARGET (default 10) on a copy of its
# committed corpus (fuzz/corpus/<target>/), so the tree stays clean.
# Prints executions per target; exits non-zero on any crash, leak or timeout
# (the input is kept in build-fuzz/findings/<target>/). docs/fuzzing.md.
#
#   scripts/fuzz.sh                  # every target, 10 s each
#   scripts/fuzz.sh 60 frame_stream  # one target, a minute
# Environment: BUILD_DIR (default build-fuzz), JOBS, FUZZ_MAX_LEN (65536),
# SYNCSIM_NO_INSTALL=1 to skip the package step.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-10}
shift || true
BUILD_DIR=${BUILD_DIR:-build-fuzz}
ALL=(frame_decode frame_stream json_message roundtrip jwt_claims ws_message session_checker
  trace_reader scenario_yaml target_file fault_file)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

scripts/fuzz_build.sh "$BUILD_DIR" fuzzers

status=0
printf '%-16s %12s %8s  %s\n' target executions exec/s result
for t in "${TARGETS[@]}"; do
  bin="$BUILD_DIR/fuzz/$t"
  [ -x "$bin" ] || { echo "fuzz.sh: no target $t (one of: ${ALL[*]})" >&2; exit 2; }
  work="$BUILD_DIR/fuzz-work/$t"
  found="$BUILD_DIR/findings/$t"
  rm -rf "$work" && mkdir -p "$work" "$found"
  [ -d "fuzz/corpus/$t" ] && cp -r "fuzz/corpus/$t/." "$work/"
  log="$BUILD_DIR/fuzz-work/$t.log"
  rc=0
  "$bin" "$work" -max_total_time="$SECONDS_PER_TARGET" -max_len="${FUZZ_MAX_LEN:-65536}" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$found/" \
    >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then result=ok; else
    result="FAILED (exit $rc): $(grep -m1 -E 'ERROR|FUZZ_CHECK|Test unit written' "$log" || true)"
    status=1
  fi
  printf '%-16s %12s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "$result"
  [ $rc -eq 0 ] || { tail -40 "$log"; ls "$found"; }
done
exit $status
