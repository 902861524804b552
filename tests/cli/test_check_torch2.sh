# scripts/check_torch2.py refuses, before fetching anything, a build folder without
# compile_commands.json and a CUDA home without headers, naming what is missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
check() {
  python3 "$SRC/scripts/check_torch2.py" --cache "$WORK/cache" "$@" >"$OUT" 2>"$ERR"
  CODE=$?
}

check --build "$WORK/nobuild"
[ "$CODE" -ne 0 ] || fail "a build folder without compile_commands.json should fail"
expect_err "$WORK/nobuild/compile_commands.json not found" "names the missing file"
expect_err "configure first" "says what to do"

mkdir -p "$WORK/b" && echo "[]" >"$WORK/b/compile_commands.json"
check --build "$WORK/b" --cuda-home "$WORK/nocuda"
[ "$CODE" -ne 0 ] || fail "a CUDA home without headers should fail"
expect_err "no CUDA headers in $WORK/nocuda/include" "names the folder"
[ -e "$WORK/cache" ] && fail "nothing should be fetched before the inputs are checked"

finish
