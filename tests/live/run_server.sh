#!/bin/sh
# `syncsim run --server`: a short scenario passes live against the reference
# server over TCP and over WebSocket; a scenario needing an operator hook is
# UNSUPPORTED (a <skipped> testcase in JUnit), which does not fail the run.
# Usage: run_server.sh <syncsim> <scenario dir> <workdir>
set -u
SYNCSIM=$1 SC=$2 DIR=$3
rm -rf "$DIR"
mkdir -p "$DIR"
. "$(dirname "$0")/lib.sh"  # port_of
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
"$SYNCSIM" serve --listen tcp://127.0.0.1:0 --duration 60 --must-only >"$DIR/tcp.log" 2>&1 &
pids="$pids $!"
TCP=$(port_of "$DIR/tcp.log" "listens on tcp://127.0.0.1:") || exit 1
"$SYNCSIM" serve --listen ws://127.0.0.1:0/sync --duration 60 --must-only >"$DIR/ws.log" 2>&1 &
pids="$pids $!"
WS=$(port_of "$DIR/ws.log" "listens on ws://127.0.0.1:") || exit 1

for url in "tcp://127.0.0.1:$TCP" "ws://127.0.0.1:$WS/sync"; do
  "$SYNCSIM" run "$SC/live_short.yaml" "$SC/live_needs_hook.yaml" --server "$url" \
    --junit "$DIR/junit.xml" --no-progress >"$DIR/run.log" 2>&1
  rc=$?
  cat "$DIR/run.log"
  [ $rc -eq 0 ] || { echo "FAIL: run --server $url exited $rc"; exit 1; }
  grep -q "PASS   live-short" "$DIR/run.log" || { echo "FAIL: live-short did not pass"; exit 1; }
  grep -q "UNSUP  live-needs-hook .*operator hook \"purge\"" "$DIR/run.log" ||
    { echo "FAIL: no UNSUPPORTED line naming the hook"; exit 1; }
  grep -q "<skipped message=" "$DIR/junit.xml" || { echo "FAIL: no <skipped> in JUnit"; exit 1; }
done
echo "OK"
