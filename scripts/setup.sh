#!/usr/bin/env bash
# Installs every system package Headlight needs (Debian 12 / Ubuntu names): the single list.
# Idempotent: installs only what is missing, then makes libtorch use OpenBLAS (OpenMP build).
#   scripts/setup.sh            build + test dependencies
#   scripts/setup.sh --bench    also what the benchmarks compare against (python3-torch)
#   scripts/setup.sh --fuzz     also clang + libFuzzer runtime for the fuzz targets
set -euo pipefail

PACKAGES=(
  # build tools
  cmake ninja-build ccache g++ pkg-config
  # Qt 6 (Core, Concurrent, Network, Widgets, Test, PrintSupport, Svg) + offscreen/xcb platform plugins
  qt6-base-dev qt6-base-dev-tools qt6-svg-dev libqt6svg6 qt6-qpa-plugins libgl-dev
  # plots: Debian's Qt 6 build of QCustomPlot (GPL-3.0-or-later)
  libqcustomplot-dev libqcustomplot2.1-qt6
  # tensors: libtorch (CPU) and the OpenMP build of OpenBLAS for its GEMMs; never the pthread build,
  # whose threads fight libtorch's OpenMP pool
  libtorch-dev libopenblas0-openmp
  # JSON
  nlohmann-json3-dev
  # a real X server for screenshots of the GUI, and a font for offscreen/Xvfb rendering
  xvfb xauth fonts-dejavu-core
)
for arg in "$@"; do
  case "$arg" in
    --bench) PACKAGES+=(python3-torch) ;;
    --fuzz) PACKAGES+=(clang libclang-rt-14-dev) ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "setup: all packages present"
fi

# pdflatex + xcolor, so that the exported LaTeX snippet is compiled by the GUI export test; without
# recommends (the full TeX Live fonts and docs are not needed).
LATEX_PACKAGES=(texlive-latex-base texlive-latex-recommended)
missing=()
for p in "${LATEX_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} (without recommends)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed"; then
  echo "setup: warning: libopenblas0-pthread is installed; its threads fight libtorch's OpenMP pool" >&2
fi

# libtorch calls BLAS through libblas.so.3 / liblapack.so.3: point both at OpenBLAS (OpenMP).
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for lib in libblas.so.3 liblapack.so.3; do
  target="/usr/lib/$arch/openblas-openmp/$lib"
  if [ -e "$target" ]; then
    current=$(update-alternatives --query "$lib-$arch" 2>/dev/null | awk '/^Value:/ {print $2}')
    if [ "$current" != "$target" ]; then
      $SUDO update-alternatives --set "$lib-$arch" "$target" >/dev/null
      echo "setup: $lib -> $target"
    fi
  fi
done
echo "setup: done"
