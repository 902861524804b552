# Generation choice and model use (#30): without a validation split the chosen generation is
# called the last one (summary.json, console, evaluate/predict/export) and the run says how to
# make a split; with one (crest.select_on val) the generation selected on validation is the
# default of evaluate, predict and export; old run folders ("best_generation") still read;
# training ends with the next commands for its run folder; predict --logit-adjust (refused for
# runs whose logits already carry it), and the export sidecar's class counts, applied in
# PyTorch by scripts/logit_adjust.py and compared with crest's adjusted logits.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
FOLDER=(--set data.dataset=folder --set data.root=own --set data.protocol=as_is)

run data synth --format folder --out own --classes 4 --train-per-class 40 --test-per-class 16 \
  --imbalance-ratio 4 --unlabeled-per-class 30 --seed 5
expect_code 0 "data synth --format folder"

# ---- select_on last: "last", the hint, the next commands ----------------------------------------
run train --config "$TINY" "${FOLDER[@]}" --out "r last"
expect_code 0 "tiny run without a validation split"
expect_out "last generation 1 (crest.select_on last: no validation split)" "the last generation"
expect_out "--set crest.select_on=val" "how to make a validation split"
expect_out "DATA_ROOT/val/<class>/" "the folder a val split can come from"
tail -4 "$OUT" | head -1 | grep -qx "next:" || fail "the fourth-last line is 'next:'"
tail -3 "$OUT" | grep -qF "crest report 'r last'" || fail "the report command, quoted"
tail -2 "$OUT" | grep -qF "crest evaluate 'r last'" || fail "the evaluate command, quoted"
tail -1 "$OUT" | grep -qF "crest predict 'r last' --folder IMAGES" || fail "the predict command"
grep -q '"last_generation": 1' "r last/summary.json" || fail "summary.json names the last generation"
grep -q 'best' "r last/summary.json" && fail "summary.json of a run without val says 'best'"
mv "r last" r

run evaluate r
expect_code 0 "evaluate, default generation"
expect_out "using generation 1, the last finished one (the run has no validation split" \
  "evaluate says which generation and how to make a split"
grep -q '"generation_choice": "last"' r/eval/test-gen1-ema/metrics.json ||
  fail "metrics.json records the choice"
for choice in best last 1; do  # best: the old name, the last generation here
  run evaluate r --generation "$choice" --json
  expect_code 0 "evaluate --generation $choice"
  expect_out '"generation":1' "--generation $choice is generation 1"
done
run evaluate r --generation 0 --json
expect_code 0 "evaluate --generation 0"
expect_out '"generation_choice":"number"' "a number is a number"
run predict r --folder own/test -k 1
expect_code 0 "predict, default generation"
expect_err "using generation 1, the last finished one" "predict says which generation (stderr)"
expect_err "crest.select_on=val" "predict says how to make a split"
run export r --out m.pt
expect_code 0 "export, default generation"
expect_err "using generation 1, the last finished one" "export says which generation"
grep -q '"generation": 1' m.pt.json || fail "export of the last generation"
for bad in selected Selected -1 best2 9; do
  run evaluate r --generation "$bad"
  expect_code 2 "--generation '$bad'"
done
run predict r --folder own/test --generation selected
expect_code 2 "selected without a validation split"
expect_err "has no validation split (crest.select_on last)" "says why"
expect_err "--set crest.select_on=val" "says how to make one"
expect_err "finished: 0, 1" "lists the generations there are"

# ---- old run folders: "best_generation" --------------------------------------------------------
cp -r r old
for g in 0 1; do
  printf '{"status": "finished", "mode": "crest+", "select_on": "val", "best_generation": %s, "final": {"generation": 1}}\n' "$g" >old/summary.json
  run evaluate old --json
  expect_code 0 "old summary.json (select_on val, best_generation $g)"
  expect_out "\"generation\":$g" "the old best is the selected generation $g"
  expect_out '"generation_choice":"selected"' "called selected"
  run report old --out "old$g.html"
  expect_code 0 "report of an old run folder ($g)"
done
printf '{"status": "finished", "mode": "crest+", "select_on": "last", "best_generation": 1, "best": {"generation": 1}, "final": {"generation": 1}}\n' >old/summary.json
run evaluate old --generation best --json
expect_code 0 "old summary.json under select_on last"
expect_out '"generation_choice":"last"' "the old best of a run without val is the last"
run report old --out old-last.html
expect_code 0 "report of an old run without val"
grep -q 'no validation split: the result is the last generation' old-last.html ||
  fail "the report says the result is the last generation"
grep -q '&#9733;\|★' old-last.html && fail "the report stars a generation of a run without val"

# ---- select_on val: the selected generation is the default ------------------------------------
run train --config "$TINY" "${FOLDER[@]}" --set crest.select_on=val --set crest.val_fraction=0.2 \
  --set crest.min_pseudo_precision=0 --out v
expect_code 0 "tiny run with a validation split"
sel=$(grep -o '"selected_generation": [0-9]*' v/summary.json | awk '{print $2}')
[ -n "$sel" ] || fail "summary.json names the selected generation"
grep -q '"selected_on": "val_mean_recall"' v/summary.json || fail "on which figure"
expect_out "selected generation $sel (highest val_mean_recall, crest.select_on val)" "console"
grep -q "no validation split" "$OUT" && fail "a run with a split is told to make one"
# The selected generation is followed wherever summary.json puts it (0 or 1).
for g in "$sel" 0 1; do
  sed -i "s/\"selected_generation\": [0-9]*/\"selected_generation\": $g/" v/summary.json
  run evaluate v --json
  expect_code 0 "evaluate the selected generation ($g)"
  expect_out "\"generation\":$g" "the default is the selected generation $g"
  run predict v --folder own/test -k 1
  expect_code 0 "predict the selected generation ($g)"
  expect_err "using generation $g, selected on validation (highest val_mean_recall" "predict says so"
  run export v --out "v$g.pt"
  expect_code 0 "export the selected generation ($g)"
  grep -q "\"generation\": $g" "v$g.pt.json" || fail "export of the selected generation $g"
  grep -q '"generation_choice": "selected"' "v$g.pt.json" || fail "the sidecar says selected"
