#!/usr/bin/env bash
# The test command: installs the programs that only the tests use, installs and builds what is
# missing (scripts/setup.sh), then runs the whole suite (unit and CLI tests) through CTest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Test-only packages: Chromium renders the HTML report, a single-node Slurm runs the sweep
# tests, Debian's PyTorch runs the eager baseline of bench/ beside crest bench, clang-format
# checks the format of the sources (lint.clang_format), python3-protobuf reads the TensorBoard
# event files back (cli.tensorboard). Installed here, once, rather than by
# tests running in parallel (which would fight over the dpkg lock); first, so that setup.sh
# reuses this script's `apt-get update`.
# shellcheck source=scripts/apt.sh
source scripts/apt.sh
apt_install_missing --no-install-recommends chromium slurmctld slurmd slurm-client munge \
  python3-torch python3-numpy python3-pil clang-format python3-protobuf
scripts/setup.sh

build_dir=${CREST_BUILD_DIR:-build}
cd "$build_dir"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" --timeout 900
