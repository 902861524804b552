# scripts/check_torch2.py refuses, before fetching anything, a build folder without
# compile_commands.json, a CUDA home without headers, and (with --link) a CUDA home without its
# runtime library, a build folder without CMake's link lines or a list of files (also with --run),
# naming what is missing.
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

mkdir -p "$WORK/cuda/include" && touch "$WORK/cuda/include/cuda_runtime_api.h"
check --build "$WORK/b" --cuda-home "$WORK/cuda" --link
[ "$CODE" -ne 0 ] || fail "--link without the CUDA runtime library should fail"
expect_err "no CUDA runtime library $WORK/cuda/lib64/libcudart.so" "names the library"

mkdir -p "$WORK/cuda/lib64" && touch "$WORK/cuda/lib64/libcudart.so"
check --build "$WORK/b" --cuda-home "$WORK/cuda" --link
[ "$CODE" -ne 0 ] || fail "--link without CMake's link lines should fail"
expect_err "$WORK/b/CMakeFiles/crest.dir/link.txt not found" "names the missing link line"
expect_err "generate the build first" "says what to do"

check --build "$WORK/b" --cuda-home "$WORK/cuda" --link src/ssl/sgd.cpp
[ "$CODE" -ne 0 ] || fail "--link with a list of files should fail"
expect_err "--link needs every file: leave out src/ssl/sgd.cpp" "names the files to leave out"

# --run builds the CPU variant: it needs no CUDA home, but the same link lines and every file.
check --build "$WORK/b" --cuda-home "$WORK/nocuda" --run
[ "$CODE" -ne 0 ] || fail "--run without CMake's link lines should fail"
expect_err "$WORK/b/CMakeFiles/crest.dir/link.txt not found" "--run names the missing link line"
check --build "$WORK/b" --run src/ssl/sgd.cpp
[ "$CODE" -ne 0 ] || fail "--run with a list of files should fail"
expect_err "--run needs every file: leave out src/ssl/sgd.cpp" "--run names the files to leave out"
check --build "$WORK/b" --run --link
expect_code 2 "--run with --link"
expect_err "not allowed with argument" "says the two exclude each other"
[ -e "$WORK/cache" ] && fail "nothing should be fetched before the inputs are checked"

finish
