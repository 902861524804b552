#!/usr/bin/env bash
# Everything a GPU session checks, in one device command: build crest against the machine's
# CUDA LibTorch, run the unit tests (the CUDA ones included), time the paper-size step with the
# fast path on and with each part of it off, and run the eager-PyTorch baseline side by side.
#
#   source .gpu/env.sh && scripts/gpu_check.sh [--steps N] [--skip-tests] [--skip-baseline]
#       [--config FILE] [--device DEV] [--no-build] [--variants fast_path,all_off,...]
#
# A device command may run 10 minutes and the machine keeps nothing between calls, so each call
# rebuilds (a few minutes). If one call cannot hold everything, split it, e.g.
#   scripts/gpu_check.sh --variants fast_path,all_off --skip-baseline
#   scripts/gpu_check.sh --skip-tests --variants no_cuda_graph,no_channels_last,sgd_foreach,sgd_loop
#   scripts/gpu_check.sh --skip-tests --variants no_cudnn_benchmark,fp32
# Variants: fast_path no_cuda_graph no_channels_last sgd_foreach sgd_loop no_cudnn_benchmark fp32
# all_off.
#
# --no-build reuses the binaries in $CREST_GPU_BUILD; --config/--device exist so that the script
# itself can be tried on a CPU with a tiny config before a GPU session spends time on it.
# Needs CMAKE_PREFIX_PATH to reach a CUDA LibTorch and the Debian headers (.gpu/env.sh sets it),
# and CREST_CIFAR10_DIR (real CIFAR-10, binary layout). Writes build.log, unit.log, bench.log,
# bench.jsonl (one `crest bench --json` object per variant), baseline.json and summary.txt to
# $OUT (or /tmp/crest-gpu-out), and prints the summary last.
set -uo pipefail

steps=300
config=configs/cifar10lt.yaml
device=cuda
run_build=1
run_tests=1
run_baseline=1
variants=all
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --skip-tests) run_tests=0; shift ;;
    --skip-baseline) run_baseline=0; shift ;;
    --config) config=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --no-build) run_build=0; shift ;;
    --variants) variants=$2; shift 2 ;;
    *) echo "gpu_check.sh: unknown argument '$1' (--steps N, --skip-tests, --skip-baseline," \
            "--config FILE, --device DEV, --no-build, --variants LIST)" >&2
       exit 2 ;;
  esac
done
: "${CREST_CIFAR10_DIR:?set CREST_CIFAR10_DIR (source .gpu/env.sh) to the CIFAR-10 binary folder}"
out=${OUT:-/tmp/crest-gpu-out}
build=${CREST_GPU_BUILD:-/tmp/crest-build}
mkdir -p "$out"
cd "$(dirname "$0")/.."
started=$(date +%s)
stamp() { echo "[$(( $(date +%s) - started ))s] $*"; }

if [ "$run_build" = 1 ]; then
stamp "configure and build in $build"
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCREST_WITH_OPENCV=OFF &&
       cmake --build "$build" -j "$(nproc)"; } >"$out/build.log" 2>&1; then
  tail -40 "$out/build.log"
  echo "gpu_check.sh: the build failed; see build.log" >&2
  exit 1
fi
grep -E "Torch|CUDA" "$out/build.log" | head -5
fi
crest=$build/crest

if [ "$run_tests" = 1 ]; then
  # The unit tests, one process each and in parallel (the CLI tests need Chromium and Slurm,
  # which the GPU machine lacks).
  stamp "unit tests"
  (cd "$build" && timeout 300 ctest -j "$(nproc)" -E '^cli\.' --output-on-failure) \
    >"$out/unit.log" 2>&1
  echo "unit tests: exit $?"
  grep -E "tests passed|tests failed|\(Failed\)|\(Skipped\)|Timeout" "$out/unit.log" | head -20
fi

: >"$out/bench.jsonl"
bench() {
  local name=$1
  shift
  case ",$variants," in *",$name,"* | ",all,") ;; *) return 0 ;; esac
  stamp "bench $name"
  local json
  if json=$(timeout 150 "$crest" bench --config "$config" --device "$device" \
              --set "data.root=$CREST_CIFAR10_DIR" --steps "$steps" --warmup "$(( steps / 10 > 0 ? steps / 10 : 1 ))" --windows 5 \
              --json "$@" 2>>"$out/bench.log"); then
    python3 -c 'import json,sys; d=json.loads(sys.argv[2]); d["variant"]=sys.argv[1]; print(json.dumps(d))' \
      "$name" "$json" >>"$out/bench.jsonl"
  else
    echo "{\"variant\": \"$name\", \"failed\": true}" >>"$out/bench.jsonl"
  fi
}
bench fast_path
bench no_cuda_graph --set train.cuda_graph=off
bench no_channels_last --set train.channels_last=off
bench sgd_foreach --set train.sgd=foreach
bench sgd_loop --set train.sgd=loop
bench no_cudnn_benchmark --set train.cudnn_benchmark=false
bench fp32 --set train.amp=off
bench all_off --set train.cuda_graph=off --set train.channels_last=off --set train.sgd=loop \
  --set train.cudnn_benchmark=false --set train.amp=off

if [ "$run_baseline" = 1 ]; then
  stamp "eager PyTorch baseline"
  timeout 240 python3 bench/compare.py "$config" --device "$device" \
    --set "data.root=$CREST_CIFAR10_DIR" --out "$out/baseline.json" >>"$out/bench.log" 2>&1 ||
    echo "baseline: failed (see bench.log)"
fi

python3 - "$out" >"$out/summary.txt" <<'PY'
import json, os, sys
out = sys.argv[1]
rows = [json.loads(line) for line in open(os.path.join(out, "bench.jsonl")) if line.strip()]
print("%-20s %12s %12s %14s %10s" % ("variant", "train st/s", "full st/s", "pseudo img/s", "peak MiB"))
for r in rows:
    if r.get("failed"):
        print("%-20s failed" % r["variant"])
        continue
    print("%-20s %12.1f %12.1f %14.0f %10.0f" % (
        r["variant"], r["train_step_per_sec"], r["full_step_per_sec"],
        r["pseudo_label_images_per_sec"], r["peak_memory_bytes"] / 2**20))
if rows and not rows[0].get("failed"):
    r = rows[0]
    print("device: %s, torch %s, %s, fast path %s" % (r["device"], r["torch"], r["model"],
                                                    json.dumps(r.get("fast_path"))))
path = os.path.join(out, "baseline.json")
if os.path.exists(path):
    b = json.load(open(path))
    c, e = b["crest"], b["baseline"]
    print("crest vs eager baseline (%s, %d workers, amp %s):" % (e["device"], e["workers"], e["amp"]))
    print("  train step %.1f vs %.1f steps/s (%.2fx); full step %.1f vs %.1f steps/s (%.2fx)" % (
        c["train_step_per_sec"], e["baseline_train_step_per_sec"], b["ratio_train_step"],
        c["full_step_per_sec"], e["baseline_full_step_per_sec"], b["ratio_full_step"]))
PY
cat "$out/summary.txt"
stamp "done"
