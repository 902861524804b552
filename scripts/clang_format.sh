#!/usr/bin/env bash
# clang-format over crest's own C++ (include/, src/, apps/, tests/; not third_party/), with the
# repository's .clang-format (Google style, 100 columns).
#   scripts/clang_format.sh          check: lists the files clang-format would change, exit 1
#                                    when there are any (the CTest test lint.clang_format)
#   scripts/clang_format.sh --fix    reformat those files in place
# CLANG_FORMAT names another binary (e.g. clang-format-14). Formatting differs a little between
# clang-format versions; the tree is formatted with Debian 12's clang-format 14.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

fix=0
case "${1:-}" in
  "") ;;
  --fix) fix=1 ;;
  *)
    echo "usage: scripts/clang_format.sh [--fix]" >&2
    exit 2
    ;;
esac

clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" >/dev/null 2>&1; then
  echo "FAIL: $clang_format is not installed, so the format of the sources cannot be checked;" \
    "install it (Debian: apt-get install clang-format; scripts/test.sh does) or set" \
    "CLANG_FORMAT to its path" >&2
  exit 1
fi

mapfile -t files < <(find include src apps tests proto -type f \( -name '*.h' -o -name '*.hpp' \
  -o -name '*.cpp' -o -name '*.cc' \) | LC_ALL=C sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "FAIL: no C++ sources found under include/ src/ apps/ tests/ of $(pwd)" >&2
  exit 1
fi

if [ "$fix" -eq 1 ]; then
  "$clang_format" -i --style=file "${files[@]}"
  exit $?
fi

off=()
for file in "${files[@]}"; do
  if ! "$clang_format" --dry-run -Werror --style=file "$file" >/dev/null 2>&1; then
    off+=("$file")
  fi
done
version=$("$clang_format" --version)
if [ "${#off[@]}" -gt 0 ]; then
  echo "FAIL: ${#off[@]} of ${#files[@]} file(s) are not formatted as .clang-format says" \
    "($version):"
  printf '  %s\n' "${off[@]}"
  echo "see what changes: $clang_format --dry-run ${off[0]}"
  echo "fix them: scripts/clang_format.sh --fix"
  exit 1
fi
echo "ok: ${#files[@]} file(s) formatted ($version)"
