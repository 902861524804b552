#!/usr/bin/env bash
# The test command: installs and builds what is missing (scripts/setup.sh), then runs the whole
# suite (unit tests and CLI tests) through CTest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
build_dir=${CREST_BUILD_DIR:-build}
cd "$build_dir"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" --timeout 900
