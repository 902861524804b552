#!/usr/bin/env bash
# Everything a GPU session checks, in one device command: build crest against the machine's
# CUDA LibTorch, time the paper-size step with the fast path on and with each part of it off, run
# the eager-PyTorch baseline side by side, run a short real CIFAR-10-LT comparison (FixMatch with
# the fast path on, twice, and off; CReST+), and the unit tests (the CUDA ones included).
#
#   source .gpu/env.sh && scripts/gpu_check.sh [--steps N] [--skip-tests] [--skip-baseline]
#       [--config FILE] [--device DEV] [--no-build] [--variants fast_path,all_off,...]
#       [--runs] [--run-epochs N] [--run-generations G] [--deadline SECONDS]
#
# A device command may run 10 minutes and the machine keeps nothing between calls, so each call
# rebuilds (about two minutes on 16 cores). --deadline S makes the script fit a call: every
# stage after the build gets a time limit from what is left of S seconds, and a stage that
# cannot start in time is skipped (and says so), so the summary always comes back.
# Variants: fast_path no_cuda_graph no_channels_last sgd_foreach sgd_loop no_cudnn_benchmark fp32
# all_off.
#
# Stages, in order: build; bench variants (alone on the device, so their timings are clean);
# baseline (bench/compare.py); then the --runs training runs, all at once, with the unit tests
# beside them on the CPU cores (neither is timed).
#
# Data: CREST_CIFAR10_DIR (real CIFAR-10, binary layout). When CREST_CIFAR10_JPEG names the JPEG
# archive and CREST_CIFAR10_DECODER the decoder (.gpu/ has both), and the folder is not there
# yet, it is decoded in the background while the build runs.
#
# --no-build reuses the binaries in $CREST_GPU_BUILD; --config/--device exist so that the script
# itself can be tried on a CPU with a tiny config before a GPU session spends time on it.
# Writes to $OUT (or /tmp/crest-gpu-out), at most 8 files since that is what a device call brings
# back: env.txt, build.log, unit.log, bench.log, bench.jsonl (one `crest bench --json` object per
# variant), baseline.json, runs.tar.gz (the run folders without checkpoints, and their logs) and
# summary.txt, which it prints last.
set -uo pipefail

steps=300
config=configs/cifar10lt.yaml
device=cuda
run_build=1
run_tests=1
run_baseline=1
run_runs=0
run_epochs=2
run_generations=3
deadline=0
variants=all
need_value() { [ $# -ge 2 ] || { echo "gpu_check.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) need_value "$@"; steps=$2; shift 2 ;;
    --skip-tests) run_tests=0; shift ;;
    --skip-baseline) run_baseline=0; shift ;;
    --config) need_value "$@"; config=$2; shift 2 ;;
    --device) need_value "$@"; device=$2; shift 2 ;;
    --no-build) run_build=0; shift ;;
    --variants) need_value "$@"; variants=$2; shift 2 ;;
    --runs) run_runs=1; shift ;;
    --run-epochs) need_value "$@"; run_epochs=$2; shift 2 ;;
    --run-generations) need_value "$@"; run_generations=$2; shift 2 ;;
    --deadline) need_value "$@"; deadline=$2; shift 2 ;;
    *) echo "gpu_check.sh: unknown argument '$1' (--steps N, --skip-tests, --skip-baseline," \
            "--config FILE, --device DEV, --no-build, --variants LIST, --runs, --run-epochs N," \
            "--run-generations G, --deadline SECONDS)" >&2
       exit 2 ;;
  esac
done
for pair in "steps:$steps" "run-epochs:$run_epochs" "run-generations:$run_generations" \
            "deadline:$deadline"; do
  case "${pair#*:}" in
    '' | *[!0-9]*) echo "gpu_check.sh: --${pair%%:*} must be a whole number, got '${pair#*:}'" >&2
                   exit 2 ;;
  esac
