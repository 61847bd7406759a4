#!/bin/sh
# live_faulty_client.sh FAULTY_CLIENT SYNCSIM BUG RULE SCENARIO...
# Runs the given live scenarios with `syncsim run --client-exec`, the client
# under test being FAULTY_CLIENT --bug BUG driven over the stdin contract
# (write, apply-rate, resubscribe, unsubscribe), against syncsim's reference server. BUG
# none must pass them all (exit 0); any other bug must make the run exit 1
# with a failure or a MUST finding naming RULE. Extra `syncsim run` options
# (--jobs 4) may come before the scenarios. Bounded: it never hangs.
set -u
if [ $# -lt 5 ]; then
  echo "usage: $0 FAULTY_CLIENT SYNCSIM BUG RULE SCENARIO..." >&2
  exit 2
fi
client=$1 syncsim=$2 bug=$3 rule=$4
shift 4
. "$(dirname "$0")/lib.sh"  # faulty_workdir, live_verdict
faulty_workdir
bugarg=
[ "$bug" = none ] || bugarg="--bug $bug"
limit=
if command -v timeout >/dev/null 2>&1; then limit="timeout 400"; fi
$limit "$syncsim" run "$@" --client-exec "'$client' $bugarg" \
  --client-driver write,apply-rate,resubscribe,unsubscribe --no-progress >"$dir/run.out" 2>&1
rc=$?
if grep -q "^  UNSUP " "$dir/run.out"; then
  cat "$dir/run.out"
  echo "live_faulty_client: a scenario was UNSUPPORTED" >&2
  exit 1
fi
live_verdict live_faulty_client "$bug" "$rule" $rc "$dir/run.out"
