# Using a trained model: crest evaluate, predict and export on a tiny folder run, the export
# loaded by Debian's PyTorch (scripts/wrn.py) with logits equal to crest's within 1e-4, and the
# error paths (no such generation, no checkpoint, an image that does not decode, classes the
# run does not know), each exit 2 naming what is wrong.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

run data synth --format folder --out own --classes 4 --train-per-class 40 --test-per-class 16 \
  --imbalance-ratio 4 --unlabeled-per-class 30 --seed 5
expect_code 0 "data synth --format folder"
run -q train --config "$TINY" --set data.dataset=folder --set data.root=own \
  --set data.protocol=as_is --out r
expect_code 0 "tiny training run"

# evaluate: the run's test set, the table, the files, JSON, logit adjustment, another folder.
run evaluate r
expect_code 0 "evaluate (last generation, EMA)"
expect_out "generation 1 (ema model) on test: 64 images" "the header names generation and data"
expect_out "confusion matrix" "the confusion matrix"
for f in metrics.json per_class.csv confusion.csv; do
  [ -s "r/eval/test-gen1-ema/$f" ] || fail "evaluate wrote no r/eval/test-gen1-ema/$f"
done
acc_summary=$(grep -o '"accuracy": [0-9.e-]*' r/gen_1/generation.json | head -1 | awk '{print $2}')
acc_eval=$(grep -o '"accuracy": [0-9.e-]*' r/eval/test-gen1-ema/metrics.json | awk '{print $2}')
awk -v a="$acc_summary" -v b="$acc_eval" 'BEGIN { exit !(a - b < 1e-9 && b - a < 1e-9) }' ||
  fail "evaluate's accuracy $acc_eval differs from the run's own $acc_summary"
run evaluate r --generation 0 --model raw --logit-adjust --json
expect_code 0 "evaluate generation 0, raw, logit-adjusted, JSON"
expect_out '"logit_adjusted":true' "JSON says logit-adjusted"
[ -d r/eval/test-gen0-raw-logit-adjusted ] || fail "the logit-adjusted evaluation folder"
run evaluate r --generation best --folder own/test --name heldout
expect_code 0 "evaluate on a labeled folder"
[ -s r/eval/heldout/metrics.json ] || fail "--name names the folder"

# predict: CSV on stdout, JSONL with logits, files and folders.
run predict r --image own/test/disc/000000.png --image "own/test/ring/$(ls own/test/ring | head -1)" -k 2
expect_code 0 "predict two images"
[ "$(wc -l <"$OUT")" -eq 5 ] || fail "2 images x top-2 + header = 5 lines"
expect_out "file,rank,class,name,probability" "the CSV header"
run predict r --folder own/test --logits --out pred.jsonl
expect_code 0 "predict a folder to JSONL"
[ "$(wc -l <pred.jsonl)" -eq 64 ] || fail "one JSONL line per test image"

# export: both formats load in PyTorch and give crest's logits.
for format in pt safetensors; do
  run export r --format "$format" --out "m.$format"
  expect_code 0 "export --format $format"
  [ -s "m.$format.json" ] || fail "the $format sidecar"
  grep -q '"classes"' "m.$format.json" || fail "the sidecar names the classes"
  if python_has /usr/bin/python3 torch numpy PIL; then
    /usr/bin/python3 "$SRC/scripts/wrn.py" "m.$format" --compare pred.jsonl --atol 1e-4 >"$OUT" 2>"$ERR"
    CODE=$?
    expect_code 0 "PyTorch's logits of the $format export equal crest's within 1e-4"
  else
    echo "python3-torch, numpy or PIL missing: the Python check of the $format export is skipped"
  fi
done
[ -s r/export/gen_1-ema.pt ] || run export r  # the default place
run export r
expect_code 0 "export to the default place"
[ -s r/export/gen_1-ema.pt ] || fail "the default export file r/export/gen_1-ema.pt"

# Errors: exit 2, naming what is wrong.
run evaluate r --generation 7
expect_code 2 "no such generation"
expect_err "generation 7" "names the generation"
expect_err "finished: 0, 1" "lists the finished ones"
run predict r --generation last --image nosuch.png
expect_code 2 "an image that does not exist"
expect_err "nosuch.png" "names the file"
echo "not an image" >broken.png
run predict r --image broken.png
expect_code 2 "an image that does not decode"
expect_err "broken.png" "names the file"
mkdir -p other/zebra && cp own/test/disc/000000.png other/zebra/
run evaluate r --folder other
expect_code 2 "a folder with a class the run does not know"
expect_err "zebra" "names the class"
run export r --format onnx
expect_code 2 "an unknown export format"
mv r/gen_1/checkpoint.pt r/gen_1/moved.pt
run evaluate r
expect_code 2 "a generation without its checkpoint"
expect_err "gen_1/checkpoint.pt is missing" "names the missing checkpoint"
mv r/gen_1/moved.pt r/gen_1/checkpoint.pt
cp r/gen_0/checkpoint.pt r/gen_1/checkpoint.pt
run export r
expect_code 2 "a checkpoint of another generation"
expect_err "fingerprint" "the fingerprint check names the mismatch"
run evaluate r --generation abc
expect_code 2 "a generation that is not a number, selected or last"
expect_err "--generation must be a generation number, selected or last, got 'abc'" "says what it takes"
run evaluate r --model average
expect_code 2 "an unknown --model"
expect_err "--model must be ema or raw" "names the choices"
run evaluate r --generation 0 --name ../elsewhere
expect_code 2 "--name that is a path"
expect_err "--name must be a plain folder name" "says what --name takes"
run evaluate r --generation 0 --folder own/test --set data.fold=2
expect_code 2 "--folder with --set"
expect_err "either --folder or --config/--set" "says to pick one"
run predict r
expect_code 2 "predict without images"
expect_err "give image files or --folder DIR" "says what predict needs"
run predict r --folder own/test --top-k 0
expect_code 2 "--top-k 0"
expect_err "--top-k must be >= 1" "names the option"
run predict r --folder own/test --out pred.txt
expect_code 2 "--out of another kind"
expect_err "--out must name a .csv or .jsonl file" "names the kinds"
run predict r --folder own/test --logits
expect_code 2 "--logits without JSONL"
expect_err "--logits needs --out FILE.jsonl" "says what --logits needs"
run evaluate nowhere
expect_code 2 "not a run folder"
expect_err "nowhere is not a crest run folder" "names the folder"

finish
