# train.algorithm=acr: ACR alone (one generation) and inside the CReST+ loop on the tiny config,
# with an epoch boundary where the adaptive tau changes; SIGKILL in generation 1 and --resume
# ends exactly where the uninterrupted run ends (the estimate is part of the checkpoint); the
# balanced head is what evaluate, predict and export use (the export loads in PyTorch with
# crest's logits); and the refused keys, each exit 2 naming the key.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
# Three epochs and the estimate from epoch 1 on: tau changes at step 20 of each generation.
ACR=(--set train.algorithm=acr --set train.epochs=3 --set acr.est_epoch=0
  --set train.threshold=0.6)

run -q train --config "$TINY" --out whole "${ACR[@]}"
expect_code 0 "CReST+ with acr"
grep -q "algorithm: acr" whole/config.yaml || fail "config.yaml records the algorithm"
grep -q "est_epoch: 0" whole/config.yaml || fail "config.yaml records the acr section"
for g in 0 1; do expect_learner_metrics "whole/gen_$g/metrics.jsonl" 3; done
[ -s whole/gen_0/pseudo_labels.csv ] || fail "acr inside CReST+ selects pseudo-labels"

# Kill and resume: bit for bit the uninterrupted run (weights, metrics, selection).
kill_in_generation_1 killed -q train --config "$TINY" "${ACR[@]}"
run -q train --config "$TINY" --out killed --resume "${ACR[@]}"
expect_code 0 "resumed acr run"
expect_same_generations whole killed

# ACR alone, one generation; its weights differ from FixMatch's and from the histogram count's.
# A low threshold, so that the balanced head is confident early and the estimate moves.
ALONE=("${ACR[@]}" --set crest.mode=fixmatch --set crest.generations=1 --set train.threshold=0.3)
run -q train --config "$TINY" --out alone "${ALONE[@]}"
expect_code 0 "acr alone"
run -q train --config "$TINY" --out hist "${ALONE[@]}" --set acr.class_count=histogram
expect_code 0 "acr with the histogram count"
run -q train --config "$TINY" --out fm --set train.epochs=3 --set train.threshold=0.3 \
  --set crest.mode=fixmatch --set crest.generations=1
expect_code 0 "fixmatch for comparison"
fp() { grep -o '"ema_fingerprint": *"[^"]*"' "$1/gen_0/summary.json"; }
[ -n "$(fp alone)" ] || fail "no fingerprint in alone/gen_0/summary.json"
[ "$(fp fm)" != "$(fp alone)" ] || fail "acr trained the same weights as fixmatch"
# The adaptive tau in metrics.jsonl: tau1 in epoch 0; 2/3 in epoch 1, the first past est_epoch,
# from the zeroed divergences (as train.py computes it); then the estimate's, which differs
# between the two countings.
taus() { grep -o '"acr_tau":[0-9.e-]*' "$1/gen_0/metrics.jsonl" | cut -d: -f2 | tr '\n' ' '; }
read -r t0 t1 t2 <<<"$(taus alone)"
[ "$t0" = 2.0 ] || fail "acr_tau of epoch 0 is $t0, expected tau1 = 2.0"
[ "$t1" = 0.6666666865348816 ] || fail "acr_tau of epoch 1 is $t1, expected 2/3 (float32)"
read -r h0 h1 h2 <<<"$(taus hist)"
[ -n "$t2" ] && [ "$t2" != "$h2" ] || fail "acr.class_count changed nothing (tau $t2 and $h2)"
grep -q '"acr_u_py":\[' alone/gen_0/metrics.jsonl || fail "metrics.jsonl records the estimate"

# The balanced head is the evaluated one: evaluate gives the run's own accuracy, and the export
# (fc = fc_balanced) gives crest's logits in PyTorch.
run evaluate alone --json
expect_code 0 "evaluate an acr run"
acc_run=$(grep -o '"accuracy": [0-9.e-]*' alone/gen_0/generation.json | head -1 | awk '{print $2}')
acc_eval=$(grep -o '"accuracy": [0-9.e-]*' alone/eval/test-gen0-ema/metrics.json | awk '{print $2}')
awk -v a="$acc_run" -v b="$acc_eval" 'BEGIN { exit !(a - b < 1e-9 && b - a < 1e-9) }' ||
  fail "evaluate's accuracy $acc_eval differs from the run's own $acc_run"
# Its balanced head is trained with a logit-adjusted loss: no second, post-hoc adjustment.
run evaluate alone --logit-adjust
expect_code 2 "evaluate --logit-adjust on an acr run"
grep -q '"acc_ema_la":null' alone/gen_0/metrics.jsonl || fail "acc_ema_la is null for acr"
run data synth --format folder --out imgs --classes 4 --train-per-class 2 --test-per-class 3 \
  --seed 9
expect_code 0 "images to predict"
run predict alone --folder imgs/test --logits --out pred.jsonl
expect_code 0 "predict with an acr run"
run export alone --out m.pt
expect_code 0 "export an acr run"
if python_has /usr/bin/python3 torch numpy PIL; then
  /usr/bin/python3 - m.pt <<'PY' >"$OUT" 2>"$ERR" || fail "the acr export: $(cat "$ERR")"
import sys, torch
sd = torch.load(sys.argv[1], weights_only=True)
names = sorted(k for k in sd if k.startswith("fc"))
assert names == ["fc.bias", "fc.weight"], names
PY
  /usr/bin/python3 "$SRC/scripts/wrn.py" m.pt --compare pred.jsonl --atol 1e-4 >"$OUT" 2>"$ERR"
  CODE=$?
  expect_code 0 "PyTorch's logits of the acr export (its balanced head) equal crest's"
else
  echo "python3-torch, numpy or PIL missing: the Python check of the acr export is skipped"
fi

# crest summarize names the method by its learner, and keeps CReST+ with it apart.
run summarize alone hist whole
expect_code 0 "summarize acr runs"
expect_out "| ACR |" "summarize names ACR alone"
expect_out "| CReST+ (ACR) |" "summarize names CReST+ with ACR"

# Refused keys and values: exit 2, naming the key; no run folder made.
for bad in acr.tau1=-1 acr.tau2=11 acr.tau12=abc acr.temperature=0 acr.ema_u=1 acr.ema_u=-0.1 \
  acr.est_epoch=-1 acr.est_epoch=1.5 acr.class_count=counts acr.tau=2; do
  run -q train --config "$TINY" --out bad "${ACR[@]}" --set "$bad"
  expect_code 2 "--set $bad"
  expect_err "${bad%%=*}" "the message names ${bad%%=*}"
done
run -q train --config "$TINY" --out bad "${ACR[@]}" --set train.cuda_graph=on
expect_code 2 "acr with cuda_graph on"
expect_err "train.cuda_graph=on does not work with train.algorithm=acr" "cuda_graph message"
[ -e bad ] && fail "a refused config must not create the run folder"

finish
