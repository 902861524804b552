# Helpers for the CLI tests. Each test script is run by CTest as:
#   bash tests/cli/test_NAME.sh PATH/TO/crest SOURCE_DIR
# and sources this file. Failures print what was expected and what came back, then exit 1.
set -u
CREST=${1:?path to the crest executable}
SRC=${2:?source directory}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/crest-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
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

# kill_in_generation_1 DIR ARGS...: starts `crest ARGS... --out DIR` in the background, SIGKILLs
# it once generation 1 has written its first checkpoint, and checks the kill came before
# generation 1 finished.
kill_in_generation_1() {
  local dir=$1
  shift
  "$CREST" "$@" --out "$dir" >/dev/null 2>&1 &
  local pid=$!
  # Up to two minutes: on a loaded machine generation 0 can take far longer than its usual
  # seconds, and killing it there would test something else.
  local waited=$SECONDS
  while [ $((SECONDS - waited)) -lt 120 ] && kill -0 "$pid" 2>/dev/null; do
    [ -f "$dir/gen_1/checkpoint.pt" ] && break
    sleep 0.01
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [ -f "$dir/gen_1/checkpoint.pt" ] || fail "the run never reached a checkpoint in generation 1"
  [ -f "$dir/gen_1/generation.json" ] && fail "killed too late: generation 1 had already finished"
  return 0
}
