#!/bin/sh
# `syncsim run --client-exec` (D150-D152): the reference client driven over
# the stdin contract passes a plain and a driven scenario with no MUST
# finding; a client without the contract (the faulty client) runs the plain
# one and is UNSUPPORTED on the driven one, and its wrong-checksum defect is
# caught live naming DELTA-2; a client that exits at once, one that hangs and
# a command that does not exist end with bounded verdicts.
# Usage: run_client.sh <syncsim> <scenario dir> <workdir> <faulty_client>
set -u
SYNCSIM=$1 SC=$2 DIR=$3 FAULTY=$4
rm -rf "$DIR"
mkdir -p "$DIR"
PLAIN=$SC/live_client_plain.yaml DRIVEN=$SC/live_client_driven.yaml
fail() { echo "FAIL: $*"; exit 1; }
run() {  # run NAME ARGS...: the run's output in $DIR/NAME.log, its exit status in $rc
  name=$1; shift
  "$SYNCSIM" run "$@" --no-progress >"$DIR/$name.log" 2>&1
  rc=$?
  echo "== $name (exit $rc)"; cat "$DIR/$name.log"
}
REF="$SYNCSIM client --driver --connect \"\$SYNCSIM_TARGET\" --token \"\$SYNCSIM_TOKEN\" --jwt-secret \"\$SYNCSIM_JWT_SECRET\" --must-only"

# 1. The reference client, driven: both pass, three times with the same verdicts.
for i in 1 2 3; do
  run ref$i "$PLAIN" "$DRIVEN" --client-exec "$REF" --client-driver all --junit "$DIR/ref.xml" \
    --json "$DIR/ref.json"
  [ $rc -eq 0 ] || fail "the reference client exited $rc (run $i)"
  grep -q "PASS   live-client-plain" "$DIR/ref$i.log" || fail "live-client-plain did not pass"
  grep -q "PASS   live-client-driven" "$DIR/ref$i.log" || fail "live-client-driven did not pass"
  grep -Eq " [1-9][0-9]* MUST" "$DIR/ref$i.log" && fail "a MUST finding against the reference client"
done
grep -q "<testcase" "$DIR/ref.xml" || fail "no JUnit testcases"

# 2. The reference client without the contract (stdin /dev/null): the driven
#    scenario is UNSUPPORTED, the plain one passes.
PLAINREF="$SYNCSIM client --connect \"\$SYNCSIM_TARGET\" --shape orders --must-only"
run nodriver "$PLAIN" "$DRIVEN" --client-exec "$PLAINREF" --junit "$DIR/nodriver.xml"
[ $rc -eq 0 ] || fail "no driver exited $rc"
grep -q "PASS   live-client-plain" "$DIR/nodriver.log" || fail "plain did not pass without a driver"
grep -q 'UNSUP  live-client-driven .*driver command "write"' "$DIR/nodriver.log" ||
  fail "the driven scenario is not UNSUPPORTED naming the write command"
grep -q "<skipped message=" "$DIR/nodriver.xml" || fail "no <skipped> in JUnit"

# 2b. A client that declares every command but ignores its stdin: the driven
#     scenario's expectations on its frames fail (they are judged, not assumed).
run ignores "$DRIVEN" --client-driver all --client-exec "$PLAINREF"
[ $rc -eq 1 ] || fail "a client ignoring its driver exited $rc, not 1"
grep -q "FAIL   live-client-driven" "$DIR/ignores.log" || fail "driven did not fail"
grep -q "SHAPE-5: expected a wrote ShapeSubscribe at least 2" "$DIR/ignores.log" ||
  fail "the missing resubscription is not named"

# 3. A client nobody here wrote, without the contract: clean passes the plain
#    scenario, its wrong-checksum defect is caught naming DELTA-2.
FCOLL='--collection "${SYNCSIM_SHAPES%%,*}"'  # the scenario's collection, suffixed (D135)
run faulty "$PLAIN" "$DRIVEN" --client-exec "$FAULTY --writes 20 $FCOLL"
[ $rc -eq 0 ] || fail "the clean faulty client exited $rc"
grep -q "PASS   live-client-plain" "$DIR/faulty.log" || fail "the clean faulty client did not pass"
grep -q "UNSUP  live-client-driven" "$DIR/faulty.log" || fail "driven is not UNSUPPORTED"
run checksum "$PLAIN" --client-exec "$FAULTY --writes 20 $FCOLL --bug wrong-checksum"
[ $rc -eq 1 ] || fail "wrong-checksum exited $rc, not 1"
grep -q "FAIL   live-client-plain" "$DIR/checksum.log" || fail "wrong-checksum did not fail"
grep -q "DELTA-2" "$DIR/checksum.log" || fail "DELTA-2 not named"

# 4. Bounded: exits at once, hangs, cannot start.
start=$(date +%s)
run exits "$PLAIN" --client-exec "echo bye from the client >&2; exit 3" -v
[ $rc -eq 1 ] || fail "an exiting client gave $rc, not 1"
grep -q "exited with status 3" "$DIR/exits.log" || fail "the exit status is not named"
grep -q "never connected" "$DIR/exits.log" || fail "never connected is not said"
grep -q "bye from the client" "$DIR/exits.log" || fail "its output tail is not kept"
run hangs "$PLAIN" --client-exec "echo \$\$ >$DIR/hang.pid; exec sleep 600"
[ $rc -eq 1 ] || fail "a hanging client gave $rc, not 1"
grep -q "never connected" "$DIR/hangs.log" || fail "never connected is not said for the hang"
run missing "$PLAIN" --client-exec "/no/such/client-binary"
[ $rc -eq 2 ] || fail "a command that cannot start gave $rc, not 2"
grep -q "cannot start the client" "$DIR/missing.log" || fail "cannot start is not said"
took=$(( $(date +%s) - start ))
[ $took -lt 30 ] || fail "the bounded cases took $took s"
[ -s "$DIR/hang.pid" ] || fail "the hanging client never ran"
kill -0 "$(cat "$DIR/hang.pid")" 2>/dev/null && fail "the hanging client was left running"
echo "OK"
