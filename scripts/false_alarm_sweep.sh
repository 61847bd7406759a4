#!/bin/bash
# The checker's false-alarm and mutation sweeps (issue 15's evidence), on the
# reference pair: every scenario that injects no bug on many seeds (no FAIL),
# explore on
# every shipped family in its three modes (no failure), every bug scenario on
# seeds 1..1000 (caught every time), and the live check suites against
# `syncsim serve` and the reference client, repeated.
#
# Usage: scripts/false_alarm_sweep.sh [SEEDS=10000] [EXPLORE_RUNS=10000] [LIVE_REPEAT=10]
# Needs a built ./build/syncsim (scripts/setup.sh). Prints one line per sweep
# and exits 1 if any sweep failed. Takes about 40 minutes on 2 cores with the
# defaults; try `scripts/false_alarm_sweep.sh 100 100 1` first.
set -u
SEEDS=${1:-10000} EXPLORE_RUNS=${2:-10000} LIVE_REPEAT=${3:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SYNCSIM=${SYNCSIM:-$ROOT/build/syncsim}
OUT=${OUT:-$ROOT/build/false-alarms}
JOBS=${JOBS:-2}
mkdir -p "$OUT"
cd "$ROOT" || exit 2
. tests/live/lib.sh  # port_of
status=0
report() { printf '%-44s %s\n' "$1" "$2"; }
fail() { report "$1" "FAIL ($2)"; status=1; }

# 1. Every scenario that injects no bug, on seeds 1..SEEDS.
clean=$(ls scenarios/*.yaml | grep -v '/bug-')
if "$SYNCSIM" run $clean --seeds "1..$SEEDS" --jobs "$JOBS" \
    >"$OUT/suite.log" 2>&1; then
  report "clean scenarios x $SEEDS seeds" "$(grep -E '^[0-9]+ scenario\(s\):' "$OUT/suite.log" | tail -n 1)"
else
  fail "clean scenarios x $SEEDS seeds" "see $OUT/suite.log"
fi

# 2. Bug scenarios: each caught on every seed of 1..1000 (a PASS is a catch).
if "$SYNCSIM" run scenarios/bug-*.yaml --seeds 1..1000 --jobs "$JOBS" >"$OUT/bugs.log" 2>&1; then
  report "bug scenarios x 1000 seeds" "$(grep -E '^[0-9]+ scenario\(s\):' "$OUT/bugs.log" | tail -n 1)"
else
  fail "bug scenarios x 1000 seeds" "see $OUT/bugs.log"
fi

# 3. explore: every family, clean / --strict / --purges, JOBS at a time.
explore_one() {
  local fam=$1 mode=$2 log="$OUT/explore-$1${2// /}.log"
  if "$SYNCSIM" explore --family "$fam" --runs "$EXPLORE_RUNS" $mode --out "$OUT/found-$fam${mode// /}.yaml" \
      >"$log" 2>&1; then
    report "explore $fam ${mode:-clean} x $EXPLORE_RUNS" "no failure"
  else
    report "explore $fam ${mode:-clean} x $EXPLORE_RUNS" "FAIL (see $log)"
    return 1
  fi
}
pids=()
for fam in writes lossy push tokens throttle restart; do
  for mode in "" "--strict" "--purges"; do
    explore_one "$fam" "$mode" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$JOBS" ]; then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
  done
done
for p in "${pids[@]}"; do wait "$p" || status=1; done

# 4. Live: check --server against serve, check --client against the reference client.
serve_log="$OUT/serve.log"
"$SYNCSIM" serve --listen tcp://127.0.0.1:0 >"$serve_log" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null' EXIT
port=$(port_of "$serve_log" "listens on tcp://127.0.0.1:") || exit 2
bad=0
for i in $(seq 1 "$LIVE_REPEAT"); do
  "$SYNCSIM" check --server "tcp://127.0.0.1:$port" >"$OUT/check-server-$i.log" 2>&1 || bad=$((bad + 1))
done
[ $bad -eq 0 ] && report "check --server (serve) x $LIVE_REPEAT" "all pass" ||
  fail "check --server (serve) x $LIVE_REPEAT" "$bad failed, see $OUT/check-server-*.log"
kill $serve_pid 2>/dev/null
bad=0
for i in $(seq 1 "$LIVE_REPEAT"); do
  "$SYNCSIM" check --client --listen tcp://127.0.0.1:0 \
    --exec "'$SYNCSIM' client --connect \"\$SYNCSIM_TARGET\"" >"$OUT/check-client-$i.log" 2>&1 ||
    bad=$((bad + 1))
done
[ $bad -eq 0 ] && report "check --client (reference) x $LIVE_REPEAT" "all pass" ||
  fail "check --client (reference) x $LIVE_REPEAT" "$bad failed, see $OUT/check-client-*.log"
exit $status
