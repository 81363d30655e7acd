#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every CTest test (unit, golden, gui, package,
# cluster). With HEADLIGHT_HARDENING_TESTS=1 (CI sets it: .ci/run) it then runs the checks of issue 18:
#   - AddressSanitizer + UndefinedBehaviorSanitizer over the torch-free core and its tests
#     (scripts/sanitize.sh address-core, build-asan-core/),
#   - ThreadSanitizer over the LLM client's tests (build-tsan/),
#   - a short run of every libFuzzer target (build-fuzz/, 15 s each; scripts/fuzz.sh 3600 is the long run).
# HEADLIGHT_HARDENING_TESTS=full also runs ASan + UBSan over every unit and golden test (build-asan/;
# about 25 min more on 2 cores, past CI's budget). Extra arguments go to the first ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
case ${HEADLIGHT_HARDENING_TESTS:-0} in 1 | full) scripts/setup.sh --fuzz ;; *) scripts/setup.sh ;; esac
scripts/build.sh -DHEADLIGHT_BUILD_BENCH=ON
export QT_QPA_PLATFORM=offscreen
ctest --test-dir build --output-on-failure -j2 "$@"
case ${HEADLIGHT_HARDENING_TESTS:-0} in 1 | full) ;; *) exit 0 ;; esac

step() { echo "== $* ($(date -u +%H:%M:%S))"; }
step "ASan + UBSan, torch-free core"
scripts/sanitize.sh address-core
if [ "${HEADLIGHT_HARDENING_TESTS}" = full ]; then
  step "ASan + UBSan, every unit and golden test"
  scripts/sanitize.sh address
fi
step "TSan"
scripts/sanitize.sh thread
step "fuzz targets, 15 s each"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DHEADLIGHT_FUZZ=ON -DHEADLIGHT_BUILD_GUI=OFF \
  -DHEADLIGHT_BUILD_TESTS=OFF -DHEADLIGHT_BUILD_BENCH=OFF >/dev/null
mapfile -t fuzzers < <(sed -n 's/^headlight_add_fuzzer(\(fuzz_[a-z_]*\).*/\1/p' fuzz/CMakeLists.txt)
cmake --build build-fuzz -j"$(nproc)" --target "${fuzzers[@]}"
scripts/fuzz.sh 15 build-fuzz
step "done"
