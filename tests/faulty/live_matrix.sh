#!/bin/sh
# live_matrix.sh BUILD_DIR [SCENARIO_DIR] [OUT_DIR]
# For every faulty_server defect, runs the live scenarios of its family (the
# live subset's scenarios that mention the rule's family prefix, e.g. PURGE-)
# against it over TCP (tests/faulty/live_faulty.sh), and prints one markdown
# row per defect: caught (right rule, and by which scenario), caught (other
# rules), or not caught. Three defects run at a time; wall time is mostly
# waiting (each scenario runs in real time).
set -u
build=${1:?usage: live_matrix.sh BUILD_DIR [SCENARIO_DIR] [OUT_DIR]}
scenarios=${2:-$(dirname "$0")/../../scenarios}
out=${3:-$(mktemp -d)}
mkdir -p "$out"
here=$(dirname "$0")
server=$build/tests/faulty/faulty_server
syncsim=$build/syncsim

family_scenarios() {  # RULE: the live-subset files mentioning its family prefix
  prefix=${1%-*}-
  for f in "$scenarios"/*.yaml; do
    grep -q "^live:" "$f" || continue
    grep -q "simulator_only" "$f" && continue
    grep -q "$prefix" "$f" && echo "$f"
  done
}

one() {  # BUG RULE FAMILY
  files=$(family_scenarios "$2")
  if [ -z "$files" ]; then
    echo "| \`$1\` | $3 | $2 | no live scenario of the family |" >"$out/$1.row"
    return
  fi
  # shellcheck disable=SC2086
  sh "$here/live_faulty.sh" "$server" "$syncsim" "$1" "$2" $files >"$out/$1.out" 2>&1
  rc=$?
  by=$(grep -E "^  FAIL " "$out/$1.out" | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')
  if [ $rc -eq 0 ]; then
    verdict="caught (right rule) by $by"
  elif [ -n "$by" ]; then
    verdict="caught (other rules) by $by"
  else
    verdict="not caught"
  fi
  echo "| \`$1\` | $3 | $2 | $verdict |" >"$out/$1.row"
}

"$server" --list-bugs >"$out/bugs"
running=0
while read -r bug rule family; do
  one "$bug" "$rule" "$family" &
  running=$((running + 1))
  if [ $running -ge 3 ]; then
    wait
    running=0
  fi
done <"$out/bugs"
wait
echo "| defect | family | rule broken | live scenario run |"
echo "|---|---|---|---|"
while read -r bug rule family; do cat "$out/$bug.row"; done <"$out/bugs"
echo "raw outputs: $out" >&2
