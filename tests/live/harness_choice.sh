#!/bin/sh
# A server that follows NodeDB where the spec makes a harness choice gets one
# clear verdict naming the rule and the choice, never a TIMEOUT (D127): the
# faulty server (tests/faulty) with its no-echo-to-writer defect, which like
# Origin never delivers a session's own writes back, fails
# own-writes-delivered-back with a FAIL that names
# SHAPE-7 and the HARNESS CHOICE; so does explore --target's first run.
# Usage: harness_choice.sh FAULTY_SERVER SYNCSIM
set -u
FAULTY=$1 SYNCSIM=$2
DIR=$(mktemp -d) || exit 2
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
"$FAULTY" --port 0 --bug no-echo-to-writer --port-file "$DIR/port" >"$DIR/server.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$DIR/port" ]; do
  i=$((i + 1))
  [ $i -gt 100 ] && { echo "FAIL: no port file"; exit 1; }
  sleep 0.05
done
"$SYNCSIM" check --server "tcp://127.0.0.1:$(cat "$DIR/port")" --filter own-writes-delivered-back \
  >"$DIR/check.out" 2>&1
rc=$?
cat "$DIR/check.out"
[ $rc -eq 1 ] || { echo "FAIL: check exited $rc, not 1"; exit 1; }
grep -Eq "^[[:space:]]*FAIL[[:space:]]+SHAPE-7[[:space:]]+own-writes-delivered-back" "$DIR/check.out" \
  || { echo "FAIL: no FAIL verdict (a TIMEOUT names no choice)"; exit 1; }
grep -q "SHAPE-7 (HARNESS CHOICE, §1.1" "$DIR/check.out" \
  || { echo "FAIL: the verdict does not name the rule and the harness choice"; exit 1; }
# explore --target's first run against it names the rule too, not a bare
# CONVERGENCE (D186).
(cd "$DIR" && "$SYNCSIM" explore --target "tcp://127.0.0.1:$(cat "$DIR/port")" --runs 1 \
  >"$DIR/explore.out" 2>&1)
rc=$?
cat "$DIR/explore.out"
[ $rc -eq 1 ] || { echo "FAIL: explore exited $rc, not 1"; exit 1; }
grep -q "run 1 failed SHAPE-7: SHAPE-7 (HARNESS CHOICE, §1.1" "$DIR/explore.out" \
  || { echo "FAIL: explore does not name the rule and the harness choice"; exit 1; }
echo "OK: the NodeDB-like server gets a FAIL naming SHAPE-7 and the harness choice (check, explore)"
