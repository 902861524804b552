#!/usr/bin/env bash
# docs/methods.md's side-by-side table on real CIFAR-10-LT at CPU scale, in one command:
#
#   scripts/methods_cpu.sh CIFAR10_BIN_DIR [WORK_DIR] [SLOTS]
#
# CIFAR10_BIN_DIR holds the CIFAR-10 binaries (scripts/download_cifar.sh, or
# ../shared/tools/jpeg_to_cifar_bin.py on the JPEG copy). In WORK_DIR (default runs-methods) it
# links data/cifar10 to them, pre-trains the rotation backbone (runs/methods-cpu-pretrain, on
# SLOTS threads), runs
# every point of sweeps/methods-cpu.yaml (SLOTS processes at a time, default 1; each point's
# run.threads is divided among them) and the MixMatch point, then prints `crest summarize`.
# Everything resumes: rerun the same command after an interruption. Took 44.5 minutes with
# SLOTS 2 on the 2-core development machine (docs/methods.md).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
crest=${CREST:-$src/build/crest}
[ -d "${1:-}" ] || { echo "usage: methods_cpu.sh CIFAR10_BIN_DIR [WORK_DIR] [SLOTS]" >&2; exit 2; }
data=$(cd "$1" && pwd)
work=${2:-runs-methods}
slots=${3:-1}
[ -f "$data/test_batch.bin" ] || { echo "methods_cpu.sh: $data has no test_batch.bin" >&2; exit 2; }
mkdir -p "$work/data"
cd "$work"
ln -sfn "$data" data/cifar10
base=$src/configs/cifar10lt-cpu-crestplus.yaml
pre=runs/methods-cpu-pretrain
if [ -f "$pre/pretrain.json" ]; then resume=(--resume); else resume=(); fi
"$crest" pretrain --config "$base" --out "$pre" --set pretrain.epochs=10 --set run.threads="$slots" \
  "${resume[@]}"
"$crest" sweep --grid "$src/sweeps/methods-cpu.yaml" --launcher local --slots "$slots" --unfinished
mm=runs/methods-cpu-mixmatch/method=crestplus-mixmatch
if [ -f "$mm/config.yaml" ]; then resume=(--resume); else resume=(); fi
"$crest" train --config "$base" --out "$mm" --set crest.generations=2 \
  --set train.algorithm=mixmatch --set train.unlabeled_ratio=1 \
  --set train.mixmatch_rampup_steps=400 --set train.steps_per_epoch=100 \
  --set run.checkpoint_every=100 --set run.threads="$slots" "${resume[@]}"
"$crest" summarize runs/methods-cpu "$mm"
