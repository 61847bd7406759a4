#!/bin/sh
# explore --target against a real server: the reference server (`syncsim
# serve`) survives random proxy faults between two reference clients; the
# same server with its SkipDedup bug is caught (a duplicated DeltaPush acked
# with a fresh lsn, DELTA-6), and the failing run's fault file is written.
# Usage: explore_target.sh <syncsim> <workdir>
set -u
SYNCSIM=$1 DIR=$2
rm -rf "$DIR"
mkdir -p "$DIR"
. "$(dirname "$0")/lib.sh"  # port_of
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
"$SYNCSIM" serve --listen tcp://127.0.0.1:0 --duration 120 --must-only >"$DIR/clean.log" 2>&1 &
pids="$pids $!"
CLEAN=$(port_of "$DIR/clean.log" "listens on tcp://127.0.0.1:") || exit 1
"$SYNCSIM" serve --listen tcp://127.0.0.1:0 --duration 120 --must-only --bug SkipDedup \
  >"$DIR/buggy.log" 2>&1 &
pids="$pids $!"
BUGGY=$(port_of "$DIR/buggy.log" "listens on tcp://127.0.0.1:") || exit 1

"$SYNCSIM" explore --target "tcp://127.0.0.1:$CLEAN" --runs "${RUNS:-4}" --seed 1 \
  --out "$DIR/clean-found.yaml" >"$DIR/clean-explore.log" 2>&1
rc=$?
cat "$DIR/clean-explore.log"
[ $rc -eq 0 ] || { echo "FAIL: exploring the reference server exited $rc"; exit 1; }

cd "$DIR"
"$SYNCSIM" explore --target "tcp://127.0.0.1:$BUGGY" --runs 10 --seed 1 \
  --out "$DIR/found.yaml" >"$DIR/buggy-explore.log" 2>&1
rc=$?
cat "$DIR/buggy-explore.log"
[ $rc -eq 1 ] || { echo "FAIL: exploring the SkipDedup server exited $rc, not 1"; exit 1; }
grep -q "failed DELTA-6" "$DIR/buggy-explore.log" || { echo "FAIL: DELTA-6 not named"; exit 1; }
grep -q "client_to_server:" "$DIR/found.yaml" || { echo "FAIL: no fault file written"; exit 1; }
echo "OK"
