#!/usr/bin/env bash
# Runs every libFuzzer target for a while with seed corpora from the fixtures; exits non-zero if any
# target finds a crash (the input is left in BUILD/fuzz-artifacts/<target>/).
#   scripts/fuzz.sh [SECONDS_PER_TARGET=60] [BUILD_DIR=build-fuzz] [TARGET...]
# Build first (clang, libFuzzer: scripts/setup.sh --fuzz):
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DHEADLIGHT_FUZZ=ON -DHEADLIGHT_BUILD_GUI=OFF \
#     -DHEADLIGHT_BUILD_TESTS=OFF -DHEADLIGHT_BUILD_BENCH=OFF && cmake --build build-fuzz --target fuzz_bundle ...
# Long run (documented): scripts/fuzz.sh 3600 build-fuzz   (an hour per target; corpora grow in BUILD/fuzz-corpus)
set -uo pipefail
SECONDS_PER_TARGET=${1:-60}
BUILD=${2:-build-fuzz}
shift $(( $# > 2 ? 2 : $# ))
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIX=${HEADLIGHT_FIXTURES:-$ROOT/../shared/fixtures}
TARGETS=("$@")
# The targets write each input to a temporary file: keep those in memory when possible.
[ -z "${TMPDIR:-}" ] && [ -w /dev/shm ] && export TMPDIR=/dev/shm
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(fuzz_safetensors fuzz_bundle fuzz_bundle_metadata fuzz_config fuzz_tokenizer_json fuzz_bpe_files fuzz_corpus fuzz_hub_json fuzz_llm_text)

seed() {  # seed TARGET: fills BUILD/fuzz-corpus/TARGET with the fixtures' files of its kind
  local t=$1 d="$BUILD/fuzz-corpus/$1" i=0 f
  mkdir -p "$d"
  case $t in
    fuzz_safetensors) cp "$FIX/stories260k/golden.safetensors" "$d/" 2>/dev/null; cp "$ROOT"/fuzz/seeds/*.headlight "$d/" ;;
    fuzz_bundle) cp "$ROOT"/fuzz/seeds/*.headlight "$d/" ;;
    fuzz_bundle_metadata) cp "$ROOT"/fuzz/seeds/*.metadata.json "$d/" ;;
    fuzz_config) for f in "$FIX"/*/config.json; do cp "$f" "$d/$(basename "$(dirname "$f")").json"; done ;;
    fuzz_tokenizer_json) for f in $(find "$FIX" -name tokenizer.json -size -600k); do i=$((i+1)); cp "$f" "$d/t$i.json"; done ;;
    fuzz_bpe_files)
      printf '{"a":0,"b":1,"ab":2,"\\u0120":3,"\\u0120a":4,"<|endoftext|>":5}\0#version: 0.2\na b\n\xc4\xa0 a\n' >"$d/small"
      { head -c 20000 "$FIX/gpt2-tiny/vocab.json" | sed 's/, "[^"]*$/}/'; printf '\0'; head -n 300 "$FIX/gpt2-tiny/merges.txt"; } >"$d/gpt2-head" ;;
    fuzz_corpus)
      for f in "$FIX"/corpora/*/*.jsonl; do i=$((i+1)); { printf '\x00'; head -n 5 "$f"; } >"$d/j$i"; { printf '\x01'; head -c 3000 "$f"; } >"$d/t$i"; done
      printf '\x02{"text": "a\\ud800b"}\n\xff\xfe{"text": "\xed\xa0\x80"}\n\n[1]\n' >"$d/bad" ;;
    fuzz_hub_json)
      printf '{"id":"org/x","sha":"1111111111111111111111111111111111111111","siblings":[{"rfilename":"config.json"},{"rfilename":"model.safetensors"}]}' >"$d/rev"
      printf '{"metadata":{"total_size":8},"weight_map":{"a.weight":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}' >"$d/index" ;;
    fuzz_llm_text) printf '<think>hm</think> Yes.' >"$d/a"; printf 'No' >"$d/b"; printf 'Wed, 21 Oct 2015 07:28:00 GMT' >"$d/c"; printf '1.5' >"$d/d"
      printf '{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Yes","reasoning_content":"hm"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":1}}' >"$d/reply"
      printf '{"choices":[{"message":{"content":null,"refusal":"no"},"finish_reason":"stop"}]}' >"$d/refusal"
      printf '{"error":{"message":"Unsupported parameter: '"'"'max_tokens'"'"' is not supported with this model. Use '"'"'max_completion_tokens'"'"' instead.","type":"invalid_request_error","param":"max_tokens"}}' >"$d/unsupported"
      # found by this target (a reader that names logprobs, which the harness first did not allow):
      printf '{"error":{"message":"Unsupported parameter: max_tokens","type":"ilogprobsequest_error","param":"logprobs"}}' >"$d/logprobs" ;;
  esac
}

status=0
for t in "${TARGETS[@]}"; do
  bin="$BUILD/fuzz/$t"
  [ -x "$bin" ] || { echo "$t: not built ($bin)"; status=1; continue; }
  seed "$t"
  rm -rf "$BUILD/fuzz-artifacts/$t"; mkdir -p "$BUILD/fuzz-artifacts/$t"
  log="$BUILD/fuzz-artifacts/$t.log"
  "$bin" "$BUILD/fuzz-corpus/$t" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -timeout=20 -max_len=65536 \
    -artifact_prefix="$BUILD/fuzz-artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "$BUILD/fuzz-artifacts/$t" -type f | wc -l)
  echo "$t: ${runs:-?} executions in ${SECONDS_PER_TARGET} s, exit $rc, $crashes crash input(s)"
  [ "$rc" -ne 0 ] && { status=1; grep -m3 -E 'ERROR|SUMMARY|what\(\)' "$log"; }
done
exit $status
