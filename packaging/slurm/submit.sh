#!/bin/bash
# Usage: packaging/slurm/submit.sh N [extra sbatch options...]
# Submits a Headlight scan as a Slurm array of N shard tasks (headlight-scan.sbatch) and a merge job
# (headlight-merge.sbatch) that runs once every shard succeeded. Prints both job ids:
#   scan <array job id>
#   merge <merge job id>
# Environment: HEADLIGHT_MODEL, HEADLIGHT_CORPUS, HEADLIGHT_OUT_DIR (required), HEADLIGHT_ARGS,
# HEADLIGHT_CLI, HEADLIGHT_THREADS (see headlight-scan.sbatch); all are passed to the jobs.
# Extra options (e.g. --partition=cpu --cpus-per-task=8 --time=4:00:00) go to both sbatch calls.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 N [sbatch options...]  (N: shard count, >= 1)" >&2
  exit 2
fi
N="$1"; shift
: "${HEADLIGHT_MODEL:?set HEADLIGHT_MODEL}"
: "${HEADLIGHT_CORPUS:?set HEADLIGHT_CORPUS}"
: "${HEADLIGHT_OUT_DIR:?set HEADLIGHT_OUT_DIR}"
mkdir -p "$HEADLIGHT_OUT_DIR"
HEADLIGHT_OUT_DIR="$(cd "$HEADLIGHT_OUT_DIR" && pwd)"
export HEADLIGHT_MODEL HEADLIGHT_CORPUS HEADLIGHT_OUT_DIR HEADLIGHT_SHARDS="$N"

array_id="$(sbatch --parsable --export=ALL --array="0-$((N - 1))" --chdir="$HEADLIGHT_OUT_DIR" \
  --output="$HEADLIGHT_OUT_DIR/scan-%A_%a.log" "$@" "$here/headlight-scan.sbatch")"
array_id="${array_id%%;*}"  # --parsable prints "jobid[;cluster]"
merge_id="$(sbatch --parsable --export=ALL --dependency="afterok:$array_id" --kill-on-invalid-dep=yes \
  --chdir="$HEADLIGHT_OUT_DIR" --output="$HEADLIGHT_OUT_DIR/merge-%j.log" "$@" "$here/headlight-merge.sbatch")"
merge_id="${merge_id%%;*}"
echo "scan $array_id"
echo "merge $merge_id"
