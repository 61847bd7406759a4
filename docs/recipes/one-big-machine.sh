#!/usr/bin/env bash
# One big machine: either let syncsim use every core itself ...
#   build/syncsim run scenarios --seeds 1..1000 --jobs "$(nproc)"
# ... or split the sweep into shards with xargs (or GNU parallel) and merge,
# which also lets you rerun one shard alone.
set -euo pipefail
export SYNCSIM_SWEEP=${SYNCSIM_SWEEP:-"scenarios --seeds 1..1000"}
N=${N:-$(nproc)}
seq 1 "$N" | xargs -P "$N" -I{} sh -c 'build/syncsim run $SYNCSIM_SWEEP --jobs 1 --no-progress --shard {}/'"$N"' --json shard-{}.json > shard-{}.log || [ $? -eq 1 ]'  # syncsim-shard
# GNU parallel, the same: parallel -j "$N" build/syncsim run $SYNCSIM_SWEEP --jobs 1 --shard {}/"$N" --json shard-{}.json ::: $(seq 1 "$N")
build/syncsim merge shard-*.json --junit merged.xml --html merged.html --json merged.json  # syncsim-merge