done
: "${CREST_CIFAR10_DIR:?set CREST_CIFAR10_DIR (source .gpu/env.sh) to the CIFAR-10 binary folder}"
out=${OUT:-/tmp/crest-gpu-out}
build=${CREST_GPU_BUILD:-/tmp/crest-build}
runs=${CREST_GPU_RUNS:-/tmp/crest-gpu-runs}
mkdir -p "$out"
cd "$(dirname "$0")/.."
started=$(date +%s)
stamp() { echo "[$(( $(date +%s) - started ))s] $*"; }
# Seconds left before the deadline (a large number when there is none).
left() {
  if [ "$deadline" -eq 0 ]; then echo 100000; else echo $(( deadline - ($(date +%s) - started) )); fi
}
# A stage's time limit: at most $1 seconds, and never past the deadline less $2 seconds kept for
# what follows; prints 0 when too little is left to start it.
budget() {
  local cap=$1 keep=${2:-20} l
  l=$(( $(left) - keep ))
  if [ "$l" -lt 15 ]; then echo 0; elif [ "$l" -lt "$cap" ]; then echo "$l"; else echo "$cap"; fi
}
: >"$out/bench.log"

{
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm \
    --format=csv,noheader 2>&1 || true
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1 || true
  (command -v nvcc >/dev/null && nvcc --version | tail -2) || true
  (c++ --version | head -1) 2>&1 || true
  cmake --version | head -1
  echo "cores: $(nproc)"
} >"$out/env.txt" 2>&1

decode_pid=
if [ ! -f "$CREST_CIFAR10_DIR/batches.meta.txt" ] && [ -n "${CREST_CIFAR10_JPEG:-}" ]; then
  stamp "decoding CIFAR-10 into $CREST_CIFAR10_DIR in the background"
  python3 "${CREST_CIFAR10_DECODER:?set CREST_CIFAR10_DECODER to jpeg_to_cifar_bin.py}" \
    "$CREST_CIFAR10_JPEG" "$CREST_CIFAR10_DIR" >>"$out/bench.log" 2>&1 &
  decode_pid=$!
fi
wait_for_data() {
  if [ -n "$decode_pid" ]; then
    wait "$decode_pid" || echo "gpu_check.sh: decoding CIFAR-10 failed (see bench.log)" >&2
    decode_pid=
    stamp "CIFAR-10 decoded"
  fi
}

if [ "$run_build" = 1 ]; then
  stamp "configure and build in $build"
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  targets=(--target crest)
  [ "$run_tests" = 1 ] && targets+=(crest_tests)
  if ! { cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
           -DCREST_WITH_OPENCV=OFF -DCMAKE_POLICY_VERSION_MINIMUM=3.5 &&
         cmake --build "$build" -j "$(nproc)" "${targets[@]}"; } >"$out/build.log" 2>&1; then
    grep -E "error|Error" "$out/build.log" | head -30
    tail -30 "$out/build.log"
    echo "gpu_check.sh: the build failed; see build.log" >&2
    exit 1
  fi
  grep -E "crest: (Torch|CUDA)" "$out/build.log" | head -5
  stamp "built"
fi
crest=$build/crest
wait_for_data

