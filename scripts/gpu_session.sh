#!/usr/bin/env bash
# The one device command of a GPU session, as run on 2026-11-30 (H200, torch 2.11):
#
#   ../shared/tools/gpu-bundle.sh                      # here, once: writes .gpu/
#   device run, carry [".gpu"]:  bash scripts/gpu_session.sh --runs --steps 200 --deadline 530
#
# It wraps .gpu/env.sh and scripts/gpu_check.sh (arguments go to gpu_check.sh) and fixes the
# two things that broke on first contact:
# - env.sh exports CMAKE_PREFIX_PATH with ';' between entries; as an environment variable CMake
#   splits it at ':' on Linux, so Torch was not found. The separators are rewritten here.
# - env.sh decodes CIFAR-10 before anything else (tens of seconds of a 10-minute call); here the
#   decode is skipped in env.sh and gpu_check.sh runs it in the background while it builds.
set -uo pipefail
cd "$(dirname "$0")/.."
gpu=.gpu
[ -f "$gpu/env.sh" ] || { echo "gpu_session.sh: no $gpu/env.sh; run ../shared/tools/gpu-bundle.sh here first" >&2; exit 2; }
# Make the bundle's synchronous decode optional (idempotent; .gpu/ is generated, not ours).
sed -i 's|^if \[ ! -f /tmp/cifar10-bin/test_batch.bin \]; then|if [ -z "${CREST_DECODE_LATER:-}" ] \&\& [ ! -f /tmp/cifar10-bin/test_batch.bin ]; then|' \
  "$gpu/env.sh"
export CREST_DECODE_LATER=1
# shellcheck source=/dev/null
source "$gpu/env.sh" || { echo "gpu_session.sh: sourcing $gpu/env.sh failed" >&2; exit 1; }
export CMAKE_PREFIX_PATH="${CMAKE_PREFIX_PATH//;/:}"
export CREST_CIFAR10_JPEG="$PWD/$gpu/cifar10-jpeg.tar.gz"
export CREST_CIFAR10_DECODER="$PWD/$gpu/jpeg_to_cifar_bin.py"
exec bash scripts/gpu_check.sh "$@"
