# crest bench on the CPU with a tiny config: the table, the JSON, and bad options.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
# crest as a user starts it, re-executing itself for passive OpenMP waiting (lib.sh).
keep_crest_reexec
TINY="$SRC/tests/cli/tiny.yaml"

run -q bench --config "$TINY" --steps 4 --warmup 1 --windows 2
expect_code 0 "bench table"
expect_out "(a) training step" "table row (a)"
expect_out "(b) full step" "table row (b)"
expect_out "(c) pseudo-labelling" "table row (c)"
expect_out "(d) peak memory" "table row (d)"
expect_out "sgd foreach, channels_last on, cuda graph off" "how the step ran (CPU defaults)"
# train.amp auto: bf16 autocast exactly on CPUs that compute bf16 in hardware (the kernel's
# flags: AMX bf16 tiles, or AVX512-BF16).
if { grep -qw amx_bf16 /proc/cpuinfo && grep -qw amx_tile /proc/cpuinfo; } ||
  grep -qw avx512_bf16 /proc/cpuinfo; then
  expect_out "bf16 autocast" "train.amp auto on a CPU with bf16 instructions"
else
  grep -q "bf16 autocast" "$OUT" && fail "train.amp auto turned bf16 on without bf16 instructions"
fi

run -q bench --config "$TINY" --steps 2 --warmup 0 --windows 1 --set train.sgd=loop \
  --set train.channels_last=off --set train.amp=off
expect_code 0 "bench with the fast-path keys set"
expect_out "sgd loop, channels_last off" "the fast-path keys reach the step"
grep -q "bf16 autocast" "$OUT" && fail "train.amp=off still ran bf16 autocast"

run -q bench --config "$TINY" --steps 2 --set train.cuda_graph=on
expect_code 2 "cuda_graph=on on the CPU"
expect_err "train.cuda_graph=on needs a CUDA device" "cuda_graph=on message"

run -q bench --config "$TINY" --steps 4 --warmup 1 --windows 2 --json
expect_code 0 "bench json"
[ "$(wc -l <"$OUT")" -eq 1 ] || fail "--json prints one line"
for key in train_step_per_sec full_step_per_sec pseudo_label_images_per_sec peak_memory_bytes; do
  grep -q "\"$key\":[0-9]" "$OUT" || fail "JSON lacks a positive $key"
done
grep -q '"fast_path":{[^}]*"sgd":"foreach"' "$OUT" || fail "JSON lacks fast_path.sgd"

# The thread policy: the cores of the affinity mask, passive OpenMP waiting unless the user
# chose a policy, and the user's OMP_NUM_THREADS. The allocator: tcmalloc where the build linked
# it (it keeps freed tensor memory for the next step: few page faults a step).
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then
  taskset -c 0 "$CREST" -q bench --config "$TINY" --set run.threads=0 --steps 1 --warmup 0 \
    --windows 1 --json >"$OUT" 2>"$ERR"
  CODE=$?
  expect_code 0 "bench on one core"
  # (A note on busy cores may come between: other tests may be running on CPU 0.)
  expect_out '"device":"cpu (1 thread of 1 available' "one core of the affinity mask"
  expect_out 'OpenMP waiting PASSIVE, ' "passive waiting by default"
  # Beside busy processes on both cores of its mask, run.threads 0 takes one thread, not two
  # that would wait for each other at every parallel region. (Other tests running beside this
  # one only add to the busy cores, so the expectation holds under ctest -j.)
  if taskset -c 1 true 2>/dev/null; then
    taskset -c 0 yes >/dev/null &
    busy0=$!
    taskset -c 1 yes >/dev/null &
    busy1=$!
    sleep 0.3
    taskset -c 0,1 "$CREST" -q bench --config "$TINY" --set run.threads=0 --steps 1 --warmup 0 \
      --windows 1 --json >"$OUT" 2>"$ERR"
    CODE=$?
    kill "$busy0" "$busy1"
    wait "$busy0" "$busy1" 2>/dev/null
    expect_code 0 "bench beside two busy processes"
    if grep -q ' of 2 available' "$OUT"; then  # not under a 1-core cgroup quota
      grep -qE '"device":"cpu \(1 thread of 2 available, [0-9.]+ cores busy with other work' "$OUT" ||
        fail "beside busy processes: not one thread, or the device line does not say why"
    fi
  fi
fi
run -q bench --config "$TINY" --steps 4 --warmup 2 --windows 1 --json
expect_code 0 "bench for the allocator"
faults=$(sed -n 's/.*"page_faults_per_step":\([0-9.e+]*\).*/\1/p' "$OUT")
[ -n "$faults" ] || fail "JSON lacks page_faults_per_step"
if ldd "$CREST" | grep -q tcmalloc; then
  expect_out ', tcmalloc)"' "the device line names tcmalloc where the build linked it"
  # glibc's malloc gives about 14,000 a step here (every large block mapped anew), tcmalloc ~100.
  awk -v f="$faults" 'BEGIN { exit !(f < 2000) }' ||
    fail "tcmalloc: $faults page faults a step (freed memory not reused)"
  LD_PRELOAD=libc.so.6 "$CREST" -q bench --config "$TINY" --steps 1 --warmup 0 --windows 1 \
    --json >"$OUT" 2>"$ERR"
  CODE=$?
  expect_code 0 "bench with an LD_PRELOAD"
  expect_out ', malloc)"' "an LD_PRELOAD's malloc wins over the linked tcmalloc"
fi
OMP_WAIT_POLICY=active OMP_NUM_THREADS=1 "$CREST" -q bench --config "$TINY" --set run.threads=0 \
  --steps 1 --warmup 0 --windows 1 --json >"$OUT" 2>"$ERR"
CODE=$?
expect_code 0 "bench with the user's OpenMP settings"
expect_out '1 thread of' "OMP_NUM_THREADS wins"
expect_out 'OpenMP waiting active' "OMP_WAIT_POLICY wins"

run -q bench --config "$TINY" --steps 0
expect_code 2 "--steps 0"
expect_err "--steps >= 1" "--steps 0 message"

finish
