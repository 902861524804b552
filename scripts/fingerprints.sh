#!/usr/bin/env bash
# Behaviour fingerprints of crest runs, for refactors that must keep behaviour (issue #27):
# trains a fixed set of runs (each also killed with SIGKILL part-way and resumed) and prints one
# line per file that defines what a run computed: sha256 of every generation's summary.json
# figures (model and EMA fingerprints), pseudo_labels.csv, selection.json, per_class.csv,
# confusion.csv, checkpoint.pt, metrics.jsonl without its timing, and the run's generations.csv;
# for crest pretrain its backbone fingerprint.
#
#   scripts/fingerprints.sh CREST WORKDIR [CASE...] > fingerprints.txt
#
# CASES: quickstart fixmatch mixmatch labeled_loss pretrain_init nproc2 pretrain_nproc2 (default:
# all but quickstart). Each case C runs twice, C (uninterrupted) and C.resumed (SIGKILLed at its
# first checkpoint of generation 1, or of the pre-training, then --resume). Every run pins
# run.threads, so the figures do not depend on the machine's load.
set -euo pipefail
crest=$(realpath "${1:?path to crest}")
work=${2:?work folder}
shift 2
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(fixmatch mixmatch labeled_loss crestplus pretrain_init nproc2 pretrain_nproc2)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tiny="$src/tests/cli/tiny.yaml"
mkdir -p "$work"
work=$(realpath "$work")

# The args of each case's `crest train` (after the subcommand).
case_args() {
  case $1 in
    quickstart) echo "--set run.threads=2" ;;
    crestplus) echo "--config $tiny" ;;
    fixmatch) echo "--config $tiny --set crest.mode=fixmatch" ;;
    mixmatch) echo "--config $tiny --set train.algorithm=mixmatch --set train.unlabeled_ratio=1" ;;
    labeled_loss) echo "--config $tiny --set train.labeled_loss=logit_adjusted" ;;
    pretrain_init) echo "--config $tiny --set model.init_from=$work/pretrain_init.backbone/backbone.pt" ;;
    nproc2) echo "--config $tiny --nproc 2" ;;
  esac
}

strip_timing() { sed 's/,"steps_per_sec":[^,}]*//' "$1"; }

print_run() {  # NAME DIR
  local name=$1 dir=$2 f g
  for g in "$dir"/gen_*; do
    [ -d "$g" ] || continue
    for f in summary.json pseudo_labels.csv selection.json per_class.csv confusion.csv checkpoint.pt; do
      [ -f "$g/$f" ] && echo "$name $(basename "$g")/$f $(sha256sum < "$g/$f" | cut -c1-16)"
    done
    echo "$name $(basename "$g")/metrics.jsonl $(strip_timing "$g/metrics.jsonl" | sha256sum | cut -c1-16)"
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sys.argv[2], "model", s["model_fingerprint"], "ema", s["ema_fingerprint"])' \
      "$g/summary.json" "$name $(basename "$g")"
  done
  for f in generations.csv; do
    [ -f "$dir/$f" ] && echo "$name $f $(sha256sum < "$dir/$f" | cut -c1-16)"
  done
  return 0
}

print_pretrain() {  # NAME DIR
  local name=$1 dir=$2
  echo "$name metrics.jsonl $(strip_timing "$dir/metrics.jsonl" | sha256sum | cut -c1-16)"
  echo "$name checkpoint.pt $(sha256sum < "$dir/checkpoint.pt" | cut -c1-16)"
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sys.argv[2], "backbone", s["backbone_fingerprint"])' \
    "$dir/backbone.pt.json" "$name"
}

# kill_at FILE CMD...: starts CMD, SIGKILLs it once FILE exists.
kill_at() {
  local file=$1
  shift
  "$@" >/dev/null 2>&1 &
  local pid=$! start=$SECONDS
  while kill -0 "$pid" 2>/dev/null && [ ! -f "$file" ] && [ $((SECONDS - start)) -lt 600 ]; do sleep 0.01; done
  # --nproc: the ranks are the launcher's children; SIGKILL them first, then the launcher.
  pkill -9 -P "$pid" 2>/dev/null || true
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sleep 0.5
}

# A tiny pre-training of 3 x 8 steps with a checkpoint every 4: SIGKILLed at its first
# checkpoint (step 4 of 24), the resume trains the other 20.
pretrain_sets=(--set pretrain.epochs=3 --set pretrain.steps_per_epoch=8 --set pretrain.batch_size=32)

pretrain() {  # DIR [--nproc 2]: a tiny pre-training, and the same killed and resumed
  local dir=$1
  shift
  rm -rf "$dir" "$dir.resumed"
  "$crest" -q pretrain --config "$tiny" "${pretrain_sets[@]}" "$@" --out "$dir" >/dev/null
  kill_at "$dir.resumed/checkpoint.pt" "$crest" -q pretrain --config "$tiny" "${pretrain_sets[@]}" "$@" --out "$dir.resumed"
  grep -q '"status": "done"' "$dir.resumed/pretrain.json" &&
    echo "warning: $dir.resumed finished before the kill" >&2
  "$crest" -q pretrain --config "$tiny" "${pretrain_sets[@]}" "$@" --out "$dir.resumed" --resume >/dev/null
}

for c in "${cases[@]}"; do
  if [ "$c" = pretrain_nproc2 ]; then
    pretrain "$work/$c" --nproc 2
    print_pretrain "$c" "$work/$c"
    print_pretrain "$c.resumed" "$work/$c.resumed"
    continue
  fi
  if [ "$c" = pretrain_init ]; then
    pretrain "$work/pretrain_init.backbone"
    print_pretrain "pretrain" "$work/pretrain_init.backbone"
    print_pretrain "pretrain.resumed" "$work/pretrain_init.backbone.resumed"
  fi
  # shellcheck disable=SC2046
  read -r -a args <<<"$(case_args "$c")"
  rm -rf "${work:?}/$c" "${work:?}/$c.resumed"
  "$crest" -q train "${args[@]}" --out "$work/$c" >/dev/null
  print_run "$c" "$work/$c"
  kill_at "$work/$c.resumed/gen_1/checkpoint.pt" "$crest" -q train "${args[@]}" --out "$work/$c.resumed"
  [ -f "$work/$c.resumed/gen_1/generation.json" ] &&
    echo "warning: $c.resumed finished generation 1 before the kill" >&2
  "$crest" -q train "${args[@]}" --out "$work/$c.resumed" --resume >/dev/null
  print_run "$c.resumed" "$work/$c.resumed"
done
