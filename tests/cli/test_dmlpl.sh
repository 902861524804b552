# train.algorithm=dmlpl (DML-PL's learner: FixMatch plus a metric loss on the embedding head
# fc_embedding) inside CReST with the confidence selection and alone, on the tiny config:
# metrics.jsonl reports the metric loss and loss = loss_x + loss_u + metric_weight x it; SIGKILL
# in generation 1 and --resume ends exactly where the uninterrupted run ends; supcon and triplet
# train different weights, metric_weight 0 trains FixMatch's; evaluate, predict and export work
# on the run (the export is the plain WRN, loaded by PyTorch with weights_only=True); refused
# keys exit 2 naming the key.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
DMLPL=(--set train.algorithm=dmlpl --set crest.mode=crest --set dmlpl.embedding_dim=16
  --set dmlpl.metric_weight=0.5 --set train.threshold=0.5)

# metrics.jsonl of FILE: LINES lines with a finite dmlpl_metric_loss and
# loss = loss_x + loss_u + WEIGHT x dmlpl_metric_loss.
expect_dmlpl_metrics() {
  local problem
  problem=$(python3 - "$@" 2>&1 <<'PY'
import json, math, sys
lines = [json.loads(t) for t in open(sys.argv[1]) if t.strip()]
if len(lines) != int(sys.argv[2]):
    sys.exit(f"{len(lines)} lines, expected {sys.argv[2]}")
for i, m in enumerate(lines, 1):
    metric = m.get("dmlpl_metric_loss")
    if type(metric) not in (int, float) or not math.isfinite(metric) or metric < 0:
        sys.exit(f"line {i}: dmlpl_metric_loss is {metric!r}")
    want = m["loss_x"] + m["loss_u"] + float(sys.argv[3]) * metric
    if abs(m["loss"] - want) > 1e-6:
        sys.exit(f"line {i}: loss {m['loss']} != loss_x + loss_u + w metric = {want}")
PY
  ) || fail "$1: ${problem:-python3 failed}"
}

run -q train --config "$TINY" --out whole "${DMLPL[@]}"
expect_code 0 "CReST with dmlpl"
grep -q "algorithm: dmlpl" whole/config.yaml || fail "config.yaml records the algorithm"
grep -q "embedding_dim: 16" whole/config.yaml || fail "config.yaml records the dmlpl section"
for g in 0 1; do expect_dmlpl_metrics "whole/gen_$g/metrics.jsonl" 2 0.5; done
[ -s whole/gen_0/pseudo_labels.csv ] || fail "dmlpl inside CReST selects pseudo-labels"

# Kill and resume: bit for bit the uninterrupted run (weights, metrics, selection).
kill_in_generation_1 killed -q train --config "$TINY" "${DMLPL[@]}"
run -q train --config "$TINY" --out killed --resume "${DMLPL[@]}"
expect_code 0 "resumed dmlpl run"
expect_same_generations whole killed

# DML-PL alone (FixMatch's loop). supcon and triplet learn different weights; metric_weight 0
# is FixMatch's training exactly: the same metrics but for the metric loss, the same accuracy.
ALONE=("${DMLPL[@]}" --set crest.mode=fixmatch --set crest.generations=1)
fp() { grep -o '"ema_fingerprint": *"[^"]*"' "$1/gen_0/summary.json"; }
same_metrics() {
  sed -e 's/,"steps_per_sec":[^,}]*//' -e 's/,"dmlpl_metric_loss":[^,}]*//' "$1/gen_0/metrics.jsonl"
}
run -q train --config "$TINY" --out alone "${ALONE[@]}"
expect_code 0 "dmlpl alone"
[ -n "$(fp alone)" ] || fail "no fingerprint in alone/gen_0/summary.json"
expect_dmlpl_metrics alone/gen_0/metrics.jsonl 2 0.5
run -q train --config "$TINY" --out supcon "${ALONE[@]}" --set dmlpl.metric_loss=supcon \
  --set dmlpl.metric_weight=2
