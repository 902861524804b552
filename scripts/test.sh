#!/usr/bin/env bash
# The test command: installs and builds what is missing (scripts/setup.sh), installs the
# programs that only the tests use (Chromium renders the HTML report; a single-node Slurm runs
# the sweep tests), then runs the whole suite (unit and CLI tests) through CTest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh

# Test-only packages, installed once here rather than by tests running in parallel (which
# would fight over the dpkg lock). CREST_NO_APT=1 skips this; the tests that need them then
# fail with a message saying what is missing.
test_packages=(chromium slurmctld slurmd slurm-client munge)
if [ "${CREST_NO_APT:-0}" != "1" ] && command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for package in "${test_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "test: installing ${missing[*]}"
    sudo=()
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
fi

build_dir=${CREST_BUILD_DIR:-build}
cd "$build_dir"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" --timeout 900
