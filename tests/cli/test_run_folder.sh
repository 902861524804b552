# The run folder is the user's: --out and --device are taken literally, a folder that holds no
# crest run is never written into, a first run that fails before training leaves nothing that
# blocks the corrected rerun, --resume needs a run (and finds its config itself), and
# `crest data prepare --force` neither replaces a run's split nor writes into a live run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
G1=(--config "$TINY" --set crest.generations=1)

# --out is a path, not YAML: "#3" is not a comment.
mkdir runs
run -q train "${G1[@]}" --out "runs/exp #3"
expect_code 0 "--out with '#'"
[ -s "runs/exp #3/summary.json" ] || fail "the run is not in 'runs/exp #3'"
[ -e runs/exp ] && fail "--out 'runs/exp #3' wrote to runs/exp"
run -q train "${G1[@]}" --out "a: b" --set train.epochs=1
expect_code 0 "--out with ': '"
[ -s "a: b/config.yaml" ] || fail "the run is not in 'a: b'"
grep -qF "out_dir: 'a: b'" "a: b/config.yaml" || grep -qF 'out_dir: "a: b"' "a: b/config.yaml" ||
  fail "config.yaml records the folder as given"
# --device too: a value YAML would turn into something else is refused as written.
run -q train "${G1[@]}" --out devrun --device "cpu #x"
expect_code 2 "--device taken literally"
expect_err "cpu #x" "the device error quotes the value as given"

# A sweep's points stay inside the sweep folder, whatever its name.
cat >grid.yaml <<GRID
base: $TINY
grid:
  data.fold: [1]
set: {crest.generations: 1, train.epochs: 1}
GRID
run sweep --grid grid.yaml --launcher local --out "sw #1"
expect_code 0 "sweep into 'sw #1'"
[ -s "sw #1/fold=1/summary.json" ] || fail "the point did not run in 'sw #1/fold=1'"
[ -e sw ] && fail "a point escaped the sweep folder to 'sw'"
# A sweep into someone else's folder is refused, and nothing is written there.
mkdir theirs
echo notes >theirs/notes.txt
run sweep --grid grid.yaml --launcher local --out theirs
expect_code 2 "a sweep into a folder that is not a sweep's"
expect_err "theirs holds notes.txt but no sweep.json" "the message names the folder and the entry"
[ "$(ls -A theirs)" = "notes.txt" ] || fail "the sweep wrote into someone else's folder: $(ls -A theirs)"
# The same grid again into its own folder continues (sweep.json is there).
run sweep --grid grid.yaml --launcher local --out "sw #1"
expect_code 0 "a second sweep into its own folder"

# A non-empty folder that holds no crest run is refused, and nothing in it changes.
mkdir mine
echo '{"mine": true}' >mine/summary.json
before=$(ls -A mine | md5sum; md5sum mine/summary.json)
run -q train "${G1[@]}" --out mine
expect_code 2 "a folder with someone else's summary.json"
expect_err "mine is not empty and holds no crest run (it has 'summary.json')" "names the entry"
expect_err "choose another --out" "says what to do"
[ "$(ls -A mine | md5sum; md5sum mine/summary.json)" = "$before" ] || fail "the refusal wrote to mine"
run -q train "${G1[@]}" --out mine --resume
expect_code 2 "--resume into a foreign folder"
[ "$(ls -A mine | md5sum; md5sum mine/summary.json)" = "$before" ] || fail "the resume wrote to mine"
run data prepare --config "$TINY" --set run.out_dir=mine
expect_code 2 "data prepare into a foreign folder"
expect_err "holds no crest run" "data prepare: names the problem"
[ "$(ls -A mine | md5sum; md5sum mine/summary.json)" = "$before" ] || fail "prepare wrote to mine"
# The file system root: nothing is written there.
if [ ! -e /config.yaml ] && [ ! -e /gen_0 ]; then
  run -q train "${G1[@]}" --out /
  expect_code 2 "--out /"
  expect_err "the run folder / is not empty and holds no crest run" "--out /: message"
  [ -e /config.yaml ] && fail "--out / wrote /config.yaml"
  [ -e /gen_0 ] && fail "--out / wrote /gen_0"
fi

# A first run that fails before training (wrong data.root) does not poison its folder.
run data synth --out c10 --classes 4 --train-per-class 40 --test-per-class 10
expect_code 0 "synth"
C10=(--config "$TINY" --set crest.generations=1 --set data.dataset=cifar10)
run -q train "${C10[@]}" --set data.root=c1O --out first
expect_code 2 "wrong data.root"
expect_err "c1O" "the missing folder is named"
run -q train "${C10[@]}" --set data.root=c10 --out first
expect_code 0 "the corrected rerun works without deleting anything"
[ -s first/summary.json ] || fail "the corrected run did not finish"
# crest 0.1 wrote config.yaml before loading the data: such a folder is not a run either.
mkdir old && printf 'data: {fold: 9}\n' >old/config.yaml && echo x >old/crest.log
run -q train "${G1[@]}" --out old
expect_code 0 "a folder with only a config.yaml of a run that never loaded its data"

# --resume on a folder with no run is an error (a typo must not start a fresh run)...
run -q train "${G1[@]}" --out typo --resume
expect_code 2 "--resume, no run"
expect_err "typo holds no crest run to resume" "--resume, no run: message"
expect_err "drop --resume" "--resume, no run: what to do"
[ -e typo ] && fail "--resume created the mistyped folder"
# ... and --resume alone uses the run's own config.yaml.
run train --out "runs/exp #3" --resume
expect_code 0 "--resume without --config"
expect_out "last generation 0" "resumed the finished run with its own config"
expect_err "using the run's own" "says which config it used"

# crest data prepare --force refuses a folder that holds a run, and takes the run lock.
before=$(md5sum "runs/exp #3/split_manifest.json")
run data prepare --config "$TINY" --set "run.out_dir='runs/exp #3'" --set data.fold=2 --force
expect_code 2 "--force on a run's manifest"
expect_err "belongs to the crest run" "--force: names the run"
[ "$(md5sum "runs/exp #3/split_manifest.json")" = "$before" ] || fail "--force replaced the run's split"
"$CREST" -q train --config "$TINY" --out live --set train.epochs=200 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 500); do [ -f live/gen_0/metrics.jsonl ] && break; sleep 0.01; done
run data prepare --config "$TINY" --set run.out_dir=live
expect_code 2 "data prepare on a live run"
expect_err "in use by another process (pid $pid" "data prepare: the lock names the holder"
kill -TERM "$pid"; wait "$pid"

finish
