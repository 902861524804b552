# scripts/gpu_check.sh (the one-command GPU session check) run on the CPU with a tiny config and
# the binaries under test: the variants it times, its summary, and its argument errors.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
check() {
  CREST_GPU_BUILD="$(dirname "$CREST")" OUT="$WORK/out" CREST_CIFAR10_DIR="$WORK/none" \
    bash "$SRC/scripts/gpu_check.sh" "$@" >"$OUT" 2>"$ERR"
  CODE=$?
}

check --no-build --skip-tests --skip-baseline --config "$TINY" --device cpu --steps 2 \
  --variants fast_path,sgd_loop
expect_code 0 "two variants on the CPU"
[ "$(wc -l <"$WORK/out/bench.jsonl")" -eq 2 ] || fail "bench.jsonl should hold 2 variants"
grep -q '"variant": "sgd_loop"' "$WORK/out/bench.jsonl" || fail "sgd_loop variant missing"
grep -q '"sgd": "loop"' "$WORK/out/bench.jsonl" || fail "the sgd_loop variant did not run loop SGD"
grep -qE '^fast_path +[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+$' "$WORK/out/summary.txt" ||
  fail "summary lacks the fast_path figures"
expect_out "sgd_loop" "summary printed last"

# The short training runs (FixMatch fast twice and off, CReST+) with the unit-test stage skipped:
# every run ends, its generations reach the summary, and the tarball holds no checkpoint.
CREST_GPU_RUNS="$WORK/runs" check --no-build --skip-tests --skip-baseline --config "$TINY" \
  --device cpu --steps 2 --variants fast_path --runs --run-epochs 1 --run-generations 2
expect_code 0 "the training runs"
for name in fixmatch_fast_seed0 fixmatch_fast_seed1 fixmatch_off_seed0; do
  grep -qE "^run $name +gen 0 +acc [0-9.]+" "$WORK/out/summary.txt" ||
    fail "summary lacks generation 0 of $name"
done
grep -qE "^run crestplus_fast_seed0 +gen 1 +acc" "$WORK/out/summary.txt" ||
  fail "summary lacks generation 1 of the CReST+ run"
grep -qE '^ +sgd: loop' "$WORK/runs/fixmatch_off_seed0/config.yaml" ||
  fail "the fast-path-off run did not get its settings"
grep -qE '^ +sgd: auto' "$WORK/runs/fixmatch_fast_seed0/config.yaml" ||
  fail "the fast-path run did not keep the defaults"
tar -tzf "$WORK/out/runs.tar.gz" >"$WORK/listing" || fail "runs.tar.gz is not a tarball"
grep -q 'crestplus_fast_seed0/generations.csv' "$WORK/listing" || fail "runs.tar.gz lacks a run table"
grep -q '\.pt$' "$WORK/listing" && fail "runs.tar.gz holds checkpoints"

# A deadline that has passed: every stage after the build is skipped and says so, and the summary
# still comes back.
check --no-build --skip-baseline --config "$TINY" --device cpu --steps 2 \
  --variants fast_path,sgd_loop --runs --deadline 1
expect_code 0 "a deadline already passed"
expect_out "bench fast_path: skipped (deadline)" "the skipped bench says so"
expect_out "unit tests: skipped (deadline)" "the skipped tests say so"
expect_out "training runs: skipped (deadline)" "the skipped runs say so"
grep -qE '^sgd_loop +skipped$' "$WORK/out/summary.txt" || fail "summary lacks the skipped variant"

check --steps abc
expect_code 2 "a non-numeric --steps"
expect_err "--steps must be a whole number, got 'abc'" "names the option and value"
check --deadline
expect_code 2 "--deadline without a value"
expect_err "--deadline needs a value" "says what is missing"

check --bogus
expect_code 2 "an unknown argument"
expect_err "unknown argument '--bogus'" "names the argument"

CREST_GPU_BUILD="$(dirname "$CREST")" OUT="$WORK/out" bash -c \
  "unset CREST_CIFAR10_DIR; bash '$SRC/scripts/gpu_check.sh' --no-build" >"$OUT" 2>"$ERR"
CODE=$?
[ "$CODE" -ne 0 ] || fail "no CREST_CIFAR10_DIR should fail"
expect_err "CREST_CIFAR10_DIR" "says what to set"

finish
