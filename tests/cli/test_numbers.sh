# #28 kind 5: numbers are defined and stated. An evaluation on a folder without one class shows
# that class's recall as n/a (null in JSON, empty in CSV) and says over how many classes the mean
# recall is taken; config values that would make the arithmetic non-finite exit 2 naming the key,
# the value and the range; MixMatch with a tiny sharpening temperature trains to finite numbers.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
PY=/usr/bin/python3

run data synth --format folder --out own --classes 4 --train-per-class 24 --test-per-class 6 \
  --imbalance-ratio 2 --seed 4
expect_code 0 "data synth --format folder"
run -q train --config "$TINY" --set data.dataset=folder --set data.root=own \
  --set data.protocol=as_is --set crest.mode=fixmatch --set crest.generations=1 --out r
expect_code 0 "a tiny run"

# A test folder without its last class (and, second, without two classes).
missing=$(ls own/test | tail -1)
mkdir held && cp -r own/test/* held/ && rm -r "held/$missing"
run evaluate r --folder held --name held
expect_code 0 "evaluate on a folder without one class"
expect_out "(over 3 of 4 classes; no test images: $missing)" "the mean recall states its classes"
grep -E "^3 +$missing +.* n/a +" "$OUT" >/dev/null || fail "the missing class's recall is n/a"
$PY - r/eval/held "$missing" <<'PYEOF' || fail "metrics.json and per_class.csv of the evaluation"
import csv, json, sys
d, missing = sys.argv[1], sys.argv[2]
m = json.load(open(f"{d}/metrics.json"))
assert m["recall"][3] is None, m["recall"]
assert m["classes_without_test_images"] == [missing], m
assert m["mean_recall_classes"] == 3, m
defined = [r for r in m["recall"] if r is not None]
assert abs(m["mean_recall"] - sum(defined) / len(defined)) < 1e-9, "the mean is the column's mean"
rows = list(csv.DictReader(open(f"{d}/per_class.csv", newline="")))
assert rows[3]["recall"] == "" and rows[3]["support"] == "0", rows[3]
assert all(r["recall"] != "" for r in rows[:3])
PYEOF
run evaluate r --folder held --name held_json --json
expect_code 0 "evaluate --json"
expect_out '"classes_without_test_images":["'"$missing"'"]' "JSON names the missing class"
rm -r "held/$(ls held | head -1)"
run evaluate r --folder held --name held2
expect_code 0 "evaluate on a folder without two classes"
expect_out "(over 2 of 4 classes; no test images: " "two classes missing"

# Config values that passed before but broke the arithmetic: exit 2, key, value, range.
check_range() {  # KEY=VALUE RANGE
  run print-config --config "$TINY" --set "$1"
  expect_code 2 "$1"
  expect_err "${1%%=*} must be in $2, got '${1#*=}'" "$1 names the key, the range and the value"
}
check_range train.lr=1e39 "[1e-12, 100]"
check_range train.lr=1e-30 "[1e-12, 100]"
check_range pretrain.lr=1000 "[1e-12, 100]"
check_range train.weight_decay=5 "[0, 1]"
check_range train.lambda_u=1e300 "[0, 10000]"
check_range train.mixmatch_lambda_u=1e39 "[0, 10000]"
check_range train.mixup_alpha=1e300 "(0, 1000]"
check_range train.mixmatch_temperature=0 "(0, 1]"

# MixMatch with T = 1e-9 (and 1e-300): finite losses, no divergence.
for T in 1e-9 1e-300; do
  run -q train --config "$TINY" --set train.algorithm=mixmatch --set train.unlabeled_ratio=1 \
    --set crest.mode=fixmatch --set crest.generations=1 --set train.epochs=1 \
    --set train.mixmatch_temperature=$T --out "mm_$T"
  expect_code 0 "mixmatch with temperature $T"
  $PY - "mm_$T/gen_0/metrics.jsonl" <<'PYEOF' || fail "non-finite losses with T = $T"
import json, math, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert lines and all(isinstance(l["loss"], float) and math.isfinite(l["loss"]) for l in lines)
PYEOF
done

finish