done
run evaluate v --generation last --json
expect_out '"generation":1' "--generation last is still the last"

# ---- the pseudo-labels' precision without labels: estimated, recorded, warned about -------------
# Without a split: on the labeled training images, said to be trained on.
grep -q '"precision_estimate"' r/gen_0/selection.json || fail "no estimate without truth"
grep -q '"trained_on": true' r/gen_0/selection.json || fail "the estimate says it is trained on"
grep -q 'the labeled training images (trained on' r/gen_0/selection.json ||
  fail "the estimate names its images"
# With a split: on the validation images, not trained on.
grep -q '"trained_on": false' v/gen_0/selection.json || fail "the val estimate is not trained on"
grep -q 'the validation split' v/gen_0/selection.json || fail "the val estimate names its images"
# Warned about (log and selection.json) exactly when poor; never under threshold 0; not for the
# last generation, whose selection feeds nothing.
run train --config "$TINY" "${FOLDER[@]}" --set crest.select_on=val --set crest.val_fraction=0.2 \
  --set crest.min_pseudo_precision=1 --out p1
expect_code 0 "run with crest.min_pseudo_precision 1"
for run_dir in v p1 r; do
  poor=$(grep -c '"poor": true' "$run_dir/gen_0/selection.json")
  warned=$(grep -c "generation 0's pseudo-labels look poor" "$run_dir/crest.log")
  [ "$poor" = "$warned" ] || fail "$run_dir: poor $poor but warned $warned"
  grep -q "generation 1's pseudo-labels look poor" "$run_dir/crest.log" &&
    fail "$run_dir: the last generation's selection was warned about"
done
[ "$(grep -c '"poor": true' v/gen_0/selection.json)" = 0 ] || fail "threshold 0 is poor"
[ "$(grep -c '"poor": true' p1/gen_0/selection.json)" = 1 ] || fail "threshold 1 is not poor"
grep -q "below crest.min_pseudo_precision 1.00" p1/crest.log || fail "the warning names the key"
run report p1
expect_code 0 "report of a run with a poor selection"
grep -q 'id="poor-selection"' p1/report.html || fail "the report warns about the poor selection"
grep -q 'Estimated precision of the selected pseudo-labels' p1/report.html ||
  fail "the report charts the estimate"

# ---- predict --logit-adjust, the sidecar's counts, PyTorch ---------------------------------------
run predict r --folder own/test --logits --out plain.jsonl
expect_code 0 "predict, plain logits"
run predict r --folder own/test --logit-adjust --logits --out adjusted.jsonl
expect_code 0 "predict --logit-adjust"
cmp -s plain.jsonl adjusted.jsonl && fail "--logit-adjust changed nothing"
counts=$(awk -F, 'NR > 1 { printf "%s%s", sep, $NF; sep = "," }' r/gen_1/labeled_distribution.csv)
tr -d ' \n' <m.pt.json | grep -qF "\"labeled_class_counts\":[$counts]" ||
  fail "the sidecar's labeled_class_counts are gen_1's labeled set ($counts)"
grep -q '"already_applied": false' m.pt.json || fail "the sidecar says the adjustment is optional"
if python_has /usr/bin/python3 torch numpy PIL; then
  /usr/bin/python3 "$SRC/scripts/logit_adjust.py" m.pt --compare adjusted.jsonl >"$OUT" 2>"$ERR"
  CODE=$?
  expect_code 0 "PyTorch's adjusted logits with the sidecar's counts equal crest's"
  expect_out "top-1 equal" "the same classes"
  /usr/bin/python3 "$SRC/scripts/logit_adjust.py" m.pt --compare plain.jsonl >"$OUT" 2>"$ERR"
  CODE=$?
  expect_code 1 "the adjusted logits differ from the plain ones"
  /usr/bin/python3 "$SRC/scripts/logit_adjust.py" m.pt --compare own >"$OUT" 2>"$ERR"
  CODE=$?
  expect_code 2 "a folder is not a JSONL file"
else
  echo "python3-torch, numpy or PIL missing: the Python check of the adjustment is skipped"
fi

# Runs whose logits already carry the adjustment: refused, nothing written. (The refusal reads
# the config, not the weights: a few steps are enough.)
for tau in 1 2.5; do
  run -q train --config "$TINY" "${FOLDER[@]}" --set crest.generations=1 --set train.epochs=1 \
    --set train.steps_per_epoch=2 --set train.labeled_loss=logit_adjusted --set train.la_tau=$tau \
    --out "la$tau"
  expect_code 0 "logit_adjusted run (tau $tau)"
  run predict "la$tau" --folder own/test --logit-adjust --out "la$tau.csv"
  expect_code 2 "predict --logit-adjust of a logit_adjusted run (tau $tau)"
  expect_err "count the prior twice" "says why"
  expect_err "predict without --logit-adjust" "says what to do"
  [ -e "la$tau.csv" ] && fail "the refused prediction wrote a file (tau $tau)"
  run export "la$tau" --out "la$tau.pt"
  expect_code 0 "export of a logit_adjusted run (tau $tau)"
  grep -q '"already_applied": true' "la$tau.pt.json" || fail "the sidecar says it is applied"
done

finish
