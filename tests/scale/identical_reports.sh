#!/usr/bin/env bash
# --jobs and --shard + merge must not change a thing: the JSON, JUnit and
# HTML reports are byte-identical to a one-process run of the same sweep, and
# so is stdout (less the wall-time line). Usage: identical_reports.sh SYNCSIM SCENARIO_DIR
set -euo pipefail
syncsim=$(realpath "$1") scenarios=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
sweep=("$scenarios" --seeds 1..4 --filter purge)   # 10 scenarios x 4 seeds
strip() { grep -v ' wall s (' "$1"; }

# Each variant writes r.json, r.xml and r.html in a directory of its own.
variant() { local dir=$1; shift; mkdir "$dir" && (cd "$dir" && "$syncsim" "$@" --json r.json --junit r.xml --html r.html > out); }
same() { for f in r.json r.xml r.html; do cmp "$1/$f" "$2/$f"; done; }
variant one run "${sweep[@]}" --jobs 1
variant jobs run "${sweep[@]}" --jobs 3
same one jobs
diff <(strip one/out) <(strip jobs/out)
echo "--jobs 3: reports and output identical to --jobs 1"

for k in 1 2 3 4 5; do "$syncsim" run "${sweep[@]}" --jobs 2 --shard "$k/5" --json "s$k.json" > "s$k.out"; done
# Shards in any order.
mkdir merged && (cd merged && "$syncsim" merge ../s4.json ../s2.json ../s5.json ../s1.json ../s3.json --json r.json --junit r.xml --html r.html > out)
same one merged
echo "--shard K/5 + merge: reports identical to one run"

# A sweep with failures: the same reports, output and exit status (1).
fails=("$(dirname "$scenarios")/tests/scenarios/expect_fails.yaml" "$scenarios/writes-converge.yaml" --seeds 1..6)
status() { "$@" && echo 0 || echo $?; }
test "$(status variant fone run "${fails[@]}" --jobs 1)" = 1
test "$(status variant fjobs run "${fails[@]}" --jobs 4)" = 1
same fone fjobs
diff <(strip fone/out) <(strip fjobs/out)
for k in 1 2; do "$syncsim" run "${fails[@]}" --shard "$k/2" --json "f$k.json" > /dev/null || true; done
mkdir fmerged
rc=0; (cd fmerged && "$syncsim" merge ../f1.json ../f2.json --json r.json --junit r.xml --html r.html > out) || rc=$?
test "$rc" = 1
same fone fmerged
echo "with failures: identical reports and exit status 1 every way"

# The same sweep through the variables Bazel and GoogleTest set (0-based).
TEST_TOTAL_SHARDS=5 TEST_SHARD_INDEX=3 TEST_SHARD_STATUS_FILE=status \
  "$syncsim" run "${sweep[@]}" --json env.json > /dev/null
cmp env.json s4.json
test -f status
echo "TEST_SHARD_INDEX=3 of 5 is --shard 4/5, and the status file is touched"

# A missing shard, or a shard of another sweep, is refused by name.
if "$syncsim" merge s1.json s2.json s3.json s4.json 2> err.txt; then echo "merge without shard 5 passed"; exit 1; fi
grep -q 'shard 5/5 is missing' err.txt
"$syncsim" run "$scenarios" --seeds 1..2 --filter purge --shard 5/5 --json other.json > /dev/null
if "$syncsim" merge s1.json s2.json s3.json s4.json other.json 2> err.txt; then echo "mixed sweeps merged"; exit 1; fi
grep -q 'another sweep' err.txt
echo "missing and foreign shards refused"

# explore --jobs (D189): the same output, found failure, shrunk scenario and
# exit status as one process, with a failure to find and without.
explore_variant() {
  local dir=$1; shift
  mkdir "$dir"
  (cd "$dir" && { "$syncsim" explore "$@" --out found.yaml > out 2>/dev/null && echo 0 || echo $?; } > rc)
}
for args in "--family writes --runs 40" "--scenario $scenarios/writes-converge.yaml --client-bug NoResyncOnGap --runs 30"; do
  rm -rf eone ejobs
  # shellcheck disable=SC2086  # the arguments are words on purpose
  explore_variant eone $args --jobs 1
  # shellcheck disable=SC2086
  explore_variant ejobs $args --jobs 3
  cmp eone/out ejobs/out
  cmp eone/rc ejobs/rc
  if [ -f eone/found.yaml ]; then cmp eone/found.yaml ejobs/found.yaml; fi
  echo "explore $args --jobs 3: output, exit status $(cat eone/rc) and scenario identical to --jobs 1"
done
test "$(cat eone/rc)" = 1  # the injected bug was found
