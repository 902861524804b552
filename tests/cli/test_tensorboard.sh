# run.tensorboard: event files in RUN/tb/gen_K/ whose every record has good CRCs, whose scalars
# equal metrics.jsonl, selection.json and generation.json, a new file per generation on resume,
# none with run.tensorboard=false, and a folder that cannot be written or a full disk warns once
# without stopping the run. Skipped (exit 77) when crest was built without Protobuf.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
READER="$SRC/scripts/read_tfevents.py"

run --version
if ! grep -qF "TensorBoard: yes" "$OUT"; then
  echo "SKIP: this crest was built without Protobuf (no TensorBoard support)"
  exit 77
fi
# Decode with python3-protobuf where some python3 has it (Debian's, when pyenv's comes first on
# PATH), else with the reader's own wire-format decoder.
PYTHON=python3
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import google.protobuf' 2>/dev/null &&
    command -v protoc >/dev/null; then
    PYTHON=$candidate
    break
  fi
done

# check_run DIR [--allow-cut]: every events file of DIR/tb against the run's own files.
check_run() {
  "$PYTHON" "$READER" --json "${@:2}" "$1/tb" >"$WORK/events.json" 2>"$WORK/reader.err" ||
    { fail "$1: read_tfevents: $(cat "$WORK/reader.err")"; return; }
  "$PYTHON" - "$1" "$WORK/events.json" >"$WORK/check.txt" 2>&1 <<'EOF'
import glob, json, math, os, re, struct, sys

run, events_path = sys.argv[1], sys.argv[2]
result = json.load(open(events_path))
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
names = re.compile(r"events\.out\.tfevents\.\d+\.[^/]+\.\d+\.\d+$")
by_gen = {}
for path, entry in result["files"].items():
    assert names.search(path), f"{path}: not TensorBoard's file name"
    assert entry["file_version"] == "brain.Event:2", f"{path}: first record {entry['file_version']}"
    gen = os.path.basename(os.path.dirname(path))
    by_gen.setdefault(gen, []).append(entry["events"])
gens = sorted(os.path.basename(d) for d in glob.glob(os.path.join(run, "gen_*")))
assert sorted(by_gen) == gens, f"tb/ has {sorted(by_gen)}, the run {gens}"

def close(a, b):
    return math.isclose(a, f32(b), rel_tol=1e-6, abs_tol=1e-7)

for gen, files in sorted(by_gen.items()):
    classes = json.load(open(os.path.join(run, gen, "selection.json")))["classes"]
    expected = {}  # (step, tag) -> value
    for text in open(os.path.join(run, gen, "metrics.jsonl")):
        m = json.loads(text)
        s = m["step"]
        for tag, key in [("train/loss", "loss"), ("train/loss_x", "loss_x"),
                         ("train/loss_u", "loss_u"), ("train/mask_rate", "mask_rate"),
                         ("train/pseudo_label_acc", "pseudo_label_acc"), ("train/lr", "lr"),
                         ("test/acc_raw", "acc_raw"), ("test/acc_ema", "acc_ema"),
                         ("test/acc_raw_logit_adjusted", "acc_raw_la"),
                         ("test/acc_ema_logit_adjusted", "acc_ema_la"),
                         ("test/mean_recall_ema", "mean_recall_ema")]:
            if m[key] is not None:
                expected[(s, tag)] = m[key]
        for name, recall in zip(classes, m["per_class_recall_ema"]):
            expected[(s, "recall_ema/" + name)] = recall
    last = s
    record = json.load(open(os.path.join(run, gen, "generation.json")))
    row = record["row"]
    for tag, key in [("generation/accuracy", "accuracy"), ("generation/mean_recall", "mean_recall"),
                     ("generation/mean_precision", "mean_precision"),
                     ("generation/minority_recall", "minority_recall"),
                     ("generation/majority_recall", "majority_recall"),
                     ("generation/labeled", "labeled")]:
        expected[(last, tag)] = row[key]
    selection = json.load(open(os.path.join(run, gen, "selection.json")))
    for name, sel, pred in zip(classes, selection["selected"], selection["predicted"]):
        expected[(last, "selection/selected/" + name)] = sel
        expected[(last, "selection/predicted/" + name)] = pred
    expected[(last, "selection/selected_total")] = sum(selection["selected"])
    expected[(last, "selection/precision")] = selection["precision_total"]
    # Every scalar of every file equals the run's record at its step (a resume repeats the
    # steps after its checkpoint with the same values), and together they hold every one.
    seen = set()
    for events in files:
        for e in events:
            key = (e["step"], e["tag"])
            assert key in expected, f"{gen}: unexpected scalar {key}"
            assert close(e["value"], expected[key]), f"{gen} {key}: {e['value']} != {expected[key]}"
            seen.add(key)
    missing = sorted(set(expected) - seen)
    assert not missing, f"{gen}: missing {missing[:5]}"
print(result["decoder"], {g: len(f) for g, f in by_gen.items()})
EOF
  [ $? -eq 0 ] || fail "$1: $(cat "$WORK/check.txt")"
}

