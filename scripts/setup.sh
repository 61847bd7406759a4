#!/usr/bin/env bash
# Installs the Debian packages syncsim needs (only the missing ones), then
# configures and builds. Idempotent: a second run installs nothing and only
# rebuilds what changed.
#
# Environment:
#   BUILD_DIR          build directory (default: build)
#   BUILD_TYPE         CMake build type (default: Release)
#   SYNCSIM_WERROR     ON to turn warnings into errors (default: OFF)
#   SYNCSIM_SANITIZE   ON for an ASan+UBSan build (default: OFF)
#   SYNCSIM_BUILD_BENCH OFF to skip the benchmarks (default: ON)
#   SYNCSIM_NO_INSTALL 1 to skip the package step (e.g. no root, all present)
#   SYNCSIM_INSTALL_ONLY 1 to stop after the package step (scripts/fuzz_build.sh)
#   JOBS               parallel build jobs (default: number of cores)
#   SYNCSIM_EXTRA_PACKAGES  more Debian packages to install (scripts/test.sh
#                      adds chromium and tshark, which only tests need)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(g++ cmake make pkg-config ccache
  libboost-dev libmsgpack-cxx-dev libgtest-dev libgmock-dev librapidcheck-dev
  libyaml-cpp-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev libfmt-dev libssl-dev
  libmimalloc-dev
  ${SYNCSIM_EXTRA_PACKAGES:-})

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#PACKAGES[@]} Debian packages present"
    return
  fi
  echo "setup: installing ${missing[*]}"
  local SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; fi
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

[ "${SYNCSIM_NO_INSTALL:-0}" = 1 ] || install_missing
[ "${SYNCSIM_INSTALL_ONLY:-0}" != 1 ] || exit 0

BUILD_DIR=${BUILD_DIR:-build}
LAUNCHER=()
command -v ccache >/dev/null 2>&1 && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" \
  -DSYNCSIM_WERROR="${SYNCSIM_WERROR:-OFF}" -DSYNCSIM_SANITIZE="${SYNCSIM_SANITIZE:-OFF}" \
  -DSYNCSIM_BUILD_BENCH="${SYNCSIM_BUILD_BENCH:-ON}" \
  "${LAUNCHER[@]}" >/dev/null
build_start=$(date +%s)
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
echo "setup.sh: $BUILD_DIR built in $(( $(date +%s) - build_start )) s"
