#!/usr/bin/env bash
# Sanitizer runs (cmake/sanitizers.cmake):
#   scripts/sanitize.sh address       AddressSanitizer + UndefinedBehaviorSanitizer build of core, the CLI and
#                                     the tests (no GUI) in build-asan/; runs every unit and golden test
#                                     (about 16 min to build and 9 min to run on 2 cores)
#   scripts/sanitize.sh address-core  the same sanitizers on the torch-free core (file readers, tokenizers,
#                                     corpus, hub, LLM client) and the tests that run no libtorch code, in
#                                     build-asan-core/ (HEADLIGHT_TORCH_FREE_TESTS; what CI runs)
#   scripts/sanitize.sh thread        ThreadSanitizer build in build-tsan/ of the torch-free core and test_llm:
#                                     the LLM client (its network thread, concurrent requests, rate limits,
#                                     cancellation) and the response cache (its store pool)
# Any report fails the run (halt_on_error; UBSan does not recover). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: scripts/sanitize.sh address|address-core|thread [ctest args]}
shift
common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DHEADLIGHT_BUILD_GUI=OFF -DHEADLIGHT_BUILD_BENCH=OFF)
torch_free_tests=(test_safetensors test_checkpoint test_corpus test_topk test_statistics test_head_activity
                  test_token_filter test_tokenizer test_tokenizer_families test_llm)
case $mode in
  address) build=build-asan; targets=(all); flags=(-DHEADLIGHT_SANITIZE=address -DHEADLIGHT_TORCH_FREE_TESTS=OFF)
           tests=(-L "unit|golden") ;;
  address-core) build=build-asan-core; targets=("${torch_free_tests[@]}")
                flags=(-DHEADLIGHT_SANITIZE=address -DHEADLIGHT_TORCH_FREE_TESTS=ON); tests=(-L "unit|golden" -E layering) ;;
  thread) build=build-tsan; targets=(test_llm); flags=(-DHEADLIGHT_SANITIZE=thread -DHEADLIGHT_TORCH_FREE_TESTS=ON)
          tests=(-R "^test_llm$") ;;
  *) echo "sanitize.sh: mode is address, address-core or thread, not '$mode'" >&2; exit 2 ;;
esac
cmake -S . -B "$build" "${common[@]}" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

supp=$PWD/tests/sanitizers
export QT_QPA_PLATFORM=offscreen
# libtorch's OpenMP pool is not instrumented: one thread keeps TSan's view of our code exact.
export OMP_NUM_THREADS=1
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# Qt, GLib and libstdc++ are not instrumented: check only the calls our own code makes (tests/sanitizers/tsan.supp).
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$supp/tsan.supp"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "${tests[@]}" "$@"
