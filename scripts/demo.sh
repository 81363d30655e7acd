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
docs=$(wc -l < out/demo-tokens.jsonl)
tokens=$(grep -o '"ids":\[[^]]*\]' out/demo-tokens.jsonl | tr -cd ',\n' | wc -c)
echo "   $docs documents, about $tokens tokens -> out/demo-tokens.jsonl"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  echo "== opening the GUI"
  build/app/headlight
else
  echo "== no display: the GUI is not opened (run build/app/headlight on a desktop, or under xvfb-run)"
fi
