# bench/compare.py on the CPU with a tiny model: crest bench and the eager-PyTorch baseline side
# by side, the baseline's WRN-28-2 parameter count, and bad arguments.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"  # WRN-10-1, batch 8, ratio 2, synthetic images
COMPARE="$SRC/bench/compare.py"
BASELINE="$SRC/bench/fixmatch_baseline.py"

# run_py ARGS...: like run, for a Python script (compare.py needs only the standard library).
run_py() {
  python3 "$@" >"$OUT" 2>"$ERR"
  CODE=$?
}

run_py "$COMPARE" "$TINY" --crest "$CREST" --device cpu --steps 2 --warmup 1 --windows 1 \
  --workers 2 --out "$WORK/compare.json"
expect_code 0 "compare on the tiny config"
expect_out "(a) training step" "table row (a)"
expect_out "(b) full step" "table row (b)"
expect_out "WRN-10-1, 8 + 2 x 16 images a step" "same model and batches for both"
for row in "(a) training step" "(b) full step"; do
  grep -F -- "$row" "$OUT" | grep -Eq '[0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{2}x$' ||
    fail "row '$row' lacks crest steps/s, baseline steps/s and a ratio"
done

# The JSON: both programs' figures, positive, the ratios their quotients, the same step run.
if [ -f "$WORK/compare.json" ]; then
  python3 - "$WORK/compare.json" >"$WORK/check.txt" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
c, b = r["crest"], r["baseline"]
for key, value in (("crest full", c["full_step_per_sec"]), ("crest train", c["train_step_per_sec"]),
                   ("baseline full", b["baseline_full_step_per_sec"]),
                   ("baseline train", b["baseline_train_step_per_sec"])):
    assert value > 0, "%s step/s is %r" % (key, value)
for kind, key in (("full_step", "full_step_per_sec"), ("train_step", "train_step_per_sec")):
    expected = c[key] / b["baseline_" + key]
    assert abs(r["ratio_" + kind] - expected) < 1e-9 * expected, (kind, r["ratio_" + kind])
for key in ("model", "batch_labeled", "batch_unlabeled"):
    assert c[key] == b[key], "%s: crest %r, baseline %r" % (key, c[key], b[key])
assert b["model"] == "WRN-10-1" and b["batch_unlabeled"] == 16 and b["workers"] == 2, b
assert b["device"].startswith("cpu") and b["amp"] == "off", b
assert b["parameters"] > 0 and b["classes"] == 4, b
print(r["baseline_python"])
EOF
  [ $? -eq 0 ] || fail "compare.json: $(cat "$WORK/check.txt")"
  PYTHON_TORCH=$(tail -n 1 "$WORK/check.txt")
else
  fail "compare --out wrote no $WORK/compare.json"
  PYTHON_TORCH=/usr/bin/python3
fi

# --repeats: both programs run twice, alternating; each figure is the median of its two runs.
run_py "$COMPARE" "$TINY" --crest "$CREST" --device cpu --steps 1 --warmup 0 --windows 1 \
  --workers 1 --repeats 2 --out "$WORK/repeats.json"
expect_code 0 "compare --repeats 2"
expect_out "median of 2 alternating runs" "--repeats is stated under the table"
python3 - "$WORK/repeats.json" >"$WORK/check.txt" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["repeats"] == 2 and len(r["crest_runs"]) == 2 and len(r["baseline_runs"]) == 2, r
for key in ("train_step_per_sec", "full_step_per_sec"):
    runs = [x[key] for x in r["crest_runs"]]
    assert abs(r["crest"][key] - sum(runs) / 2) < 1e-9 * max(runs), (key, runs, r["crest"][key])
    runs = [x["baseline_" + key] for x in r["baseline_runs"]]
    got = r["baseline"]["baseline_" + key]
    assert abs(got - sum(runs) / 2) < 1e-9 * max(runs), (key, runs, got)
EOF
[ $? -eq 0 ] || fail "repeats.json: $(cat "$WORK/check.txt")"

# The baseline's model is crest's: WRN-28-2 with 10 classes has 1,467,610 parameters.
"$PYTHON_TORCH" "$BASELINE" --count-params --json >"$OUT" 2>"$ERR"
CODE=$?
expect_code 0 "baseline --count-params"
expect_out '"parameters": 1467610' "WRN-28-2 parameter count"

# Bad arguments: a clear message naming the value, and a non-zero exit.
run_py "$COMPARE" "$WORK/missing.yaml" --crest "$CREST"
expect_code 2 "missing config"
expect_err "config file $WORK/missing.yaml does not exist" "missing config message"

run_py "$COMPARE" --crest "$CREST"
expect_code 2 "neither CONFIG nor --cpu-sizes"
expect_err "give a CONFIG or --cpu-sizes" "neither CONFIG nor --cpu-sizes message"
run_py "$COMPARE" "$TINY" --cpu-sizes --crest "$CREST"
expect_code 2 "CONFIG and --cpu-sizes"
expect_err "give a CONFIG or --cpu-sizes" "CONFIG and --cpu-sizes message"
run_py "$COMPARE" "$TINY" --crest "$CREST" --repeats 0
expect_code 2 "--repeats 0"

run_py "$COMPARE" "$TINY" --crest "$CREST" --device tpu
expect_code 2 "unknown device"
expect_err "got 'tpu'" "unknown device message"

run_py "$COMPARE" "$TINY" --crest "$CREST" --set train.bogus=1
expect_code 2 "unknown config key"
expect_err "unknown key 'train.bogus'" "unknown config key message"

run_py "$COMPARE" "$TINY" --crest "$WORK/no-crest"
expect_code 2 "missing crest executable"
expect_err "crest executable $WORK/no-crest not found" "missing crest message"

"$PYTHON_TORCH" "$BASELINE" --depth 12 --width 1 --count-params >"$OUT" 2>"$ERR"
CODE=$?
expect_code 2 "baseline --depth 12"
expect_err "--depth must be 6n + 4 with n >= 1 (10, 16, 22, 28, ...), got 12" "--depth message"

"$PYTHON_TORCH" "$BASELINE" --cifar "$WORK/no-cifar" >"$OUT" 2>"$ERR"
CODE=$?
expect_code 2 "baseline --cifar missing"
expect_err "--cifar $WORK/no-cifar: no such directory" "--cifar message"

finish
