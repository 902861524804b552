#!/usr/bin/env bash
# Peak memory and time of decoding an image folder: N 32x32 PNGs (random pixels) decoded at
# data.image_size 32 with decode_images, then with decode_images_cached twice (cold: no cache
# yet; warm: every image from the cache), each in its own process. SIDE other than 32 writes
# SIDE x SIDE JPEGs instead, resized to 32x32 (data.resize: area). Figures:
# docs/performance.md, "Decoding image folders".
#   bench/decode_memory.sh [BUILD_DIR] [N] [SIDE]    (defaults: build, 50000, 32)
# Uses $TMPDIR (or /tmp) for the images and the cache, and removes them afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-50000}
side=${3:-32}
ext=.png
[ "$side" = 32 ] || ext=.jpg
cmake --build "$build" --target decode_memory_bench -j2 >/dev/null
bench=$build/decode_memory_bench
work=$(mktemp -d "${TMPDIR:-/tmp}/crest-decode-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "cores: $(nproc)"
start=$(date +%s.%N)
"$bench" generate "$work/images" "$n" "$side" "$ext"
echo "generated in $(echo "$(date +%s.%N) - $start" | bc) s"
"$bench" decode "$work/images"
"$bench" cached "$work/images" "$work/cache"   # cold: decodes and writes the cache
"$bench" cached "$work/images" "$work/cache"   # warm: reads the cache
ls -l "$work/cache"
