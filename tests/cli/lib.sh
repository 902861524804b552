# Helpers for the CLI tests. Each test script is run by CTest as:
#   bash tests/cli/test_NAME.sh PATH/TO/crest SOURCE_DIR
# and sources this file. Failures print what was expected and what came back, then exit 1.
set -u
CREST=${1:?path to the crest executable}
SRC=${2:?source directory}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/crest-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
# The environment that crest's train, pretrain, bench, evaluate and predict give themselves by
# re-executing once (crest::make_waiting_threads_passive): set here, the tests skip that second
# start (about 0.6 s of CPU a command) and run in exactly the state it would give. The tests of
# the re-exec itself (cli.bench) and the README's first command (cli.quickstart) call
# keep_crest_reexec to start crest as a user does.
export OMP_WAIT_POLICY=PASSIVE CREST_OMP_REEXEC=1
if [ -z "${TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD+set}" ]; then
  export TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD=1125899906842624
  keep_crest_reexec() { unset OMP_WAIT_POLICY CREST_OMP_REEXEC TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD; }
else
  keep_crest_reexec() { unset OMP_WAIT_POLICY CREST_OMP_REEXEC; }
fi
OUT="$WORK/.stdout"
ERR="$WORK/.stderr"
failures=0

# run ARGS...: runs crest, keeps stdout/stderr and the exit code in $CODE.
run() {
  "$CREST" "$@" >"$OUT" 2>"$ERR"
  CODE=$?
}

fail() {
  echo "FAIL: $*"
  echo "--- stdout"; head -c 4000 "$OUT"
  echo "--- stderr"; head -c 4000 "$ERR"
  failures=$((failures + 1))
}

# expect_code N DESCRIPTION
expect_code() {
  [ "$CODE" -eq "$1" ] || fail "$2: expected exit code $1, got $CODE"
}

# expect_err TEXT DESCRIPTION: stderr contains TEXT (fixed string).
expect_err() {
  grep -qF -- "$1" "$ERR" || fail "$2: stderr lacks '$1'"
}

# expect_out TEXT DESCRIPTION: stdout contains TEXT (fixed string).
expect_out() {
  grep -qF -- "$1" "$OUT" || fail "$2: stdout lacks '$1'"
}

finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
  exit 0
}

# nap: a 10 ms pause without starting a process, for the loops that wait on a file (`sleep 0.01`
# a few thousand times is seconds of CPU taken from the training being waited on). Reads a pipe
# that nothing writes to until the timeout.
exec {NAP_FD}<> <(:)
nap() { read -r -t 0.01 -u "$NAP_FD" _; }

# kill_in_generation G DIR ARGS...: starts `crest ARGS... --out DIR` in the background, SIGKILLs
# it once generation G has written its first checkpoint, and checks the kill came before
# generation G finished.
kill_in_generation() {
  local g=$1 dir=$2
  shift 2
  "$CREST" "$@" --out "$dir" >/dev/null 2>&1 &
  local pid=$!
  # Up to two minutes: on a loaded machine generation 0 can take far longer than its usual
  # seconds, and killing it there would test something else.
  local waited=$SECONDS
  while [ $((SECONDS - waited)) -lt 120 ] && kill -0 "$pid" 2>/dev/null; do
    [ -f "$dir/gen_$g/checkpoint.pt" ] && break
    nap
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [ -f "$dir/gen_$g/checkpoint.pt" ] || fail "the run never reached a checkpoint in generation $g"
  [ -f "$dir/gen_$g/generation.json" ] && fail "killed too late: generation $g had already finished"
  return 0
}

# kill_in_generation_1 DIR ARGS...: kill_in_generation 1 DIR ARGS...
kill_in_generation_1() { kill_in_generation 1 "$@"; }

# expect_same_generations A B [FILE...]: generations 0 and 1 of runs A and B hold the same
# summary.json, pseudo_labels.csv, selection.json, per_class.csv, confusion.csv (and FILEs), and
# the same metrics.jsonl but for the timing; and A/summary.json equals B/summary.json.
expect_same_generations() {
  local a=$1 b=$2 g f
  shift 2
  for g in 0 1; do
    for f in summary.json pseudo_labels.csv selection.json per_class.csv confusion.csv "$@"; do
      cmp -s "$a/gen_$g/$f" "$b/gen_$g/$f" || fail "gen_$g/$f differs between $a and $b"
    done
    diff <(strip_timing "$a/gen_$g/metrics.jsonl") <(strip_timing "$b/gen_$g/metrics.jsonl") \
      >/dev/null || fail "gen_$g/metrics.jsonl differs between $a and $b"
  done
  cmp -s "$a/summary.json" "$b/summary.json" || fail "summary.json differs between $a and $b"
}

# strip_timing FILE: metrics.jsonl without its steps_per_sec fields (they vary run to run).
strip_timing() { sed 's/,"steps_per_sec":[^,}]*//' "$1"; }

# expect_learner_metrics FILE LINES: FILE (a generation's metrics.jsonl) has LINES lines, each
# with finite loss, loss_x, loss_u, mask_rate and acc_ema, a mask rate in [0, 1], and
# loss = loss_x + loss_u (the learners' unlabeled terms are reported weighted, lambda_u = 1).
expect_learner_metrics() {
  local problem
  problem=$(python3 - "$1" "$2" 2>&1 <<'PY'
import json, math, sys
lines = [json.loads(text) for text in open(sys.argv[1]) if text.strip()]
if len(lines) != int(sys.argv[2]):
    sys.exit(f"{len(lines)} lines, expected one per epoch ({sys.argv[2]})")
for i, m in enumerate(lines, 1):
    for key in ("loss", "loss_x", "loss_u", "mask_rate", "acc_ema"):
        v = m.get(key)
        if type(v) not in (int, float) or not math.isfinite(v):
            sys.exit(f"line {i}: {key} is {v!r}, not a finite number")
    if not 0.0 <= m["mask_rate"] <= 1.0:
        sys.exit(f"line {i}: mask_rate {m['mask_rate']} outside [0, 1]")
    if abs(m["loss"] - m["loss_x"] - m["loss_u"]) > 1e-6:
        sys.exit(f"line {i}: loss {m['loss']} != loss_x {m['loss_x']} + loss_u {m['loss_u']}")
PY
  ) || fail "$1: ${problem:-python3 failed}"
}

# python_has PYTHON MODULE...: PYTHON finds every MODULE, without importing it (importing torch
# takes over a second of CPU). A module that is found but does not import fails the check that
# uses it, rather than skipping it.
python_has() {
  local python=$1
  shift
  "$python" - "$@" 2>/dev/null <<'PY'
import importlib.util, sys
sys.exit(0 if all(importlib.util.find_spec(name) for name in sys.argv[1:]) else 1)
PY
}
