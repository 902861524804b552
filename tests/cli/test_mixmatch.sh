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
for g in 0 1; do
  m="whole/gen_$g/metrics.jsonl"
  [ "$(grep -c '"loss_x":[0-9]' "$m")" -eq 2 ] || fail "gen_$g: a finite loss_x every epoch"
  [ "$(grep -c '"loss_u":[0-9]' "$m")" -eq 2 ] || fail "gen_$g: a finite loss_u every epoch"
  [ "$(grep -c '"mask_rate":1.0,' "$m")" -eq 2 ] || fail "gen_$g: every unlabeled image counts"
  grep -q '"pseudo_label_acc":\(0\|1\)[.,]' "$m" || fail "gen_$g: pseudo-label accuracy in [0, 1]"
done
# The weight ramps up: loss = loss_x + lambda_u * ramp * loss_u differs from loss_x.
grep -q '"loss":\([0-9.e-]*\),"loss_u":[0-9.e-]*,"loss_x":\1,' whole/gen_1/metrics.jsonl &&
  fail "the unlabeled term never enters the loss"
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
expect_err "train.algorithm must be one of fixmatch or mixmatch, got 'remixmatch'" \
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
