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
  # tests/check_layers.py (the layering test)
  python3
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
  # pdftotext/pdftoppm: test_gui_export checks exported PDFs (text boxes, rasterised PNG vs PDF)
  poppler-utils
  # the .deb (CPack: dpkg-shlibdeps, file) and what tests/test_package.sh validates it with
  dpkg-dev file desktop-file-utils appstream shared-mime-info man-db
  # scale-out: Slurm (slurmctld, slurmd, slurm-client) + munge for tests/test_slurm.sh, GNU parallel
  slurm-wlm munge parallel
  # sanitizer builds (cmake/sanitizers.cmake): a private libtorch_cpu without its unused OpenCV/Qt 5 deps
  patchelf
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

# install_missing [APT_OPTION ...] -- PACKAGE ...: installs those of PACKAGE not installed yet.
install_missing() {
  local options=() missing=() p
  while [ "$1" != "--" ]; do options+=("$1"); shift; done
  shift
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
  done
  if [ ${#missing[@]} -eq 0 ]; then return 1; fi
  echo "setup: installing ${missing[*]} ${options[*]}"
  # exit, not return: `set -e` does not reach into a function called as `install_missing ... || ...`
  $SUDO apt-get update -qq || { echo "setup: apt-get update failed" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${options[@]}" "${missing[@]}" >/dev/null ||
    { echo "setup: apt-get install ${missing[*]} failed" >&2; exit 1; }
}

install_missing -- "${PACKAGES[@]}" || echo "setup: all packages present"
# pdflatex + xcolor, so that the exported LaTeX snippet is compiled by the GUI export test; without
# recommends (the full TeX Live fonts and docs are not needed).
install_missing --no-install-recommends -- texlive-latex-base texlive-latex-recommended || true

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
