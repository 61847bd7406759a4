#!/bin/sh
# check_faulty_client.sh FAULTY_CLIENT SYNCSIM BUG RULE [FILTER]
# Runs `syncsim check --client --exec` with FAULTY_CLIENT --bug BUG started for
# each case, over TCP. BUG none must pass every case (exit 0); any other bug
# must make the check exit 1 with a case of RULE failed or timed out, or a
# MUST finding of RULE inside a failed case. FILTER (default: RULE) picks the
# cases to run, to keep the test short. Bounded throughout: it never hangs.
set -u
if [ $# -lt 4 ] || [ $# -gt 5 ]; then
  echo "usage: $0 FAULTY_CLIENT SYNCSIM BUG RULE [FILTER]" >&2
  exit 2
fi
client=$1 syncsim=$2 bug=$3 rule=$4 filter=${5:-$4}

out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
trap 'exit 2' HUP INT TERM

# syncsim check bounds every wait itself; timeout(1), when present, is a backstop.
limit=
if command -v timeout >/dev/null 2>&1; then limit="timeout 110"; fi
only=
if [ "$bug" != none ]; then only="--filter $filter"; fi
# shellcheck disable=SC2086
$limit "$syncsim" check --client --listen tcp://127.0.0.1:0 --connect-timeout-ms 5000 $only \
  --exec "'$client' --bug $bug" >"$out" 2>&1
rc=$?
cat "$out"

if [ "$bug" = none ]; then
  if [ "$rc" -ne 0 ]; then
    echo "check_faulty_client: the clean client failed the check (exit $rc)" >&2
    exit 1
  fi
  exit 0
fi
if [ "$rc" -ne 1 ]; then
  echo "check_faulty_client: --bug $bug: expected syncsim check to exit 1, got $rc" >&2
  exit 1
fi
if ! grep -Eq "^[[:space:]]*(FAIL|TIMEOUT)[[:space:]]+${rule}[[:space:]]" "$out" &&
  ! grep -Eq "(finding:|checker found) $rule \(MUST\)" "$out"; then
  echo "check_faulty_client: --bug $bug: no FAIL or TIMEOUT verdict or MUST finding for $rule" >&2
  exit 1
fi
echo "check_faulty_client: --bug $bug caught under $rule"
