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
dir=$(mktemp -d) || exit 2
trap 'rm -rf "$dir"' EXIT
bugarg=
[ "$bug" = none ] || bugarg="--bug $bug"
limit=
if command -v timeout >/dev/null 2>&1; then limit="timeout 400"; fi
$limit "$syncsim" run "$@" --client-exec "'$client' $bugarg" \
  --client-driver write,apply-rate,resubscribe,unsubscribe --no-progress >"$dir/run.out" 2>&1
rc=$?
cat "$dir/run.out"
if grep -q "^  UNSUP " "$dir/run.out"; then
  echo "live_faulty_client: a scenario was UNSUPPORTED" >&2
  exit 1
fi
if [ "$bug" = none ]; then
  [ "$rc" -eq 0 ] || { echo "live_faulty_client: the clean client failed (exit $rc)" >&2; exit 1; }
  exit 0
fi
if [ "$rc" -ne 1 ]; then
  echo "live_faulty_client: --bug $bug: expected syncsim run to exit 1, got $rc" >&2
  exit 1
fi
if ! grep -E "^  FAIL " -A40 "$dir/run.out" | grep -Eq "(^|[^A-Z0-9-])$rule([^0-9]|$)"; then
  echo "live_faulty_client: --bug $bug: no failure naming $rule" >&2
  exit 1
fi
echo "live_faulty_client: --bug $bug caught live under $rule"
