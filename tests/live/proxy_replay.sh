#!/bin/sh
# The reference server, `syncsim proxy` with faults in front of it, and two
# reference clients through the proxy: the proxy finds no MUST violation, and
# the trace it records replays in check-trace with the same verdict.
# Usage: proxy_replay.sh <syncsim> <faults.yaml> <workdir>
set -u
SYNCSIM=$1 FAULTS=$2 DIR=$3
mkdir -p "$DIR"
# Port 0 everywhere; the port bound is read from each banner (bounded wait).
. "$(dirname "$0")/lib.sh"  # port_of
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
"$SYNCSIM" serve --listen "tcp://127.0.0.1:0" --duration 12 >"$DIR/serve.log" 2>&1 &
pids="$pids $!"
SPORT=$(port_of "$DIR/serve.log" "listens on tcp://127.0.0.1:") || exit 1
"$SYNCSIM" proxy --listen "ws://127.0.0.1:0/sync" --upstream "tcp://127.0.0.1:$SPORT" \
  --faults "$FAULTS" --seed 5 --trace "$DIR/proxy.jsonl" --duration 6 -v >"$DIR/proxy.log" 2>&1 &
PROXY=$!
pids="$pids $PROXY"
PPORT=$(port_of "$DIR/proxy.log" "syncsim proxy: ws://127.0.0.1:") || exit 1
"$SYNCSIM" client --connect "ws://127.0.0.1:$PPORT/sync" --shape orders --writes 30 \
  --write-every-ms 20 --duration 4 >"$DIR/writer.log" 2>&1 &
pids="$pids $!"
"$SYNCSIM" client --connect "ws://127.0.0.1:$PPORT/sync" --shape orders --duration 4 \
  >"$DIR/reader.log" 2>&1
wait "$PROXY"
proxy_exit=$?
cat "$DIR/proxy.log"
grep -q "frames passed" "$DIR/proxy.log" || { echo "FAIL: the proxy printed no summary"; exit 1; }
grep -Eq "[1-9][0-9]* dropped|[1-9][0-9]* duplicated|[1-9][0-9]* reordered" "$DIR/proxy.log" \
  || { echo "FAIL: no fault was applied"; exit 1; }
[ "$proxy_exit" -eq 0 ] || { echo "FAIL: proxy exit $proxy_exit (MUST findings)"; exit 1; }
"$SYNCSIM" check-trace --tap "$DIR/proxy.jsonl" >"$DIR/replay.log" 2>&1
replay_exit=$?
cat "$DIR/replay.log"
[ "$replay_exit" -eq 0 ] || { echo "FAIL: check-trace exit $replay_exit"; exit 1; }
grep -q "frames checked: 0 MUST findings" "$DIR/replay.log" || { echo "FAIL: replay verdict"; exit 1; }
echo "PASS"
