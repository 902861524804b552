#!/usr/bin/env bash
# Downloads the official CIFAR-10 or CIFAR-100 binary archive, checks its md5 sum and puts the
# .bin files directly into DIR, which is the folder crest's data.root points at.
#
#   scripts/download_cifar.sh cifar10|cifar100 DIR
#
# Idempotent: when DIR already holds complete files nothing is downloaded. Offline machines:
# copy the archive into DIR by hand and run the script again; it unpacks that copy instead.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/download_cifar.sh cifar10|cifar100 DIR

Downloads the CIFAR binary archive from https://www.cs.toronto.edu/~kriz/, checks its md5 sum
and unpacks the .bin files directly into DIR. Then set data.root to DIR in the crest config.
EOF
}

if [[ $# -eq 1 && ($1 == -h || $1 == --help) ]]; then
  usage
  exit 0
fi
if [[ $# -ne 2 ]]; then
  usage >&2
  exit 2
fi

dataset=$1
dir=$2
case "$dataset" in
  cifar10)
    archive_name=cifar-10-binary.tar.gz
    md5_expected=c32a1d4ab5d03f1284b67883e8d87530
    inner=cifar-10-batches-bin
    # name:bytes (10,000 records of 3,073 bytes each)
    files=(data_batch_1.bin:30730000 data_batch_2.bin:30730000 data_batch_3.bin:30730000
      data_batch_4.bin:30730000 data_batch_5.bin:30730000 test_batch.bin:30730000)
    ;;
  cifar100)
    archive_name=cifar-100-binary.tar.gz
    md5_expected=03b5dce01913d631647c71ecec9e9cb8
    inner=cifar-100-binary
    # name:bytes (50,000 and 10,000 records of 3,074 bytes each)
    files=(train.bin:153700000 test.bin:30740000)
    ;;
  *)
    echo "error: unknown dataset '$dataset' (expected cifar10 or cifar100)" >&2
    usage >&2
    exit 2
    ;;
esac
url="https://www.cs.toronto.edu/~kriz/$archive_name"

file_names() {
  local entry
  for entry in "${files[@]}"; do printf ' %s' "${entry%%:*}"; done
}

# True when every file is in DIR with its full size (a cut-off copy gets replaced).
complete() {
  local entry name size
  for entry in "${files[@]}"; do
    name=${entry%%:*}
    size=${entry##*:}
    [[ -f "$dir/$name" ]] || return 1
    [[ $(wc -c <"$dir/$name") -eq $size ]] || return 1
  done
}

md5_of() {
  if command -v md5sum >/dev/null 2>&1; then
    md5sum "$1" | cut -d' ' -f1
  elif command -v md5 >/dev/null 2>&1; then
    md5 -q "$1"
  else
    echo "error: neither md5sum nor md5 is installed, so the download cannot be checked" >&2
    exit 1
  fi
}

manual_help() {
  cat >&2 <<EOF
To place the files by hand: on a machine with internet access download
  $url
(md5 $md5_expected), copy it to $dir/$archive_name and run this script again,
or unpack it yourself so that the files$(file_names)
lie directly in $dir:
  mkdir -p '$dir' && tar -xzf $archive_name -C '$dir' --strip-components=1
Then set data.root to $dir.
EOF
}

if complete; then
  echo "$dataset is already in $dir; nothing to do."
  exit 0
fi

created_dir=false
if [[ ! -d "$dir" ]]; then
  mkdir -p "$dir"
  created_dir=true
fi
work=$(mktemp -d "$dir/.download.XXXXXX")
# On failure, leave no temporary files and no empty DIR behind.
cleanup() {
  rm -rf "$work"
  if [[ $created_dir == true ]]; then rmdir "$dir" 2>/dev/null || true; fi
}
trap cleanup EXIT

# An archive placed by hand (offline machines) is used instead of downloading.
archive="$dir/$archive_name"
downloaded=false
if [[ ! -f "$archive" ]]; then
  archive="$work/$archive_name"
  downloaded=true
  echo "Downloading $url ..."
  status=0
  if command -v curl >/dev/null 2>&1; then
    curl -fL --connect-timeout 30 --retry 2 -o "$archive" "$url" || status=$?
  elif command -v wget >/dev/null 2>&1; then
    wget --timeout=30 --tries=2 -O "$archive" "$url" || status=$?
  else
    echo "error: neither curl nor wget is installed, so $url cannot be downloaded." >&2
    manual_help
    exit 1
  fi
  if [[ $status -ne 0 ]]; then
    echo >&2
    echo "error: downloading $url failed (exit code $status)." >&2
    echo "This machine may have no internet access (or the server is unreachable)." >&2
    manual_help
    exit 1
  fi
fi

md5_actual=$(md5_of "$archive")
if [[ $md5_actual != "$md5_expected" ]]; then
  echo "error: $archive has md5 $md5_actual, expected $md5_expected:" >&2
  echo "the download is incomplete or damaged." >&2
  if [[ $downloaded == false ]]; then
    echo "Delete $archive and run this script again." >&2
  else
    echo "Run this script again." >&2
  fi
  exit 1
fi

echo "Unpacking $archive_name into $dir ..."
tar -xzf "$archive" -C "$work"
if [[ ! -d "$work/$inner" ]]; then
  echo "error: $archive_name does not contain the folder $inner/" >&2
  exit 1
fi
# Move the files up so that they lie directly in DIR (data.root), as crest expects.
for path in "$work/$inner"/*; do
  mv -f "$path" "$dir/"
done
if ! complete; then
  echo "error: after unpacking, some of$(file_names) are missing or have the wrong size in $dir" >&2
  exit 1
fi
echo "$dataset is ready in $dir; set data.root to $dir."
