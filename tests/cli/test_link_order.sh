# The C++ runtime comes before Torch in the executables' DT_NEEDED list. A pip torch exports its
# own std::filesystem from libtorch.so and libtorch_cpu.so; named first, those copies take the
# calls (seen on torch 2.11: std::filesystem::remove_all(path, error_code&) crashed). The same
# order on Debian's LibTorch is harmless, so it is checked on every build. Where the build links
# tcmalloc, it comes before Torch too, so that its malloc is the one LibTorch's allocator gets.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
command -v readelf >/dev/null || { echo "FAIL: readelf (binutils) is needed"; exit 1; }

check_order() {
  local binary=$1
  readelf -d "$binary" >"$OUT" 2>"$ERR" || { fail "readelf could not read $binary"; return; }
  local cxx torch
  cxx=$(grep -n 'NEEDED.*\[libstdc++\.so' "$OUT" | head -1 | cut -d: -f1)
  torch=$(grep -n 'NEEDED.*\[libtorch' "$OUT" | head -1 | cut -d: -f1)
  [ -n "$cxx" ] || { fail "$binary: libstdc++ is not in DT_NEEDED"; return; }
  [ -n "$torch" ] || { fail "$binary: no libtorch in DT_NEEDED"; return; }
  [ "$cxx" -lt "$torch" ] || fail "$binary: libstdc++ (entry $cxx) comes after Torch (entry $torch)"
  local tcmalloc
  tcmalloc=$(grep -n 'NEEDED.*\[libtcmalloc' "$OUT" | head -1 | cut -d: -f1)
  if [ -n "$tcmalloc" ]; then
    [ "$tcmalloc" -lt "$torch" ] || fail "$binary: tcmalloc (entry $tcmalloc) comes after Torch"
  fi
}

check_order "$CREST"
tests_binary="$(dirname "$CREST")/tests/crest_tests"
[ -x "$tests_binary" ] && check_order "$tests_binary"
finish
