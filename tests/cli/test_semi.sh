# train.algorithm=semi: SeMi alone (one generation) and inside the CReST+ loop on the tiny config,
# with the blend, the mining weights and the feature consistency on from epoch 1 and the bank
# decaying every 3 steps; SIGKILL in generation 1 and --resume ends exactly where the
# uninterrupted run ends (bank, center, counts and weights are checkpointed); the feature-row
# choice and the algorithm change the weights; evaluate uses the balanced head; refused keys exit
# 2 naming the key.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
SEMI=(--set train.algorithm=semi --set train.unlabeled_ratio=1 --set train.epochs=3
  --set semi.start_epoch=0 --set semi.decay_steps=3 --set semi.bank_per_class=8
  --set train.threshold=0.5)

run -q train --config "$TINY" --out whole "${SEMI[@]}"
expect_code 0 "CReST+ with semi"
grep -q "algorithm: semi" whole/config.yaml || fail "config.yaml records the algorithm"
grep -q "bank_per_class: 8" whole/config.yaml || fail "config.yaml records the semi section"
for g in 0 1; do expect_learner_metrics "whole/gen_$g/metrics.jsonl" 3; done
[ -s whole/gen_0/pseudo_labels.csv ] || fail "semi inside CReST+ selects pseudo-labels"

# Kill and resume: bit for bit the uninterrupted run.
kill_in_generation_1 killed -q train --config "$TINY" "${SEMI[@]}"
run -q train --config "$TINY" --out killed --resume "${SEMI[@]}"
expect_code 0 "resumed semi run"
expect_same_generations whole killed

# SeMi alone; its weights differ from ACR's and with the other feature rows.
ALONE=("${SEMI[@]}" --set crest.mode=fixmatch --set crest.generations=1)
run -q train --config "$TINY" --out alone "${ALONE[@]}"
expect_code 0 "semi alone"
run -q train --config "$TINY" --out aligned "${ALONE[@]}" --set semi.feature_rows=aligned
expect_code 0 "semi with aligned feature rows"
run -q train --config "$TINY" --out acr "${ALONE[@]}" --set train.algorithm=acr
expect_code 0 "acr for comparison"
fp() { grep -o '"ema_fingerprint": *"[^"]*"' "$1/gen_0/summary.json"; }
[ -n "$(fp alone)" ] || fail "no fingerprint in alone/gen_0/summary.json"
[ "$(fp acr)" != "$(fp alone)" ] || fail "semi trained the same weights as acr"
[ "$(fp aligned)" != "$(fp alone)" ] || fail "semi.feature_rows changed nothing"

# The balanced head is the evaluated one: evaluate gives the run's own accuracy.
run evaluate alone --json
expect_code 0 "evaluate a semi run"
acc_run=$(grep -o '"accuracy": [0-9.e-]*' alone/gen_0/generation.json | head -1 | awk '{print $2}')
acc_eval=$(grep -o '"accuracy": [0-9.e-]*' alone/eval/test-gen0-ema/metrics.json | awk '{print $2}')
awk -v a="$acc_run" -v b="$acc_eval" 'BEGIN { exit !(a - b < 1e-9 && b - a < 1e-9) }' ||
  fail "evaluate's accuracy $acc_eval differs from the run's own $acc_run"

# crest summarize names the method by its learner.
run summarize alone aligned
expect_code 0 "summarize semi runs"
expect_out "| SeMi |" "summarize names SeMi alone"

# Refused keys and values: exit 2, naming the key; no run folder made.
for bad in semi.alpha=2 semi.alpha=-0.1 semi.hard_scale=1.5 semi.bank_per_class=0 \
  semi.decay_steps=0 semi.proto_temperature=0 semi.consistency_temperature=-1 \
  semi.consistency_weight=1e5 semi.feature_rows=shuffled semi.start_epoch=-1 \
  semi.prototype_blend=maybe semi.bank=4; do
  run -q train --config "$TINY" --out bad "${SEMI[@]}" --set "$bad"
  expect_code 2 "--set $bad"
  expect_err "${bad%%=*}" "the message names ${bad%%=*}"
done
for ratio in 0 2 7; do
  run -q train --config "$TINY" --out bad "${SEMI[@]}" --set train.unlabeled_ratio=$ratio
  expect_code 2 "semi with train.unlabeled_ratio=$ratio"
  expect_err "train.unlabeled_ratio must be 1 with train.algorithm=semi" "ratio message ($ratio)"
done
run -q train --config "$TINY" --out bad "${SEMI[@]}" --set train.cuda_graph=on
expect_code 2 "semi with cuda_graph on"
expect_err "train.cuda_graph=on does not work with train.algorithm=semi" "cuda_graph message"
[ -e bad ] && fail "a refused config must not create the run folder"

finish
