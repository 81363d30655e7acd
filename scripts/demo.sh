#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs Headlight on its embedded default
# (the stories260K model and a Project Gutenberg sample in resources/demo/). Results go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p out
model=resources/demo/stories260k
corpus=resources/demo/gutenberg_sample.jsonl
echo "== the model"
build/app/headlight-cli info --model "$model" | tee out/demo-model.txt
echo "== tokenizing the corpus ($corpus)"
build/app/headlight-cli tokenize --model "$model" < "$corpus" > out/demo-tokens.jsonl
echo "   $(wc -l < out/demo-tokens.jsonl) documents -> out/demo-tokens.jsonl"
echo "== step 1: next-token neurons of layers 3 and 4"
build/app/headlight-cli neurons --model "$model" --layers 3,4 --top 10 | tee out/demo-neurons.tsv
echo "== steps 1-3: scan, truncate, attribute heads (writes out/demo.headlight)"
build/app/headlight-cli study run --model "$model" --corpus "$corpus" --layers 3,4 --top 10 --random 5 \
  --out out/demo.headlight
echo "== validation: head ablation (KS test)"
build/app/headlight-cli study ablate out/demo.headlight --out out/demo.headlight
build/app/headlight-cli study info out/demo.headlight | tee out/demo-summary.txt
build/app/headlight-cli study export out/demo.headlight --json --out out/demo.json
echo "   the whole study as JSON: out/demo.json"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  echo "== opening the GUI"
  build/app/headlight out/demo.headlight
else
  echo "== no display: the GUI is not opened (run build/app/headlight out/demo.headlight on a desktop, or under xvfb-run)"
fi
