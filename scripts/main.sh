#!/usr/bin/env bash
# The main job: install what is missing, build, and run the scenario suite
# (scenarios/) on the reference client and server in the simulator, every
# frame judged by the conformance checker. Extra arguments go to `syncsim run`
# (e.g. scripts/main.sh --seeds 1..20). The HTML report of the run is written
# to $BUILD_DIR/report.html (open it in a browser: filters, wire logs,
# sequence diagrams).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
exec "$BUILD_DIR"/syncsim run scenarios --html "$BUILD_DIR/report.html" "$@"
