# train.algorithm=mixmatch: CReST+ with MixMatch end to end on the tiny config, SIGKILL in
# generation 1 and --resume ends exactly where the uninterrupted run ends, the refused
# combinations, bench, and the paper-size preset.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
# A short ramp-up so that the unlabeled weight changes within the run (and a resume must restore
# the step it is computed from).
MM=(--set train.algorithm=mixmatch --set train.unlabeled_ratio=1 --set train.mixmatch_k=2
  --set train.mixmatch_rampup_steps=15 --set train.mixmatch_lambda_u=10)

run -q train --config "$TINY" --out whole "${MM[@]}"
expect_code 0 "CReST+ with mixmatch"
grep -q "algorithm: mixmatch" whole/config.yaml || fail "config.yaml records the algorithm"
# Every epoch's line of metrics.jsonl, parsed as JSON: finite losses, every unlabeled image
# counted (MixMatch masks nothing), a pseudo-label accuracy in [0, 1], and the unlabeled term in
# the loss: loss = loss_x + lambda_u * ramp * loss_u at each step, the ramp above 0 from the second
# step on, so an epoch's mean loss exceeds its mean loss_x.
check_metrics() {
  local problem
  problem=$(python3 - "$1" 2>&1 <<'PY'
import json, math, sys
lines = [json.loads(text) for text in open(sys.argv[1]) if text.strip()]
if len(lines) != 2:
    sys.exit(f"{len(lines)} lines, expected one per epoch (2)")
for i, m in enumerate(lines, 1):
    for key in ("loss", "loss_x", "loss_u", "mask_rate", "pseudo_label_acc"):
        v = m.get(key)
        if type(v) not in (int, float) or not math.isfinite(v):
            sys.exit(f"line {i}: {key} is {v!r}, not a finite number")
    if m["mask_rate"] != 1.0:
        sys.exit(f"line {i}: mask_rate {m['mask_rate']}, expected 1.0 (every unlabeled image)")
    if not 0.0 <= m["pseudo_label_acc"] <= 1.0:
        sys.exit(f"line {i}: pseudo_label_acc {m['pseudo_label_acc']} outside [0, 1]")
    if not m["loss_u"] > 0.0:
        sys.exit(f"line {i}: loss_u {m['loss_u']} is not positive")
    if not m["loss"] - m["loss_x"] > 1e-9:
        sys.exit(f"line {i}: loss {m['loss']}, loss_x {m['loss_x']}: the unlabeled term never "
                 "enters the loss")
PY
  ) || fail "$1: ${problem:-python3 failed}"
}
for g in 0 1; do check_metrics "whole/gen_$g/metrics.jsonl"; done
# The selection of generation 0 joins generation 1's labeled set.
[ -s whole/gen_0/pseudo_labels.csv ] || fail "mixmatch CReST+ selects pseudo-labels"
sel=$(($(wc -l <whole/gen_0/pseudo_labels.csv) - 1))
[ "$sel" -gt 0 ] || fail "no pseudo-label selected"
[ "$(awk -F, 'NR == 3 { print $4 }' whole/generations.csv)" = "$sel" ] ||
  fail "generation 1 trains on the $sel selected images"

# Kill and resume: bit for bit the uninterrupted run (weights, metrics, selection).
kill_in_generation_1 killed -q train --config "$TINY" "${MM[@]}"
run -q train --config "$TINY" --out killed --resume "${MM[@]}"
expect_code 0 "resumed mixmatch run"
expect_same_generations whole killed
# The fingerprints differ from FixMatch's on the same config (the algorithm reached the step).
run -q train --config "$TINY" --out fm --set train.unlabeled_ratio=1 --set crest.generations=1
expect_code 0 "fixmatch for comparison"
fp() { grep -o '"ema_fingerprint": *"[^"]*"' "$1"; }
[ "$(fp fm/gen_0/summary.json)" != "$(fp whole/gen_0/summary.json)" ] ||
  fail "mixmatch trained the same weights as fixmatch"

# Refused combinations: exit 2, naming the keys and what to do.
run -q train --config "$TINY" --out bad "${MM[@]}" --set train.labeled_loss=cb_softmax
expect_code 2 "mixmatch with a class-balanced labeled loss"
expect_err "train.labeled_loss must be ce with train.algorithm=mixmatch" "labeled loss message"
run -q train --config "$TINY" --out bad --set train.algorithm=mixmatch --set train.unlabeled_ratio=0
expect_code 2 "mixmatch without unlabeled images"
expect_err "train.unlabeled_ratio must be >= 1 with train.algorithm=mixmatch" "ratio message"
run -q train --config "$TINY" --out bad "${MM[@]}" --set train.cuda_graph=on
expect_code 2 "mixmatch with cuda_graph on"
expect_err "train.cuda_graph=on does not work with train.algorithm=mixmatch" "cuda_graph message"
run -q train --config "$TINY" --out bad --set train.algorithm=remixmatch
expect_code 2 "an unknown algorithm"
expect_err "train.algorithm must be one of fixmatch, mixmatch, acr, semi, daso or dmlpl, got 'remixmatch'" \
  "lists the algorithms"
[ -e bad ] && fail "a refused config must not create the run folder"

# bench times the MixMatch step.
run -q bench --config "$TINY" "${MM[@]}" --steps 2 --warmup 1 --windows 1 --json
expect_code 0 "bench with mixmatch"
expect_out '"algorithm":"mixmatch"' "bench JSON names the algorithm"
expect_out '"cuda_graph":false' "mixmatch runs eagerly"

# The paper-size preset is valid and asks for MixMatch with mu = 1.
run print-config --config "$SRC/configs/cifar10lt-mixmatch.yaml"
expect_code 0 "preset cifar10lt-mixmatch"
expect_out "algorithm: mixmatch" "the preset's algorithm"
expect_out "unlabeled_ratio: 1" "the preset's unlabeled ratio"

finish
