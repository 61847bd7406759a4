#!/bin/sh
# profile_faulty.sh SIDE PEER SYNCSIM BUG PROFILE RULE EXPECT [FILTER]
# Deviation profiles end to end (D140-D144). SIDE is server (PEER is
# faulty_server, started here with --bug BUG) or client (PEER is faulty_client,
# run by check --client --exec). EXPECT:
#   deviation  BUG breaks RULE as spec §7 says PROFILE's upstream does: without
#              the profile the check exits 1 with RULE failed; with it (a target
#              file's `profile:` for a server, --profile for a client) it exits
#              0, RULE's case is DEVIATION (table and JUnit), and nothing fails.
#   fail       BUG breaks RULE, which PROFILE does not list: with the profile
#              the check still exits 1 with RULE failed.
#   mixed      BUG breaks RULE, which PROFILE lists, and in the same case a
#              rule it does not: with the profile the case is still FAIL (exit
#              1), its detail naming RULE as explained and the other as not.
# FILTER (client side; default RULE) picks the cases run. Bounded throughout.
set -u
if [ $# -lt 7 ] || [ $# -gt 8 ]; then
  echo "usage: $0 server|client PEER SYNCSIM BUG PROFILE RULE deviation|fail|mixed [FILTER]" >&2
  exit 2
fi
side=$1 peer=$2 syncsim=$3 bug=$4 profile=$5 rule=$6 expect=$7 filter=${8:-$6}

. "$(dirname "$0")/lib.sh"  # faulty_workdir, start_faulty_server
faulty_workdir

secret=faulty-profile-secret
limit=
if command -v timeout >/dev/null 2>&1; then limit="timeout 110"; fi

if [ "$side" = server ]; then
  # One JWT secret for both, so the cases that mint tokens run (as check_faulty.sh).
  start_faulty_server profile_faulty "$peer" --bug "$bug" --jwt-secret "$secret"
  printf 'profile: %s\njwt_secret: %s\n' "$profile" "$secret" >"$dir/target.yaml"
fi

# check OUT [ARGS...]: one run of the check, its output in OUT, its exit in $rc.
check() {
  out=$1
  shift
  if [ "$side" = server ]; then
    # shellcheck disable=SC2086
    $limit "$syncsim" check --server "tcp://127.0.0.1:$port" --timeout-ms 1000 \
      --time-scale 0.3 "$@" >"$out" 2>&1
  else
    # shellcheck disable=SC2086
    $limit "$syncsim" check --client --listen tcp://127.0.0.1:0 --connect-timeout-ms 5000 \
      --filter "$filter" --exec "'$peer' --bug $bug" "$@" >"$out" 2>&1
  fi
  rc=$?
  echo "---- syncsim check $* (exit $rc)"
  cat "$out"
}
failed_under_rule() {
  grep -Eq "^[[:space:]]*(FAIL|TIMEOUT)[[:space:]]+${rule}[[:space:]]" "$1" ||
    grep -Eq "(finding:|checker found) $rule \(MUST\)" "$1"
}
with_profile() {
  if [ "$side" = server ]; then echo "--target $dir/target.yaml"; else echo "--profile $profile"; fi
}

if [ "$expect" = fail ] || [ "$expect" = mixed ]; then
  # shellcheck disable=SC2046
  check "$dir/with.out" $(with_profile)
  if [ "$rc" -ne 1 ] || ! failed_under_rule "$dir/with.out"; then
    echo "profile_faulty: --bug $bug with $profile: expected exit 1 with $rule failed" >&2
    exit 1
  fi
  if [ "$expect" = mixed ] &&
    ! grep -q "\[the profile explains $rule ($profile, §7.*; it does not explain " "$dir/with.out"; then
    echo "profile_faulty: --bug $bug with $profile: the FAIL does not name $rule as explained and another rule as not" >&2
    exit 1
  fi
  echo "profile_faulty: --bug $bug still fails under $rule with $profile"
  exit 0
fi

if [ "$side" = server ]; then check "$dir/without.out" --jwt-secret "$secret"; else check "$dir/without.out"; fi
if [ "$rc" -ne 1 ] || ! failed_under_rule "$dir/without.out"; then
  echo "profile_faulty: --bug $bug without a profile: expected exit 1 with $rule failed" >&2
  exit 1
fi
# shellcheck disable=SC2046
check "$dir/with.out" $(with_profile) --junit "$dir/junit.xml"
if [ "$rc" -ne 0 ]; then
  echo "profile_faulty: --bug $bug with $profile: expected exit 0, got $rc" >&2
  exit 1
fi
if ! grep -Eq "^[[:space:]]*DEVIATION[[:space:]]+${rule}[[:space:]]" "$dir/with.out"; then
  echo "profile_faulty: --bug $bug with $profile: no DEVIATION verdict for $rule" >&2
  exit 1
fi
if grep -Eq "^[[:space:]]*(FAIL|TIMEOUT)[[:space:]]" "$dir/with.out"; then
  echo "profile_faulty: --bug $bug with $profile: a case still failed" >&2
  exit 1
fi
if ! grep -q "known upstream deviation $rule ($profile, §7" "$dir/with.out" ||
  ! grep -q "<skipped message=\"DEVIATION: known upstream deviation $rule ($profile, §7" \
    "$dir/junit.xml"; then
  echo "profile_faulty: --bug $bug with $profile: the verdict does not name $rule and §7" >&2
  exit 1
fi
echo "profile_faulty: --bug $bug is DEVIATION under $rule with $profile, FAIL without"
