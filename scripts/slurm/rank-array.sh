#!/usr/bin/env bash
# Rank a benchmark on a Slurm job array: every task ranks its shard and writes
# OUT/shard-<task>-of-<N>.json; `lpzero merge OUT` then writes what one process would have.
#
#   SHARDS=4 sbatch --array=0-3 scripts/slurm/rank-array.sh --bench PATH --stdlib --out OUT [rank flags]
#   (wait: `sbatch --wait`, or squeue)
#   lpzero merge OUT
#
# A failed task is resubmitted alone with the same SHARDS (`SHARDS=4 sbatch --array=2 …`); a task
# whose shard file is already there does nothing. Set LPZERO to the binary (default: `lpzero` on
# PATH) and LPZERO_CACHE to a cache folder every task can read, so that reruns gather nothing
# twice.
#SBATCH --job-name=lpzero-rank
#SBATCH --cpus-per-task=2
#SBATCH --output=lpzero-rank-%A_%a.log
set -euo pipefail
: "${SLURM_ARRAY_TASK_ID:?run this as a Slurm job array (sbatch --array=0-N)}"
shards=${SHARDS:-${SLURM_ARRAY_TASK_COUNT:?set SHARDS}}
exec "${LPZERO:-lpzero}" rank --shard "$SLURM_ARRAY_TASK_ID/$shards" "$@"
