#!/bin/bash
# Usage: packaging/parallel/headlight-scan-parallel.sh [-j JOBS] N
# Runs a Headlight scan as N shards with GNU parallel on this machine (JOBS at once, default N),
# then merges them: $HEADLIGHT_OUT_DIR/shard-$i.headlight -> $HEADLIGHT_OUT_DIR/merged.headlight.
# Environment: HEADLIGHT_MODEL, HEADLIGHT_CORPUS, HEADLIGHT_OUT_DIR (required), HEADLIGHT_ARGS (extra
# `study run` arguments, word-split), HEADLIGHT_CLI (default headlight-cli), HEADLIGHT_THREADS (CPU
# threads per shard; default: cores / JOBS, at least 1). Rerunning resumes unfinished shards from
# their scan checkpoints and keeps finished ones.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
jobs=""
while getopts "j:h" opt; do
  case "$opt" in
    j) jobs="$OPTARG" ;;
    *) echo "usage: $0 [-j JOBS] N" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -ne 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then echo "usage: $0 [-j JOBS] N" >&2; exit 2; fi
N="$1"
jobs="${jobs:-$N}"
: "${HEADLIGHT_MODEL:?set HEADLIGHT_MODEL}"
: "${HEADLIGHT_CORPUS:?set HEADLIGHT_CORPUS}"
: "${HEADLIGHT_OUT_DIR:?set HEADLIGHT_OUT_DIR}"
command -v parallel >/dev/null || { echo "$0: GNU parallel not found (apt-get install parallel)" >&2; exit 1; }
if [ -z "${HEADLIGHT_THREADS:-}" ]; then
  cores="$(nproc)"
  HEADLIGHT_THREADS=$(( cores / jobs > 0 ? cores / jobs : 1 ))
fi
export HEADLIGHT_MODEL HEADLIGHT_CORPUS HEADLIGHT_OUT_DIR HEADLIGHT_THREADS OMP_NUM_THREADS="$HEADLIGHT_THREADS"
export HEADLIGHT_SHARDS="$N" HEADLIGHT_ARGS="${HEADLIGHT_ARGS:-}" HEADLIGHT_CLI="${HEADLIGHT_CLI:-headlight-cli}"
mkdir -p "$HEADLIGHT_OUT_DIR"

# Each shard runs the Slurm task script with SLURM_ARRAY_TASK_ID set, so both paths scan identically.
seq 0 $((N - 1)) | parallel --will-cite --halt now,fail=1 -j "$jobs" --line-buffer --tagstring 'shard {}' \
  SLURM_ARRAY_TASK_ID={} bash "$here/../slurm/headlight-scan.sbatch"
SLURM_CPUS_PER_TASK="" bash "$here/../slurm/headlight-merge.sbatch"