# A finished run: one events file per generation, everything equal to the run's files.
run train --config "$TINY" --out r
expect_code 0 "a tiny run with run.tensorboard on (the default)"
[ "$(find r/tb -name 'events.out.tfevents.*' | wc -l)" -eq 2 ] || fail "one events file per generation"
check_run r
grep -q "ema logit-adj" r/crest.log || fail "evaluation lines name the logit-adjusted accuracy"

# A scalar per class: the tags name the classes of the run.
"$PYTHON" "$READER" r/tb >"$WORK/scalars.txt" || fail "read_tfevents on r/tb"
for tag in train/loss test/acc_ema test/acc_ema_logit_adjusted recall_ema/disc \
  selection/selected/ring selection/predicted/disc generation/accuracy; do
  grep -q " $tag " "$WORK/scalars.txt" || fail "no scalar tagged $tag"
done

# Off: no tb/ folder.
run -q train --config "$TINY" --out off --set run.tensorboard=false --set crest.generations=1
expect_code 0 "run.tensorboard=false"
[ -e off/tb ] && fail "run.tensorboard=false must not write tb/"

# Killed in generation 1 and resumed: generation 1 gets a second events file; both read back,
# and every value equals metrics.jsonl (the redone steps repeat the same values).
kill_in_generation_1 k train --config "$TINY" --set run.checkpoint_every=5
run train --config "$TINY" --out k --set run.checkpoint_every=5 --resume
expect_code 0 "resume"
[ "$(find k/tb/gen_0 -name 'events.out.tfevents.*' | wc -l)" -eq 1 ] ||
  fail "a finished generation gets no new events file on resume"
[ "$(find k/tb/gen_1 -name 'events.out.tfevents.*' | wc -l)" -eq 2 ] ||
  fail "the resumed generation gets a new events file beside the old one"
check_run k --allow-cut

# tb/ cannot be written (a file stands in its place): one warning, and the run finishes.
kill_in_generation_1 w train --config "$TINY" --set run.tensorboard=false
rm -rf w/tb
echo "not a folder" >w/tb
run train --config "$TINY" --out w --resume --set run.tensorboard=true
expect_code 0 "a tb/ that cannot be written does not stop training"
expect_err "TensorBoard:" "a warning says TensorBoard output stopped"
[ "$(grep -c "TensorBoard:" "$ERR")" -eq 1 ] || fail "exactly one TensorBoard warning"
[ -f w/summary.json ] || fail "the run did not finish"

# A full disk under tb/ mid-generation (a 4 KiB tmpfs mounted on RUN/tb before a resume, where
# mounting is allowed: root): one warning naming the reason, the run finishes, and the events
# file holds whole records up to where the disk filled.
# Four epochs: generation 1 writes about 10 KiB of events, the first epoch's 2.6 KiB fit.
kill_in_generation_1 kf train --config "$TINY" --set train.epochs=4
if mount -t tmpfs -o size=4k tmpfs kf/tb 2>/dev/null; then
  trap 'umount "$WORK/kf/tb" 2>/dev/null; rm -rf "$WORK"' EXIT
  run train --config "$TINY" --out kf --set train.epochs=4 --resume
  expect_code 0 "a full disk under tb/ does not stop training"
  [ "$(grep -c "TensorBoard:" "$ERR")" -eq 1 ] || fail "exactly one TensorBoard warning"
  expect_err "No space left on device" "the warning gives the reason"
  [ -f kf/summary.json ] || fail "the run did not finish"
  "$PYTHON" "$READER" --allow-cut kf/tb >"$WORK/scalars.txt" 2>"$WORK/reader.err" ||
    fail "the events written before the disk filled up: $(cat "$WORK/reader.err")"
  grep -q " train/loss " "$WORK/scalars.txt" || fail "no scalar made it before the disk filled"
  umount kf/tb
else
  echo "note: no tmpfs here (needs root with mount rights); the full-disk check is left out"
fi

finish
