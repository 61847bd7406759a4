#!/bin/sh
# run_profile_faulty.sh FAULTY_SERVER SYNCSIM SCENARIO
# `syncsim run --server` with a deviation profile (D144), against the faulty
# server over TCP, on SCENARIO (resync-corrupted-state: ResyncRequests whose
# fresh snapshots RESYNC-8 demands):
#   --bug resync-ignored (§7.1 item 9): FAIL, exit 1, without a profile; with
#     a target file's `profile: origin@19ed8a6a`, DEVIATION naming RESYNC-8 and
#     §7.1 item 9 in the table, JSON and JUnit, exit 0;
#   --bug acks-out-of-order (DELTA-9, not in §7.1): still FAIL, exit 1.
# (--live-all: run it whether or not it has a live: form, D133.)
# Bounded: each run is the live form's 4 s plus settling; timeout(1) is a backstop.
set -u
if [ $# -ne 3 ]; then
  echo "usage: $0 FAULTY_SERVER SYNCSIM SCENARIO" >&2
  exit 2
fi
server=$1 syncsim=$2 scenario=$3
dir=$(mktemp -d) || exit 2
pid=
stop() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  pid=
}
trap 'stop; rm -rf "$dir"' EXIT
trap 'exit 2' HUP INT TERM
limit=
if command -v timeout >/dev/null 2>&1; then limit="timeout 100"; fi

start() {  # start BUG: a faulty server on a free port, its URL in $url
  rm -f "$dir/port"
  "$server" --port 0 --bug "$1" --port-file "$dir/port" >"$dir/server.log" 2>&1 &
  pid=$!
  tries=0
  while [ ! -s "$dir/port" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 50 ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "run_profile_faulty: faulty_server --bug $1 did not start" >&2
      cat "$dir/server.log" >&2
      exit 1
    fi
    sleep 0.1 2>/dev/null || sleep 1
  done
  url="tcp://127.0.0.1:$(cat "$dir/port")"
}
run() {  # run OUT ARGS...: exit in $rc
  out=$1
  shift
  $limit "$syncsim" run "$scenario" --live-all --no-progress "$@" >"$out" 2>&1
  rc=$?
  echo "---- syncsim run $* (exit $rc)"
  cat "$out"
}
fail() {
  echo "run_profile_faulty: $*" >&2
  exit 1
}

start resync-ignored
run "$dir/without.out" --server "$url"
[ "$rc" -eq 1 ] || fail "resync-ignored without a profile: exit $rc, not 1"
grep -Eq "^  FAIL .*- RESYNC-8:|^        - RESYNC-8:" "$dir/without.out" ||
  fail "resync-ignored without a profile: no failure citing RESYNC-8"
printf 'server: %s\nprofile: origin@19ed8a6a\n' "$url" >"$dir/target.yaml"
run "$dir/with.out" --target "$dir/target.yaml" --json "$dir/r.json" --junit "$dir/j.xml"
[ "$rc" -eq 0 ] || fail "resync-ignored with origin@19ed8a6a: exit $rc, not 0"
want="known upstream deviation RESYNC-8 (origin@19ed8a6a, §7.1 item 9: ResyncRequest and Throttle are only logged)"
grep -q "^  DEVIATION  .*$want" "$dir/with.out" || fail "no DEVIATION line naming RESYNC-8 and §7.1 item 9"
grep -q "\"deviation\":\"$want\"" "$dir/r.json" || fail "the JSON record has no deviation"
grep -q "<skipped message=\"DEVIATION: $want\"" "$dir/j.xml" || fail "JUnit has no DEVIATION <skipped>"
stop

start acks-out-of-order
run "$dir/other.out" --target "$dir/target.yaml" --server "$url"
[ "$rc" -eq 1 ] || fail "acks-out-of-order with origin@19ed8a6a: exit $rc, not 1"
grep -q "DELTA-9" "$dir/other.out" || fail "acks-out-of-order: DELTA-9 not named"
grep -q "^  DEVIATION" "$dir/other.out" && fail "acks-out-of-order became DEVIATION"
echo "run_profile_faulty: RESYNC-8 is DEVIATION with origin@19ed8a6a and FAIL without; DELTA-9 still FAILs"
