#!/bin/sh
# The live subset (D133) against `syncsim serve` over one transport: every
# scenario with a live: block passes (PASS or XFAIL) with zero MUST findings
# on the reference server, driven through the target file `serve
# --target-out` writes (hooks via `syncsim admin`). Prints the wall time
# (measured, not asserted) and the subset's size per family.
# Usage: live_subset.sh <syncsim> <scenario dir> <workdir> tcp|ws [runs] [jobs]
set -u
SYNCSIM=$1 SC=$2 DIR=$3 TRANSPORT=$4 RUNS=${5:-1} JOBS=${6:-4}
rm -rf "$DIR"
mkdir -p "$DIR"
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
i=0
until grep -q "wrote the target file" "$DIR/serve.log" 2>/dev/null; do
  i=$((i + 1))
  [ $i -gt 100 ] && { cat "$DIR/serve.log"; echo "FAIL: serve wrote no target file"; exit 1; }
  sleep 0.05
done

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
  "$SYNCSIM" run "$SC" --target "$DIR/target.yaml" --seed $run --jobs "$JOBS" --no-progress \
    --junit "$DIR/junit.xml" >"$DIR/run$run.log" 2>&1
  rc=$?
  end=$(date +%s)
  cat "$DIR/run$run.log"
  echo "live subset over $TRANSPORT, run $run: $((end - start)) s wall, $JOBS scenario(s) at a time"
  [ $rc -eq 0 ] || { echo "FAIL: run --target exited $rc over $TRANSPORT"; exit 1; }
  grep -E "^  (FAIL|UNSUP) " "$DIR/run$run.log" && { echo "FAIL: not every scenario passed"; exit 1; }
  run=$((run + 1))
done
# serve's own checker is not consulted: it sees frames as the server wrote
# them, before the proxies drop or reorder them, so a client's correct
# resync after a proxy's drop looks unfounded there. The run's checkers, at
# the proxies, judge what each side really got.
echo "OK: the live subset passes over $TRANSPORT"
