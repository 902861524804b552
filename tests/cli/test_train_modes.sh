# crest.mode fixmatch / crest / crest+ and crest.select_on val on the tiny config.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

# fixmatch: no selection, every generation trains on the original labeled set, t stays 1.
run -q train --config "$TINY" --out fm --set crest.mode=fixmatch
expect_code 0 "fixmatch mode"
[ -e fm/gen_0/pseudo_labels.csv ] && fail "fixmatch mode must not select pseudo-labels"
[ "$(awk -F, 'NR > 1 { print $2 "/" $4 }' fm/generations.csv | tr '\n' ' ')" = "1.000000/0 1.000000/0 " ] ||
  fail "fixmatch: t = 1 and no pseudo-labels in every generation"

# crest: selection without alignment (t stays 1), generation 1 trains on the selection.
run -q train --config "$TINY" --out cr --set crest.mode=crest
expect_code 0 "crest mode"
[ -s cr/gen_0/pseudo_labels.csv ] || fail "crest mode selects pseudo-labels"
sel=$(($(wc -l <cr/gen_0/pseudo_labels.csv) - 1))
[ "$(awk -F, 'NR == 3 { print $2 "/" $4 }' cr/generations.csv)" = "1.000000/$sel" ] ||
  fail "crest: generation 1 has t = 1 and the $sel selected images"
# Rates in selection.json are the ideal-profile rates for gamma 5, alpha 1/3: the rarest class
# keeps everything.
tr -d ' \n' <cr/gen_0/selection.json | grep -q '"rates":\[[0-9.,]*,1.0\]' ||
  fail "the rarest class's rate is 1"

# The median of the last 20 EMA evaluations sits next to the final accuracy (column 14).
awk -F, 'NR == 1 && $14 != "accuracy_median_last_20" { bad = 1 } NR > 1 && ($14 == "" || $14 < 0 || $14 > 1) { bad = 1 } END { exit bad }' \
  cr/generations.csv || fail "accuracy_median_last_20 missing in generations.csv"

# crest.alpha above 1: a warning that the paper's alpha is the exponent, and the rates.
run train --config "$TINY" --out alpha --set crest.mode=crest --set crest.alpha=3 --set crest.generations=1
expect_code 0 "crest.alpha=3 runs"
expect_err "crest.alpha is 3" "a warning for alpha above 1"
expect_err "alpha = 1/3" "the warning says what the reference's 3 means"
expect_err "selection rates mu_l (alpha 3)" "the per-class rates are logged"
expect_out "med20" "the printed table has the median column"

# select_on val: a validation slice is held out and picks the best generation.
run -q train --config "$TINY" --out val --set crest.select_on=val
expect_code 0 "select_on val"
awk -F, 'NR > 1 && $13 == "" { bad = 1 } END { exit bad }' val/generations.csv ||
  fail "val_mean_recall missing in generations.csv"
best=$(awk -F, 'NR > 1 && (best == "" || $13 > v) { v = $13; best = $1 } END { print best }' \
  val/generations.csv)
grep -q "\"selected_generation\": $best" val/summary.json || fail "best generation is not the val argmax ($best)"
# The labeled set shrinks by the validation slice.
[ "$(awk -F, 'NR == 2 { print $3 }' val/generations.csv)" -lt \
  "$(awk -F, 'NR == 2 { print $3 }' cr/generations.csv)" ] || fail "no validation slice held out"

# The labeled losses (train.labeled_loss): each trains CReST+ end to end with finite figures.
for loss in cb_softmax cb_sigmoid cb_focal logit_adjusted; do
  run -q train --config "$TINY" --out "loss_$loss" --set train.labeled_loss=$loss \
    --set train.epochs=1 --set train.cb_beta=0.99
  expect_code 0 "train.labeled_loss=$loss"
  grep -q "labeled_loss: $loss" "loss_$loss/config.yaml" || fail "config.yaml records $loss"
  grep -q '"loss_x":[0-9]' "loss_$loss/gen_1/metrics.jsonl" || fail "$loss: no finite loss_x"
done
run -q train --config "$TINY" --out loss_bad --set train.labeled_loss=focal
expect_code 2 "an unknown labeled loss"
expect_err "train.labeled_loss must be one of ce, cb_softmax, cb_sigmoid, cb_focal or logit_adjusted" \
  "lists the losses"

finish
