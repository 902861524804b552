#!/usr/bin/env bash
# Installs the Debian packages crest needs (only those missing: one `apt-get update`, then one
# install), then configures and builds Release into build/. Idempotent: a second run only
# rebuilds what changed.
#
# Environment:
#   CREST_NO_APT=1        never call apt-get (e.g. a GPU box whose LibTorch comes from pip)
#   CREST_WITH_OPENCV=OFF build without OpenCV (image-folder datasets unavailable)
#   CREST_WITH_PROTOBUF=OFF build without Protobuf (no TensorBoard event files)
#   CREST_WITH_C10D=OFF   build without data-parallel training (no libgloo-dev needed)
#   CREST_WITH_TCMALLOC=OFF build with glibc's malloc (no libgoogle-perftools-dev needed)
#   CREST_BUILD_DIR=DIR   build somewhere else than build/
#   CREST_CMAKE_ARGS="…"  extra arguments for the first configure
#   CMAKE_PREFIX_PATH     where CMake looks for Torch and the rest (e.g. pip torch's
#                         `python3 -c 'import torch; print(torch.utils.cmake_prefix_path)'`)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${CREST_BUILD_DIR:-build}
with_opencv=${CREST_WITH_OPENCV:-ON}
with_protobuf=${CREST_WITH_PROTOBUF:-ON}
with_c10d=${CREST_WITH_C10D:-ON}
with_tcmalloc=${CREST_WITH_TCMALLOC:-ON}

packages=(cmake make g++ libtorch-dev libcli11-dev libspdlog-dev nlohmann-json3-dev
          libyaml-cpp-dev libgtest-dev)
if [ "$with_opencv" != "OFF" ]; then packages+=(libopencv-dev); fi
if [ "$with_protobuf" != "OFF" ]; then packages+=(protobuf-compiler libprotobuf-dev); fi
# Gloo's headers for c10d's ProcessGroupGloo (data-parallel training, docs/distributed.md).
if [ "$with_c10d" != "OFF" ]; then packages+=(libgloo-dev); fi
# tcmalloc, the CPU allocator that keeps freed tensor memory for the next step.
if [ "$with_tcmalloc" != "OFF" ]; then packages+=(libgoogle-perftools-dev); fi

# shellcheck source=scripts/apt.sh
source scripts/apt.sh
apt_install_missing "${packages[@]}"

jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  option_args=()
  if [ "$with_opencv" = "OFF" ]; then option_args+=(-DCREST_WITH_OPENCV=OFF); fi
  if [ "$with_protobuf" = "OFF" ]; then option_args+=(-DCREST_WITH_PROTOBUF=OFF); fi
  if [ "$with_c10d" = "OFF" ]; then option_args+=(-DCREST_WITH_C10D=OFF); fi
  if [ "$with_tcmalloc" = "OFF" ]; then option_args+=(-DCREST_WITH_TCMALLOC=OFF); fi
  # shellcheck disable=SC2086  # CREST_CMAKE_ARGS is a list of arguments
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "${option_args[@]}" ${CREST_CMAKE_ARGS:-}
fi
cmake --build "$build_dir" -j "$jobs"
echo "setup: built $build_dir/crest"
