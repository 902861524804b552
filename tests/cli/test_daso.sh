# train.algorithm=daso: DASO alone (one generation) and inside the CReST+ loop on the tiny config,
# with the warm-up ending at step 6 and the pseudo-label distribution refreshed every 3 steps;
# SIGKILL in generation 1 and --resume ends exactly where the uninterrupted run ends (the queue,
# its prototypes and the pseudo-label counts are checkpointed); the blend and the alignment
# change the weights; refused keys exit 2 naming the key.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
DASO=(--set train.algorithm=daso --set train.epochs=3 --set daso.warmup_steps=6
  --set daso.dist_update_period=3 --set daso.queue_size=8 --set train.threshold=0.5)

run -q train --config "$TINY" --out whole "${DASO[@]}"
expect_code 0 "CReST+ with daso"
grep -q "algorithm: daso" whole/config.yaml || fail "config.yaml records the algorithm"
grep -q "queue_size: 8" whole/config.yaml || fail "config.yaml records the daso section"
for g in 0 1; do expect_learner_metrics "whole/gen_$g/metrics.jsonl" 3; done
[ -s whole/gen_0/pseudo_labels.csv ] || fail "daso inside CReST+ selects pseudo-labels"
grep -q '"daso_blend_weights":\[' whole/gen_0/metrics.jsonl ||
  fail "metrics.jsonl records the blend weights"

# Kill and resume: bit for bit the uninterrupted run (weights, metrics, selection).
kill_in_generation_1 killed -q train --config "$TINY" "${DASO[@]}"
run -q train --config "$TINY" --out killed --resume "${DASO[@]}"
expect_code 0 "resumed daso run"
expect_same_generations whole killed

# DASO alone; its weights differ from FixMatch's, from the fixed blend's and without alignment.
ALONE=("${DASO[@]}" --set crest.mode=fixmatch --set crest.generations=1)
fp() { grep -o '"ema_fingerprint": *"[^"]*"' "$1/gen_0/summary.json"; }
run -q train --config "$TINY" --out alone "${ALONE[@]}"
expect_code 0 "daso alone"
[ -n "$(fp alone)" ] || fail "no fingerprint in alone/gen_0/summary.json"
for variant in daso.dist_aware=false daso.alignment_weight=0 train.algorithm=fixmatch; do
  run -q train --config "$TINY" --out variant "${ALONE[@]}" --set "$variant"
  expect_code 0 "daso alone with $variant"
  [ "$(fp variant)" != "$(fp alone)" ] || fail "$variant trained the same weights as daso"
  rm -rf variant
done

# The standard head is the evaluated one: evaluate gives the run's own accuracy.
run evaluate alone --json
expect_code 0 "evaluate a daso run"
acc_run=$(grep -o '"accuracy": [0-9.e-]*' alone/gen_0/generation.json | head -1 | awk '{print $2}')
acc_eval=$(grep -o '"accuracy": [0-9.e-]*' alone/eval/test-gen0-ema/metrics.json | awk '{print $2}')
awk -v a="$acc_run" -v b="$acc_eval" 'BEGIN { exit !(a - b < 1e-9 && b - a < 1e-9) }' ||
  fail "evaluate's accuracy $acc_eval differs from the run's own $acc_run"
run summarize alone
expect_code 0 "summarize a daso run"
expect_out "| DASO |" "summarize names DASO"

# Refused keys and values: exit 2, naming the key; no run folder made.
for bad in daso.warmup_steps=-1 daso.warmup_steps=1.5 daso.warmup_steps=abc \
  daso.proto_temperature=0 daso.proto_temperature=-0.05 daso.proto_temperature=1e3 \
  daso.dist_update_period=0 daso.dist_update_period=-3 daso.dist_aware=maybe daso.dist_aware=2 \
  daso.dist_temperature=0 daso.dist_temperature=101 daso.interp_alpha=1.5 \
  daso.interp_alpha=-0.1 daso.alignment_weight=-1 daso.alignment_weight=1e5 \
  daso.queue_size=0 daso.queue_size=2.5 daso.queue_size=1e9 daso.queue=4 daso.temperature=1; do
  run -q train --config "$TINY" --out bad "${DASO[@]}" --set "$bad"
  expect_code 2 "--set $bad"
  expect_err "${bad%%=*}" "the message names ${bad%%=*}"
done
# A warm-up shorter than one distribution period (the blend would divide 0 by 0).
for pair in "0 1" "2 3" "99 100"; do
  read -r warm period <<<"$pair"
  run -q train --config "$TINY" --out bad "${DASO[@]}" --set daso.warmup_steps="$warm" \
    --set daso.dist_update_period="$period"
  expect_code 2 "daso.warmup_steps=$warm with daso.dist_update_period=$period"
  expect_err "daso.warmup_steps ($warm) must be at least daso.dist_update_period ($period)" \
    "warm-up message ($warm, $period)"
done
run -q train --config "$TINY" --out bad "${DASO[@]}" --set train.cuda_graph=on
expect_code 2 "daso with cuda_graph on"
expect_err "train.cuda_graph=on does not work with train.algorithm=daso" "cuda_graph message"
[ -e bad ] && fail "a refused config must not create the run folder"

finish
