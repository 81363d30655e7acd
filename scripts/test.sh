#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every CTest test (unit, golden, gui).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh -DHEADLIGHT_BUILD_BENCH=ON
export QT_QPA_PLATFORM=offscreen
ctest --test-dir build --output-on-failure -j2 "$@"
