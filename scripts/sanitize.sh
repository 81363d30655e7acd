#!/usr/bin/env bash
# Sanitizer runs (cmake/sanitizers.cmake), part of the test command (scripts/test.sh):
#   scripts/sanitize.sh address   AddressSanitizer + UndefinedBehaviorSanitizer build of core, the CLI and
#                                 the tests (no GUI) in build-asan/; runs the unit and golden tests
#   scripts/sanitize.sh thread    ThreadSanitizer build in build-tsan/ of the torch-free core and test_llm:
#                                 the LLM client (its network thread, concurrent requests, rate limits,
#                                 cancellation) and the response cache (its store pool)
# Any report fails the run (halt_on_error; UBSan does not recover). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: scripts/sanitize.sh address|thread [ctest args]}
shift
case $mode in
  address) build=build-asan; targets=(all) ;;
  thread) build=build-tsan; targets=(test_llm) ;;
  *) echo "sanitize.sh: mode is address or thread, not '$mode'" >&2; exit 2 ;;
esac
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEADLIGHT_SANITIZE="$mode" -DHEADLIGHT_BUILD_GUI=OFF \
  -DHEADLIGHT_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

supp=$PWD/tests/sanitizers
export QT_QPA_PLATFORM=offscreen
# libtorch's OpenMP pool is not instrumented: one thread keeps TSan's view of our code exact.
export OMP_NUM_THREADS=1
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"
if [ "$mode" = address ]; then
  ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -L "unit|golden" "$@"
else
  ctest --test-dir "$build" --output-on-failure -R "^test_llm$" "$@"
fi
