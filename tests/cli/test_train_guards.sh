# crest train refuses what would lose or mix up results: a folder holding another run, a resume
# with another config, a second writer, and stops cleanly on SIGINT (exit 130, checkpoint kept).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

run -q train --config "$TINY" --out r --set crest.generations=1
expect_code 0 "first run"
expect_out "last generation 0" "summary line"
for f in config.yaml split_manifest.json crest.log generations.csv summary.json \
         gen_0/metrics.jsonl gen_0/per_class.csv gen_0/confusion.csv gen_0/summary.json \
         gen_0/checkpoint.pt gen_0/selection.json gen_0/pseudo_labels.csv; do
  [ -s "r/$f" ] || fail "missing r/$f"
done
[ "$(wc -l <r/gen_0/metrics.jsonl)" -eq 2 ] || fail "one metrics line per epoch expected"
head -1 r/gen_0/per_class.csv | grep -q "^class,name,precision,recall,f1,support" ||
  fail "per_class.csv header"

before=$(md5sum r/summary.json)
run -q train --config "$TINY" --out r --set crest.generations=1
expect_code 2 "folder already holds a run"
expect_err "already holds a run" "existing run"
expect_err "--resume" "existing run hints at --resume"
[ "$(md5sum r/summary.json)" = "$before" ] || fail "the refusal changed the run"

run -q train --config "$TINY" --out r --set crest.generations=1 --set train.lr=0.1 --resume
expect_code 2 "resume with another config"
expect_err "belongs to another config" "config mismatch"
expect_err "train.lr: run has 0.03, now 0.1" "config mismatch names the key"

# A second writer on a live run folder is refused, naming the process that holds it.
"$CREST" -q train --config "$TINY" --out live --set train.epochs=200 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 500); do [ -f live/gen_0/metrics.jsonl ] && break; sleep 0.01; done
run -q train --config "$TINY" --out live --set train.epochs=200 --resume
expect_code 2 "second writer"
expect_err "in use by another process (pid $pid" "lock names the holder"

# SIGINT: checkpoint, exit 130, and --resume continues from there.
sleep 0.5
kill -INT "$pid"
wait "$pid"
code=$?
[ "$code" -eq 130 ] || fail "SIGINT should exit 130, got $code"
[ -f live/gen_0/checkpoint.pt ] || fail "SIGINT left no checkpoint"
grep -q "stopped at step" live/crest.log || fail "the log does not say where it stopped"

# A diverging run stops with a clear error and keeps its last good checkpoint.
run -q train --config "$TINY" --out nan --set train.lr=100 --set crest.generations=1
expect_code 1 "non-finite loss"
expect_err "non-finite" "non-finite loss message"

# Bad device.
run -q train --config "$TINY" --out dev --device cuda:7
expect_code 2 "unusable device"
expect_err "run.device" "device error names the key"

finish