expect_code 0 "dmlpl alone with supcon"
expect_dmlpl_metrics supcon/gen_0/metrics.jsonl 2 2
[ "$(fp supcon)" != "$(fp alone)" ] || fail "supcon trained the same weights as triplet"
run -q train --config "$TINY" --out zero "${ALONE[@]}" --set dmlpl.metric_weight=0
expect_code 0 "dmlpl alone with metric_weight 0"
run -q train --config "$TINY" --out fixmatch "${ALONE[@]}" --set train.algorithm=fixmatch
expect_code 0 "fixmatch alone"
diff <(same_metrics zero) <(same_metrics fixmatch) >/dev/null ||
  fail "dmlpl.metric_weight=0 trained otherwise than fixmatch"
[ "$(same_metrics zero)" != "$(same_metrics alone)" ] || fail "the metric loss changed nothing"

# The standard head is the evaluated one: evaluate gives the run's own accuracy; predict and
# export read the checkpoint with its embedding head.
run evaluate alone --json
expect_code 0 "evaluate a dmlpl run"
acc_run=$(grep -o '"accuracy": [0-9.e-]*' alone/gen_0/generation.json | head -1 | awk '{print $2}')
acc_eval=$(grep -o '"accuracy": [0-9.e-]*' alone/eval/test-gen0-ema/metrics.json | awk '{print $2}')
awk -v a="$acc_run" -v b="$acc_eval" 'BEGIN { exit !(a - b < 1e-9 && b - a < 1e-9) }' ||
  fail "evaluate's accuracy $acc_eval differs from the run's own $acc_run"
run evaluate whole --generation 0 --model raw
expect_code 0 "evaluate generation 0's raw model of the CReST run"
run summarize alone whole
expect_code 0 "summarize dmlpl runs"
expect_out "DML-PL" "summarize names DML-PL"
run data synth --format folder --out imgs --classes 4 --train-per-class 2 --test-per-class 3 \
  --seed 9
expect_code 0 "images to predict"
run predict alone --folder imgs/test --logits --out pred.jsonl
expect_code 0 "predict with a dmlpl run"
[ "$(wc -l <pred.jsonl)" -eq 12 ] || fail "one JSONL line per image"
run export alone --out m.pt
expect_code 0 "export a dmlpl run"
if python_has /usr/bin/python3 torch numpy PIL; then
  /usr/bin/python3 - m.pt <<'PY' >"$OUT" 2>"$ERR" || fail "the dmlpl export: $(cat "$ERR")"
import sys, torch
sd = torch.load(sys.argv[1], weights_only=True)
assert not [k for k in sd if "embedding" in k], sorted(sd)
assert sorted(k for k in sd if k.startswith("fc")) == ["fc.bias", "fc.weight"], sorted(sd)
PY
  /usr/bin/python3 "$SRC/scripts/wrn.py" m.pt --compare pred.jsonl --atol 1e-4 >"$OUT" 2>"$ERR"
  CODE=$?
  expect_code 0 "PyTorch's logits of the dmlpl export equal crest's"
else
  echo "python3-torch, numpy or PIL missing: the Python check of the dmlpl export is skipped"
fi

# Refused keys and values: exit 2, naming the key; no run folder made.
for bad in dmlpl.margin=-1 dmlpl.margin=3 dmlpl.margin=abc dmlpl.metric_loss=arcface \
  dmlpl.embedding_dim=0 dmlpl.embedding_dim=2.5 dmlpl.embedding_dim=1e6 dmlpl.temperature=0 \
  dmlpl.temperature=-0.1 dmlpl.metric_weight=-1 dmlpl.metric_weight=x dmlpl.embedding=8; do
  run -q train --config "$TINY" --out bad "${DMLPL[@]}" --set "$bad"
  expect_code 2 "--set $bad"
  expect_err "${bad%%=*}" "the message names ${bad%%=*}"
done
[ -e bad ] && fail "a refused config must not create the run folder"

finish
