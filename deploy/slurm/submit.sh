#!/usr/bin/env bash
# Submit a sharded liqsim sweep and its merge job:
#
#   SCENARIO=scenarios/jump-crash.toml SEEDS=200 SHARDS=16 OUT=/scratch/$USER/jc \
#   GRID="--grid margin.confidence=0.99,0.995" deploy/slurm/submit.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${SHARDS:=16}"
array=$(sbatch --parsable --array="0-$((SHARDS - 1))" --export=ALL "$here/sweep.sbatch")
sbatch --dependency="afterok:${array}" --export=ALL "$here/merge.sbatch"
echo "sweep array job ${array}; merge queued after it"
