#!/bin/sh
# probe_faulty.sh FAULTY_SERVER FAULTY_PROBE BUG RULE
# Starts FAULTY_SERVER --bug BUG (with an admin port and a JWT secret) and
# runs faulty_probe against it: BUG none must pass every probe (exit 0); any
# other bug must fail the probe of RULE. Bounded: the probe's waits are.
set -u
server=$1 probe=$2 bug=$3 rule=$4
. "$(dirname "$0")/lib.sh"  # faulty_workdir, start_faulty_server
faulty_workdir
start_faulty_server probe_faulty "$server" --admin-port 0 --admin-port-file "$dir/admin" \
  --jwt-secret probe-secret --bug "$bug"
only=
if [ "$bug" != none ]; then only="--only $rule"; fi
# shellcheck disable=SC2086
timeout 60 "$probe" --port "$(cat "$dir/port")" --admin-port "$(cat "$dir/admin")" \
  --jwt-secret probe-secret $only >"$dir/probe.out" 2>&1
rc=$?
cat "$dir/probe.out"
if [ "$bug" = none ]; then
  [ "$rc" -eq 0 ] || { echo "probe_faulty: the clean server failed a probe" >&2; exit 1; }
  exit 0
fi
if [ "$rc" -ne 1 ] || ! grep -Eq "^[[:space:]]*FAIL[[:space:]]+${rule}[[:space:]]" "$dir/probe.out"; then
  echo "probe_faulty: --bug $bug: the $rule probe did not fail" >&2
  exit 1
fi
echo "probe_faulty: --bug $bug observable under $rule"
