#!/usr/bin/env bash
# docs/methods.md's side-by-side table of FixMatch, CReST+, ACR and SeMi on real CIFAR-10-LT at
# CPU scale, in one command:
#
#   scripts/methods_ssl_cpu.sh CIFAR10_BIN_DIR [WORK_DIR] [SLOTS]
#
# CIFAR10_BIN_DIR holds the CIFAR-10 binaries (scripts/download_cifar.sh, or
# ../shared/tools/jpeg_to_cifar_bin.py on the JPEG copy). In WORK_DIR (default runs-methods) it
# links data/cifar10 to them, runs every point of sweeps/methods-ssl-cpu.yaml (SLOTS processes at
# a time, default 1) and prints `crest summarize`. Rerun the same command after an interruption:
# finished points are kept, unfinished ones resume.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
crest=${CREST:-$src/build/crest}
[ -d "${1:-}" ] || { echo "usage: methods_ssl_cpu.sh CIFAR10_BIN_DIR [WORK_DIR] [SLOTS]" >&2; exit 2; }
data=$(cd "$1" && pwd)
work=${2:-runs-methods}
slots=${3:-1}
[ -f "$data/test_batch.bin" ] || { echo "methods_ssl_cpu.sh: $data has no test_batch.bin" >&2; exit 2; }
mkdir -p "$work/data"
cd "$work"
ln -sfn "$data" data/cifar10
"$crest" sweep --grid "$src/sweeps/methods-ssl-cpu.yaml" --launcher local --slots "$slots" --unfinished
"$crest" summarize runs/methods-ssl-cpu
