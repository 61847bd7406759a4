#!/usr/bin/env bash
# The sharding recipes in docs/recipes run as their engines would run them:
# each line marked `# syncsim-shard` is run once per shard with the variables
# the engine sets (GitHub's matrix value, GitLab's CI_NODE_INDEX/TOTAL,
# Kubernetes' JOB_COMPLETION_INDEX), then the merge; the merged JSON must
# equal one unsharded run's. Usage: recipes.sh SYNCSIM REPO_DIR
set -euo pipefail
syncsim=$(realpath "$1") repo=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SYNCSIM_SWEEP="scenarios --seeds 1..3 --filter purge"
marked() { grep -- "# syncsim-$2" "$repo/docs/recipes/$1" | sed -E 's/^[[:space:]]*(- )?(run: )?//'; }
fresh() {  # a directory laid out like a checkout: build/syncsim, scenarios/
  rm -rf "$work/$1" && mkdir -p "$work/$1/build" "$work/$1/results" "$work/$1/bin"
  ln -s "$syncsim" "$work/$1/build/syncsim"; ln -s "$syncsim" "$work/$1/bin/syncsim"
  ln -s "$repo/scenarios" "$work/$1/scenarios"; cd "$work/$1"
}
shard_ok() { "$@" || [ $? -eq 1 ]; }  # exit 1 = findings, still a result

fresh reference
"$syncsim" run $SYNCSIM_SWEEP --json ref.json > /dev/null
ref=$work/reference/ref.json

fresh github
line=$(marked github-actions.yml shard)
for k in 1 2 3 4; do shard_ok bash -c "${line//'${{ matrix.shard }}'/$k}" > /dev/null; done
bash -c "$(marked github-actions.yml merge)" > /dev/null; cmp merged.json "$ref"; echo "github-actions.yml: merged = one run"

fresh gitlab
for k in 1 2 3 4; do CI_NODE_INDEX=$k CI_NODE_TOTAL=4 shard_ok bash -c "$(marked gitlab-ci.yml shard)" > /dev/null; done
bash -c "$(marked gitlab-ci.yml merge)" > /dev/null; cmp merged.json "$ref"; echo "gitlab-ci.yml: merged = one run"

fresh k8s
for i in 0 1 2 3; do PATH="$PWD/bin:$PATH" JOB_COMPLETION_INDEX=$i SHARDS=4 shard_ok sh -c "$(marked k8s-indexed-job.yaml shard)" > /dev/null; done
"$syncsim" merge results/shard-*.json --json merged.json > /dev/null; cmp merged.json "$ref"; echo "k8s-indexed-job.yaml: merged = one run"

fresh xargs
N=3 bash "$repo/docs/recipes/one-big-machine.sh" > /dev/null; cmp merged.json "$ref"; echo "one-big-machine.sh: merged = one run"
