#!/bin/sh
# `syncsim run --server` against a server that stalls: it accepts
# connections (the kernel's backlog does) but never reads or answers
# (SIGSTOP). The run must end in bounded time with a FAIL naming what never
# came, exit 1: never a hang, never a PASS.
# Usage: run_stalled.sh <syncsim> <scenario> <workdir>
set -u
SYNCSIM=$1 SCENARIO=$2 DIR=$3
rm -rf "$DIR"
mkdir -p "$DIR"
. "$(dirname "$0")/lib.sh"  # port_of
pid=""
trap '[ -n "$pid" ] && { kill -CONT "$pid"; kill "$pid"; } 2>/dev/null' EXIT
"$SYNCSIM" serve --listen tcp://127.0.0.1:0 --duration 120 >"$DIR/serve.log" 2>&1 &
pid=$!
PORT=$(port_of "$DIR/serve.log" "listens on tcp://127.0.0.1:") || exit 1
kill -STOP "$pid"
start=$(date +%s)
timeout 90 "$SYNCSIM" run "$SCENARIO" --server "tcp://127.0.0.1:$PORT" --no-progress \
  >"$DIR/run.log" 2>&1
rc=$?
took=$(($(date +%s) - start))
cat "$DIR/run.log"
echo "the run against a stalled server took $took s"
[ $rc -eq 1 ] || { echo "FAIL: expected exit 1, got $rc"; exit 1; }
grep -q "^  FAIL " "$DIR/run.log" || { echo "FAIL: no FAIL line"; exit 1; }
grep -q "is not connected at the end" "$DIR/run.log" ||
  { echo "FAIL: the failure does not say the client never got into session"; exit 1; }
echo "OK: a stalled server is a bounded FAIL"
