#!/bin/sh
# live_client_matrix.sh BUILD_DIR [SCENARIO_DIR] [OUT_DIR]
# For the clean faulty_client and each of its defects, runs the live subset
# with `syncsim run --client-exec`, driving it over the stdin contract
# (write, apply-rate, resubscribe, unsubscribe; scenarios with other driven steps are
# UNSUPPORTED), four scenarios at a time, and prints one markdown row per
# defect: caught (right rule, by which scenarios), caught (other rules), or
# not caught. Two defects run at a time.
set -u
build=${1:?usage: live_client_matrix.sh BUILD_DIR [SCENARIO_DIR] [OUT_DIR]}
scenarios=${2:-$(dirname "$0")/../../scenarios}
out=${3:-$(mktemp -d)}
mkdir -p "$out"
client=$build/tests/faulty/faulty_client
syncsim=$build/syncsim
coll='--collection "${SYNCSIM_SHAPES%%,*}"'  # the scenario's collection, suffixed (D135)

one() {  # BUG RULE FAMILY
  bugarg=
  [ "$1" = none ] || bugarg="--bug $1"
  timeout 600 "$syncsim" run "$scenarios" --client-exec "$client $coll $bugarg" --jobs 4 \
    --client-driver write,apply-rate,resubscribe,unsubscribe --no-progress >"$out/$1.out" 2>&1
  rc=$?
  by=$(grep -E "^  FAIL " "$out/$1.out" | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')
  ran=$(grep -cE "^  (PASS|FAIL|XFAIL) " "$out/$1.out")
  if [ "$1" = none ]; then
    verdict="exit $rc, $ran scenario(s) run, failed: ${by:-none}"
  elif grep -E "^  FAIL " -A30 "$out/$1.out" | grep -Eq "(^|[^A-Z0-9-])$2([^0-9]|$)"; then
    verdict="caught (right rule) by $by"
  elif [ -n "$by" ]; then
    verdict="caught (other rules) by $by"
  else
    verdict="not caught ($ran scenario(s) run)"
  fi
  echo "| \`$1\` | $3 | $2 | $verdict |" >"$out/$1.row"
}

{ echo "none - clean"; "$client" --list-bugs; } >"$out/bugs"
running=0
while read -r bug rule family; do
  one "$bug" "$rule" "$family" &
  running=$((running + 1))
  if [ $running -ge 2 ]; then
    wait
    running=0
  fi
done <"$out/bugs"
wait
echo "| defect | family | rule broken | live scenario run (--client-exec) |"
echo "|---|---|---|---|"
while read -r bug rule family; do cat "$out/$bug.row"; done <"$out/bugs"
echo "raw outputs: $out" >&2
