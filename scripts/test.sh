#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite with ctest.
# Environment: see scripts/setup.sh (BUILD_DIR, SYNCSIM_WERROR, SYNCSIM_SANITIZE...).
set -euo pipefail
cd "$(dirname "$0")/.."
# The report tests open the HTML report in headless Chromium and a pcap in
# tshark with the Wireshark dissector: test-only packages.
SYNCSIM_EXTRA_PACKAGES="chromium tshark ${SYNCSIM_EXTRA_PACKAGES:-}" scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
# SYNCSIM_CTEST_EXCLUDE: a ctest -E regex of tests to leave out (CI's sanitizer
# stage leaves out the minutes-long live-subset runs the release stage makes).
# SYNCSIM_CTEST_JOBS: tests at once (default JOBS, else one per core); the
# live tests mostly wait on real time, so CI runs one more than the cores.
test_start=$(date +%s)
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${SYNCSIM_CTEST_JOBS:-${JOBS:-$(nproc)}}" \
  ${SYNCSIM_CTEST_EXCLUDE:+-E "$SYNCSIM_CTEST_EXCLUDE"}
echo "test.sh: ctest in $BUILD_DIR took $(( $(date +%s) - test_start )) s"
