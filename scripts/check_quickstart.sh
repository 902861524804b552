#!/usr/bin/env bash
# Checks that the quickstart (`crest train` with no --config) shows what CReST does: on every
# documented seed, the rare classes' recall of the last generation is above generation 0's and
# the accuracy does not fall. Too long for ctest (a few minutes a seed); tests/cli/
# test_quickstart.sh tests this script's argument handling and its checks on fake run folders.
#
# Usage: scripts/check_quickstart.sh [--crest BIN] [--seeds "0 1 2"] [--jobs N] [--check-only]
#                                    OUT_DIR [-- CREST_TRAIN_ARGS...]
#   --crest BIN    the crest executable (default: build/crest)
#   --seeds LIST   the run.seed values, space- or comma-separated (default: the documented 0 1 2)
#   --jobs N       train N seeds at a time (default 1; more share the cores: slower walls)
#   --check-only   train nothing: check the run folders OUT_DIR/seed_S that are already there
#   OUT_DIR        each seed's run goes to OUT_DIR/seed_S (it must not hold one already)
#   -- ARGS        passed to every `crest train`, e.g. -- --set train.amp=off
# Prints a table (seed, accuracy and rare-class recall of generation 0 and of the last
# generation, wall seconds of the run) and exits 0 when every seed passes, 1 when one does not
# (naming it and why), 2 on bad arguments or a run folder without its generation results.
set -euo pipefail

usage() {
  sed -n '7,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
}

die() {
  echo "check_quickstart: $*" >&2
  exit 2
}

crest_bin=build/crest
seeds="0 1 2"
check_only=0
jobs=1
out_dir=""
train_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --crest)
      [ $# -ge 2 ] || die "--crest needs the path to the crest executable"
      crest_bin=$2
      shift 2
      ;;
    --seeds)
      [ $# -ge 2 ] || die "--seeds needs a list of seeds, e.g. --seeds \"0 1 2\""
      seeds=${2//,/ }
      shift 2
      ;;
    --jobs)
      [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "--jobs needs a whole number >= 1"
      jobs=$2
      shift 2
      ;;
    --check-only)
      check_only=1
      shift
      ;;
    -h | --help) usage ;;
    --)
      shift
      train_args=("$@")
      break
      ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *)
      [ -z "$out_dir" ] || die "one OUT_DIR only, got '$out_dir' and '$1'"
      out_dir=$1
      shift
      ;;
  esac
done
[ -n "$out_dir" ] || die "missing OUT_DIR (see --help)"
read -r -a seed_list <<<"$seeds"
[ ${#seed_list[@]} -gt 0 ] || die "--seeds is empty"
for s in "${seed_list[@]}"; do
  [[ "$s" =~ ^[0-9]+$ ]] || die "seed '$s' is not a non-negative integer"
done

# column FILE NAME: the index (1-based) of column NAME in the header of the CSV FILE, or empty.
column() {
  head -n 1 "$1" | tr -d '\r' | tr ',' '\n' | { grep -nx -- "$2" || true; } | cut -d: -f1
}

# field FILE ROW COL: the value in data row ROW (1 = first after the header; -1 = last).
field() {
  local file=$1 row=$2 col=$3
  if [ "$row" -lt 0 ]; then
    tail -n 1 "$file" | tr -d '\r' | cut -d, -f"$col"
  else
    sed -n "$((row + 1))p" "$file" | tr -d '\r' | cut -d, -f"$col"
  fi
}

is_number() { [[ "$1" =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]]; }

# train_seed S: trains seed S into OUT_DIR/seed_S, its log beside it, and writes its wall seconds.
train_seed() {
  local s=$1 run="$out_dir/seed_$1" start end
  echo "check_quickstart: seed $s -> $run" >&2
  start=$(date +%s.%N)
  if ! "$crest_bin" -q train --out "$run" --set "run.seed=$s" "${train_args[@]}" \
    >"$out_dir/seed_$s.log" 2>&1; then
    tail -n 20 "$out_dir/seed_$s.log" >&2
    echo "check_quickstart: crest train failed for seed $s (log: $out_dir/seed_$s.log)" >&2
    return 1
  fi
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f\n", b - a }' >"$out_dir/seed_$s.wall_seconds"
}

if [ "$check_only" -eq 0 ]; then
  [ -x "$crest_bin" ] || die "crest executable '$crest_bin' not found or not executable (--crest)"
  for s in "${seed_list[@]}"; do
    [ ! -e "$out_dir/seed_$s" ] ||
      die "$out_dir/seed_$s already exists: give a new OUT_DIR, or --check-only to check it"
  done
  mkdir -p "$out_dir" || die "cannot create OUT_DIR '$out_dir'"
  pids=()
  for s in "${seed_list[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
    train_seed "$s" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || exit 1
  done
fi

failed=0
printf '%-6s %9s %9s %16s %16s %8s\n' seed gen0_acc last_acc gen0_rare_recall last_rare_recall wall_s
for s in "${seed_list[@]}"; do
  csv="$out_dir/seed_$s/generations.csv"
  [ -s "$csv" ] || die "$csv is missing or empty: no finished run for seed $s"
  acc_col=$(column "$csv" accuracy)
  rare_col=$(column "$csv" minority_recall)
  [ -n "$acc_col" ] && [ -n "$rare_col" ] ||
    die "$csv lacks the accuracy or minority_recall column"
  rows=$(($(wc -l <"$csv") - 1))
  [ "$rows" -ge 2 ] || die "$csv holds $rows generation(s): need generation 0 and a later one"
  acc0=$(field "$csv" 1 "$acc_col")
  acc_last=$(field "$csv" -1 "$acc_col")
  rare0=$(field "$csv" 1 "$rare_col")
  rare_last=$(field "$csv" -1 "$rare_col")
  for v in "$acc0" "$acc_last" "$rare0" "$rare_last"; do
    is_number "$v" || die "$csv: '$v' is not a number"
  done
  wall=-
  [ -s "$out_dir/seed_$s.wall_seconds" ] && wall=$(cat "$out_dir/seed_$s.wall_seconds")
  printf '%-6s %9.4f %9.4f %16.4f %16.4f %8s\n' "$s" "$acc0" "$acc_last" "$rare0" "$rare_last" "$wall"
  if ! awk -v a="$rare_last" -v b="$rare0" 'BEGIN { exit !(a > b) }'; then
    echo "FAIL seed $s: rare-class recall did not rise ($rare0 -> $rare_last)" >&2
    failed=1
  fi
  if ! awk -v a="$acc_last" -v b="$acc0" 'BEGIN { exit !(a >= b) }'; then
    echo "FAIL seed $s: accuracy fell ($acc0 -> $acc_last)" >&2
    failed=1
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "check_quickstart: the quickstart did not show CReST working on every seed" >&2
  exit 1
fi
echo "check_quickstart: every seed passed (rare recall rose, accuracy did not fall)"
