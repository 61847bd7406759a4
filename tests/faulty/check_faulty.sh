#!/bin/sh
# check_faulty.sh FAULTY_SERVER SYNCSIM BUG RULE
# Starts FAULTY_SERVER with --bug BUG on a free port and runs every case of
# `syncsim check --server` against it over TCP. BUG none must pass every case
# (exit 0); any other bug must make the check exit 1 with a case of RULE
# failed (or timed out, for an answer that never comes) or a MUST finding of
# RULE inside a failed case. Bounded throughout: it never hangs.
# FAULTY_HOOKS=1 (environment) also opens the server's admin port and passes
# `check` a target file whose hooks reach it through `syncsim admin` (the
# purge and definition cases, D132) and which holds the server's JWT secret.
set -u
if [ $# -ne 4 ]; then
  echo "usage: $0 FAULTY_SERVER SYNCSIM BUG RULE" >&2
  exit 2
fi
server=$1 syncsim=$2 bug=$3 rule=$4

. "$(dirname "$0")/lib.sh"  # faulty_workdir, start_faulty_server
faulty_workdir

# FAULTY_SERVER_ARGS and FAULTY_CHECK_ARGS (environment) add options to either;
# unset, both get one JWT secret, so the cases that mint tokens run.
key=faulty-check-secret
secret="--jwt-secret $key"
extra=
if [ "${FAULTY_HOOKS:-0}" = 1 ]; then extra="--admin-port 0 --admin-port-file $dir/admin"; fi
# shellcheck disable=SC2086
start_faulty_server check_faulty "$server" --bug "$bug" $extra ${FAULTY_SERVER_ARGS-$secret}

target=
if [ "${FAULTY_HOOKS:-0}" = 1 ]; then
  # The server's default secret goes in the target file too: FAULTY_CHECK_ARGS
  # may replace the option.
  keyed=$key
  if [ -n "${FAULTY_SERVER_ARGS+x}" ]; then keyed=; fi
  sh "$(dirname "$0")/hook_target.sh" "$syncsim" "$port" "$(cat "$dir/admin")" "$keyed" \
    >"$dir/target.yaml"
  target="--target $dir/target.yaml"
fi

# syncsim check bounds every answer itself; timeout(1), when present, is a backstop.
limit=
if command -v timeout >/dev/null 2>&1; then limit="timeout 50"; fi
# Every case runs (about a second): a rule may be caught by a finding inside
# a case of another rule (HS-7 in any handshake, TOKEN-2 in refresh-answered).
# Loopback answers come in microseconds: a third of every budget is plenty.
# shellcheck disable=SC2086
$limit "$syncsim" check --server "tcp://127.0.0.1:$port" --timeout-ms 1000 --time-scale 0.3 \
  $target ${FAULTY_CHECK_ARGS-$secret} --baseline "$(dirname "$0")/baseline.yaml" \
  >"$dir/check.out" 2>&1
rc=$?
cat "$dir/check.out"

if [ "$bug" = none ]; then
  if [ "$rc" -ne 0 ]; then
    echo "check_faulty: the clean server failed the check (exit $rc)" >&2
    exit 1
  fi
  exit 0
fi
if [ "$rc" -ne 1 ]; then
  echo "check_faulty: --bug $bug: expected syncsim check to exit 1, got $rc" >&2
  exit 1
fi
# Verdict lines look like "  FAIL        PING-2      ping-echoed  ...", findings
# inside a failed case like "        finding: HS-7 (MUST) ...".
if ! grep -Eq "^[[:space:]]*(FAIL|TIMEOUT)[[:space:]]+${rule}[[:space:]]" "$dir/check.out" &&
  ! grep -Eq "(finding:|checker found) $rule \(MUST\)" "$dir/check.out"; then
  echo "check_faulty: --bug $bug: no FAIL or TIMEOUT verdict or MUST finding for $rule" >&2
  exit 1
fi
echo "check_faulty: --bug $bug caught under $rule"
