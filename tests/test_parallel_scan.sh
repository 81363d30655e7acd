#!/bin/bash
# Usage: test_parallel_scan.sh HEADLIGHT_CLI SOURCE_DIR FIXTURES_DIR
# Runs a 2-shard scan with GNU parallel (packaging/parallel/headlight-scan-parallel.sh), checks that
# merged.headlight exports exactly like a single-machine `study run`, then that a rerun keeps the
# finished shards. Exits 77 (skipped) when GNU parallel is not installed.
set -uo pipefail
CLI="$(readlink -f "$1")"; SRC="$(readlink -f "$2")"; FIX="$(readlink -f "$3")"
# shellcheck source=tests/merged_equals_single.sh
source "$SRC/tests/merged_equals_single.sh"
skip() { echo "test_parallel_scan: SKIP: $*"; exit 77; }
fail() { echo "test_parallel_scan: FAIL: $*"; exit 1; }
command -v parallel >/dev/null || skip "GNU parallel not installed (scripts/setup.sh installs parallel)"
parallel --version 2>/dev/null | grep -q "GNU parallel" || skip "'parallel' is not GNU parallel (moreutils?)"
command -v python3 >/dev/null || skip "python3 not installed"
[ -f "$CLI" ] || fail "no CLI at $CLI"
[ -d "$FIX/stories260k" ] || skip "fixture $FIX/stories260k missing"

T="$(mktemp -d /tmp/headlight-parallel.XXXXXX)"
trap 'rm -rf "$T"' EXIT

ARGS="--layers 4 --top 2 --docs 4 --prompts 3 --max-documents 8"
export HEADLIGHT_MODEL="$FIX/stories260k" HEADLIGHT_CORPUS="$FIX/corpora/tiny_en/test.jsonl"
export HEADLIGHT_OUT_DIR="$T/out" HEADLIGHT_ARGS="$ARGS" HEADLIGHT_CLI="$CLI" HEADLIGHT_THREADS=1
start=$SECONDS
bash "$SRC/packaging/parallel/headlight-scan-parallel.sh" -j 2 2 >"$T/run.log" 2>&1 ||
  { cat "$T/run.log"; fail "headlight-scan-parallel.sh failed"; }
echo "test_parallel_scan: parallel scan + merge took $((SECONDS - start)) s"
for f in shard-0.headlight shard-1.headlight merged.headlight; do
  [ -f "$T/out/$f" ] || { cat "$T/run.log"; fail "$f missing"; }
done
if ! grep -q "^shard 0" "$T/run.log" || ! grep -q "^shard 1" "$T/run.log"; then cat "$T/run.log"; fail "parallel did not tag both shards"; fi

merged_equals_single "$T/out/merged.headlight"

# A rerun keeps the finished shards (no rescan) and merges again.
before="$(stat -c %Y.%s "$T/out/shard-0.headlight" "$T/out/shard-1.headlight")"
bash "$SRC/packaging/parallel/headlight-scan-parallel.sh" 2 >"$T/rerun.log" 2>&1 || { cat "$T/rerun.log"; fail "rerun failed"; }
grep -q "already written" "$T/rerun.log" || { cat "$T/rerun.log"; fail "rerun rescanned a finished shard"; }
[ "$before" = "$(stat -c %Y.%s "$T/out/shard-0.headlight" "$T/out/shard-1.headlight")" ] || fail "rerun rewrote a shard"
echo "test_parallel_scan: PASS"
