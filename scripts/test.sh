#!/usr/bin/env bash
# The test command (CI runs exactly this): installs what is missing, builds, runs every CTest test
# (unit, golden, gui, package, cluster). With HEADLIGHT_HARDENING_TESTS=1 it then runs the sanitizer
# and fuzz checks of issue 18 (not yet part of CI: see README, "Tests and benchmarks"):
#   - AddressSanitizer + UndefinedBehaviorSanitizer over the unit and golden tests (build-asan/),
#   - ThreadSanitizer over the LLM client's tests (build-tsan/),
#   - a short run of every libFuzzer target (build-fuzz/, 15 s each; scripts/fuzz.sh 3600 is the long run).
# Extra arguments go to the first ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${HEADLIGHT_HARDENING_TESTS:-0}" = 1 ]; then scripts/setup.sh --fuzz; else scripts/setup.sh; fi
scripts/build.sh -DHEADLIGHT_BUILD_BENCH=ON
export QT_QPA_PLATFORM=offscreen
ctest --test-dir build --output-on-failure -j2 "$@"
[ "${HEADLIGHT_HARDENING_TESTS:-0}" = 1 ] || exit 0

step() { echo "== $* ($(date -u +%H:%M:%S))"; }
step "ASan + UBSan"
scripts/sanitize.sh address
step "TSan"
scripts/sanitize.sh thread
step "fuzz targets, 15 s each"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DHEADLIGHT_FUZZ=ON -DHEADLIGHT_BUILD_GUI=OFF \
  -DHEADLIGHT_BUILD_TESTS=OFF -DHEADLIGHT_BUILD_BENCH=OFF >/dev/null
mapfile -t fuzzers < <(sed -n 's/^headlight_add_fuzzer(\(fuzz_[a-z_]*\).*/\1/p' fuzz/CMakeLists.txt)
cmake --build build-fuzz -j"$(nproc)" --target "${fuzzers[@]}"
scripts/fuzz.sh 15 build-fuzz
step "done"
