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

check --bogus
expect_code 2 "an unknown argument"
expect_err "unknown argument '--bogus'" "names the argument"

CREST_GPU_BUILD="$(dirname "$CREST")" OUT="$WORK/out" bash -c \
  "unset CREST_CIFAR10_DIR; bash '$SRC/scripts/gpu_check.sh' --no-build" >"$OUT" 2>"$ERR"
CODE=$?
[ "$CODE" -ne 0 ] || fail "no CREST_CIFAR10_DIR should fail"
expect_err "CREST_CIFAR10_DIR" "says what to set"

finish