: >"$out/bench.jsonl"
bench() {
  local name=$1 limit
  shift
  case ",$variants," in *",$name,"* | ",all,") ;; *) return 0 ;; esac
  limit=$(budget 150 150)
  if [ "$limit" -eq 0 ]; then
    stamp "bench $name: skipped (deadline)"
    echo "{\"variant\": \"$name\", \"failed\": true, \"skipped\": true}" >>"$out/bench.jsonl"
    return 0
  fi
  stamp "bench $name"
  local json
  if json=$(timeout "$limit" "$crest" bench --config "$config" --device "$device" \
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
  limit=$(budget 200 120)
  if [ "$limit" -eq 0 ]; then
    stamp "eager PyTorch baseline: skipped (deadline)"
  else
    stamp "eager PyTorch baseline"
    CREST="$crest" timeout "$limit" python3 bench/compare.py "$config" --device "$device" \
      --set "data.root=$CREST_CIFAR10_DIR" --steps 60 --warmup 10 --windows 5 \
      --out "$out/baseline.json" >>"$out/bench.log" 2>&1 || echo "baseline: failed (see bench.log)"
  fi
fi

# The short real-data runs, all at once (their wall times are not figures), and the unit tests
# beside them on the CPU cores.
run_names=()
if [ "$run_runs" = 1 ]; then
  limit=$(budget 100000 25)
  if [ "$limit" -eq 0 ]; then
    stamp "training runs: skipped (deadline)"
  else
    stamp "training runs ($run_epochs epochs a generation; limit ${limit}s)"
    rm -rf "$runs" && mkdir -p "$runs"
    train() {
      local name=$1 seed=$2
      shift 2
      run_names+=("$name")
      timeout "$limit" "$crest" train --config "$config" --device "$device" \
        --set "data.root=$CREST_CIFAR10_DIR" --set "train.epochs=$run_epochs" \
        --set "run.seed=$seed" --set run.threads=2 --out "$runs/$name" "$@" \
        >"$runs/$name.log" 2>&1 &
    }
    train fixmatch_fast_seed0 0 --set crest.mode=fixmatch --set crest.generations=1
    train fixmatch_fast_seed1 1 --set crest.mode=fixmatch --set crest.generations=1
    train fixmatch_off_seed0 0 --set crest.mode=fixmatch --set crest.generations=1 \
      --set train.cuda_graph=off --set train.channels_last=off --set train.sgd=loop \
      --set train.cudnn_benchmark=false --set train.amp=off
    train crestplus_fast_seed0 0 --set crest.mode=crest+ \
      --set "crest.generations=$run_generations"
  fi
fi
if [ "$run_tests" = 1 ]; then
  limit=$(budget 300 25)
  if [ "$limit" -eq 0 ]; then
    stamp "unit tests: skipped (deadline)"
  else
    # The unit tests, one process per suite and in parallel (the CLI tests need Chromium and
    # Slurm, which the GPU machine lacks). -V keeps every suite's output, so that the tests a
    # suite skipped (GTEST_SKIP: CUDA-only ones on a machine without CUDA) are listed.
    stamp "unit tests (limit ${limit}s)"
    (cd "$build" && OMP_NUM_THREADS=2 timeout "$limit" ctest -j "$(( $(nproc) > 4 ? $(nproc) - 4 : 1 ))" \
       -E '^cli\.' -V --timeout 300) >"$out/unit.log" 2>&1
    echo "unit tests: exit $?"
    grep -E "tests passed, |tests failed out of|\(Failed\)|\(Timeout\)" "$out/unit.log" | head -10
    # GoogleTest's closing lists name each failed and skipped test once (without a time).
    sed -nE 's/^([0-9]+: )?\[  (FAILED|SKIPPED) \] ([A-Za-z_0-9\/.]+)$/\2: \3/p' "$out/unit.log" |
      sort -u | head -30
  fi
fi
if [ "${#run_names[@]}" -gt 0 ]; then
  wait
  stamp "training runs ended"
  (cd "$runs" && tar --exclude='*.pt' --exclude='*.tmp*' -czf "$out/runs.tar.gz" .) || true
fi

python3 - "$out" "$runs" "${run_names[@]}" >"$out/summary.txt" <<'PY'
import csv, json, os, sys
out, runs, names = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = [json.loads(line) for line in open(os.path.join(out, "bench.jsonl")) if line.strip()]
print("%-20s %12s %12s %14s %10s" % ("variant", "train st/s", "full st/s", "pseudo img/s", "peak MiB"))
for r in rows:
    if r.get("failed"):
        print("%-20s %s" % (r["variant"], "skipped" if r.get("skipped") else "failed"))
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
for name in names:
    table = os.path.join(runs, name, "generations.csv")
    if not os.path.exists(table):
        print("run %s: no generation finished (see %s.log in runs.tar.gz)" % (name, name))
        continue
    for g in csv.DictReader(open(table)):
        rate = ""
        metrics = os.path.join(runs, name, "gen_" + g["generation"], "metrics.jsonl")
        lines = [l for l in open(metrics)] if os.path.exists(metrics) else []
        if lines:  # shared device: a sign of life, not a figure
            rate = "  %.1f steps/s shared" % json.loads(lines[-1]).get("steps_per_sec", 0)
        print("run %-22s gen %s  acc %s  mean-rec %s  min-rec %s  maj-rec %s  selected %s%s" % (
            name, g["generation"], g["accuracy"], g["mean_recall"], g["minority_recall"],
            g["majority_recall"], g["selected"], rate))
PY
cat "$out/summary.txt"
stamp "done"
