#!/usr/bin/env bash
# The main job: install what is missing, build, and run the harness.
# For now (issue 3) the main job decodes the golden frames and prints a
# summary; the scenario suite replaces it once it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
"$BUILD_DIR"/syncsim decode --summary --no-validate tests/vectors/golden.jsonl
