#!/bin/sh
# Resource bounds under abuse, live on 127.0.0.1 (docs/robustness.md):
# `syncsim serve` alone, then `syncsim proxy` in front of it, each against
# the abuse driver (slowloris, a 1 GiB declaration, a Ping flood, a peer
# that never reads, next to one well-behaved client). CI runs a small size;
# SYNCSIM_ABUSE_FULL=1 runs 1,000 slowloris connections and 1M flood Pings.
# Usage: abuse.sh <syncsim> <abuse driver> <workdir> [peak RSS bound, MiB; default 256]
set -u
SYNCSIM=$1 DRIVER=$2 DIR=$3 RSS=${4:-256}
# The driver is a test tool that ends with abusive connections still open
# and their handlers pending; LeakSanitizer checks the processes under test
# (serve, proxy), not the driver's own exit.
driver() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$DRIVER" "$@"; }
mkdir -p "$DIR"
rm -f "$DIR/serve.log" "$DIR/proxy.log"  # port_of must not read a banner of an earlier run
. "$(dirname "$0")/lib.sh"  # port_of
ulimit -n 4096 2>/dev/null || true
IDLE=2  # serve --idle-timeout: how a peer stalled mid-frame is shed (D71)
if [ "${SYNCSIM_ABUSE_FULL:-0}" = 1 ]; then
  SIZE="--slowloris 1000 --flood 1000000 --deaf 4000000 --deadline 60"
  PROXY_SIZE="--slowloris 1000 --flood 1000000 --deaf 4000000 --deadline 60"
else
  SIZE="--slowloris 200 --flood 100000 --deaf 100000 --deadline 20"
  PROXY_SIZE="--slowloris 100 --flood 20000 --deaf 20000 --deadline 20"
fi
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
fail=0

"$SYNCSIM" serve --listen tcp://127.0.0.1:0 --idle-timeout $IDLE --must-only --duration 120 \
  >"$DIR/serve.log" 2>&1 &
SERVE=$!
pids="$pids $SERVE"
SPORT=$(port_of "$DIR/serve.log" "listens on tcp://127.0.0.1:") || exit 1
echo "== syncsim serve (pid $SERVE, port $SPORT, --idle-timeout $IDLE)"
# shellcheck disable=SC2086
driver --port "$SPORT" --pid "$SERVE" $SIZE --shed-within $((IDLE + 3)) --rss-mib "$RSS" \
  || fail=1

"$SYNCSIM" proxy --listen tcp://127.0.0.1:0 --upstream "tcp://127.0.0.1:$SPORT" --duration 100 \
  --must-only >"$DIR/proxy.log" 2>&1 &
PROXY=$!
pids="$pids $PROXY"
PPORT=$(port_of "$DIR/proxy.log" "syncsim proxy: tcp://127.0.0.1:") || exit 1
echo "== syncsim proxy (pid $PROXY, port $PPORT) in front of serve"
# shellcheck disable=SC2086
driver --port "$PPORT" --pid "$PROXY" $PROXY_SIZE --shed-within $((IDLE + 3)) --rss-mib "$RSS" \
  || fail=1
kill -0 "$SERVE" 2>/dev/null || { echo "FAIL: serve died"; fail=1; }
kill -0 "$PROXY" 2>/dev/null || { echo "FAIL: proxy died"; fail=1; }
[ $fail -eq 0 ] && echo PASS || echo FAIL
exit $fail
