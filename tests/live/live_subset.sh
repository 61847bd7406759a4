#!/bin/sh
# The live subset (D133) against `syncsim serve` over one transport: every
# scenario with a live: block passes (PASS or XFAIL) with zero MUST findings
# on the reference server, driven through the target file `serve
# --target-out` writes (hooks via `syncsim admin`). Prints the wall time
# (measured, not asserted) and the subset's size per family.
# Usage: live_subset.sh <syncsim> <scenario dir> <workdir> tcp|ws [runs]
set -u
SYNCSIM=$1 SC=$2 DIR=$3 TRANSPORT=$4 RUNS=${5:-1}
rm -rf "$DIR"
mkdir -p "$DIR"
. "$(dirname "$0")/lib.sh"  # port_of
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT
case $TRANSPORT in
  tcp) LISTEN=tcp://127.0.0.1:0 ;;
  ws) LISTEN=ws://127.0.0.1:0/sync ;;
  *) echo "usage: live_subset.sh SYNCSIM DIR WORKDIR tcp|ws [runs]"; exit 2 ;;
esac
"$SYNCSIM" serve --listen "$LISTEN" --jwt-secret live-subset-secret --target-out "$DIR/target.yaml" \
  --duration 900 --must-only >"$DIR/serve.log" 2>&1 &
pid=$!
port_of "$DIR/serve.log" "wrote the target file " >/dev/null || exit 1

"$SYNCSIM" run "$SC" --target "$DIR/target.yaml" --dry-run >"$DIR/dry.log" 2>&1 || {
  cat "$DIR/dry.log"; echo "FAIL: dry run"; exit 1; }
for family in resync throttle token purge; do
  n=$(grep -c "^  run .*$family" "$DIR/dry.log")
  echo "live subset: $n scenario(s) about $family"
done
grep "UNSUP" "$DIR/dry.log" && { echo "FAIL: a scenario of the live subset is UNSUPPORTED"; exit 1; }

run=1
while [ $run -le "$RUNS" ]; do
  start=$(date +%s)
  "$SYNCSIM" run "$SC" --target "$DIR/target.yaml" --seed $run --no-progress \
    --junit "$DIR/junit.xml" >"$DIR/run$run.log" 2>&1
  rc=$?
  end=$(date +%s)
  cat "$DIR/run$run.log"
  echo "live subset over $TRANSPORT, run $run: $((end - start)) s wall"
  [ $rc -eq 0 ] || { echo "FAIL: run --target exited $rc over $TRANSPORT"; exit 1; }
  grep -E "^  (FAIL|UNSUP) " "$DIR/run$run.log" && { echo "FAIL: not every scenario passed"; exit 1; }
  run=$((run + 1))
done
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
grep "MUST" "$DIR/serve.log" | grep -v " 0 MUST" && { echo "FAIL: the server saw MUST findings"; exit 1; }
echo "OK: the live subset passes over $TRANSPORT"
