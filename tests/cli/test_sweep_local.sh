# crest sweep --launcher local: a 4-point grid of the tiny config on 2 CPU slots, a rerun that
# skips finished points, a stopped point that the next run resumes, a point that fails at run
# time, grid errors caught before anything runs, --dry-run, and crest summarize of the results.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
cp "$SRC/tests/cli/tiny.yaml" tiny.yaml

# base is relative to the grid file, out_dir to the working directory.
mkdir grids
# run.threads 0 (every free core), which the sweep divides among its slots.
sed 's/^  threads: 1$/  threads: 0/' tiny.yaml >grids/tiny.yaml
grep -q '^  threads: 0$' grids/tiny.yaml || fail "tiny.yaml no longer pins run.threads"
cat >grids/grid.yaml <<'EOF'
base: tiny.yaml
out_dir: sw
grid:
  crest.mode: [fixmatch, crest]
  data.fold: [1, 2]
set: {crest.generations: 1}
EOF
names="mode=fixmatch,fold=1 mode=fixmatch,fold=2 mode=crest,fold=1 mode=crest,fold=2"

# --dry-run prints the points and their commands and leaves nothing behind.
run sweep --grid grids/grid.yaml --launcher local --slots 2 --dry-run
expect_code 0 "local dry run"
expect_out "4 to run on 2 CPU slot(s)" "dry run: plan"
expect_out "train --config $WORK/grids/tiny.yaml --set crest.generations=1 --set crest.mode=crest --set data.fold=2" \
  "dry run: the command of a point"
[ -e sw ] && fail "a local dry run must not create the sweep folder"

# Run all four on 2 slots.
run sweep --grid grids/grid.yaml --launcher local --slots 2
expect_code 0 "local sweep"
expect_out "4 finished now, 0 already finished, 0 failed" "local sweep: outcome"
for name in $names; do
  [ -s "sw/$name/summary.json" ] || fail "point $name has no summary.json"
  [ -s "sw/$name/stderr.log" ] || fail "point $name has no stderr.log"
  [ -e "sw/$name/stdout.log" ] || fail "point $name has no stdout.log"
done
grep -q '"name": "mode=crest,fold=2"' sw/sweep.json || fail "sweep.json lists the points"
# run.threads is divided among the slots.
threads=$(($(nproc) / 2)); [ "$threads" -ge 1 ] || threads=1
grep -q "^  threads: $threads$" "sw/mode=crest,fold=1/config.yaml" ||
  fail "run.threads of a point is nproc/2 = $threads"

# A rerun skips every finished point and starts nothing.
run sweep --grid grids/grid.yaml --launcher local --slots 2
expect_code 0 "rerun"
expect_out "0 finished now, 4 already finished" "rerun skips finished points"
[ "$(grep -c '^# crest sweep:' "sw/mode=crest,fold=1/stderr.log")" -eq 1 ] ||
  fail "a finished point was started again"

# The same folder with another grid is refused.
sed 's/data.fold: \[1, 2\]/data.fold: [1, 2, 3]/' grids/grid.yaml >grids/grown.yaml
run sweep --grid grids/grown.yaml --launcher local
expect_code 2 "changed grid"
expect_err "sweep.json was written for another grid" "changed grid: message"

# A stopped point is resumed: SIGTERM to the sweep reaches the run, which checkpoints (exit 130);
# the next invocation passes --resume and finishes it, keeping the thread count it started with.
cat >grids/resume.yaml <<'EOF'
base: tiny.yaml
out_dir: rs
grid: {data.fold: [3]}
EOF
"$CREST" sweep --grid grids/resume.yaml --launcher local --slots 2 >resume1.out 2>resume1.err &
pid=$!
for _ in $(seq 1 1500); do
  [ -f rs/fold=3/gen_1/checkpoint.pt ] && break
  sleep 0.01
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
code=$?
[ -f rs/fold=3/summary.json ] && fail "stopped too late: the point had already finished"
[ "$code" -eq 130 ] || fail "a stopped sweep exits 130, got $code ($(tail -2 resume1.err))"
grep -q "stopped 0 fold=3" resume1.out || fail "the stopped point is reported ($(cat resume1.out))"
run sweep --grid grids/resume.yaml --launcher local --slots 1
expect_code 0 "resume"
expect_out "1 finished now" "resume: outcome"
tail -n +2 rs/fold=3/stderr.log | grep '^# crest sweep:' | grep -q -- '--resume' ||
  fail "the second attempt did not pass --resume"
grep -q '"generation": 1' rs/fold=3/summary.json || fail "the resumed point has no generation 1"

# A point that fails at run time (CIFAR-10 in a missing folder): the others still run, the
# sweep exits 1 at the end and names it.
cat >grids/fail.yaml <<'EOF'
base: tiny.yaml
out_dir: fl
grid:
  data.dataset: [cifar10, synthetic]
set: {crest.generations: 1, data.root: missing-cifar}
EOF
run sweep --grid grids/fail.yaml --launcher local
expect_code 1 "a failing point"
expect_out "failed 0 dataset=cifar10: exit 2" "failing point: reported"
expect_out "1 finished now, 0 already finished, 1 failed" "failing point: the other one ran"
expect_err "1 of 2 sweep point(s) failed" "failing point: summary"
expect_err "CIFAR-10 folder missing-cifar does not exist" "failing point: the cause"
[ -s fl/dataset=synthetic/summary.json ] || fail "the point after the failing one did not run"

# A typo in the grid fails before anything runs, naming the file, line and key.
cat >grids/typo.yaml <<'EOF'
base: tiny.yaml
out_dir: ty
grid:
  crest.mode: [crest]
  data.imbalnce_ratio: [10, 20]
EOF
run sweep --grid grids/typo.yaml --launcher local
expect_code 2 "grid typo"
expect_err "grids/typo.yaml:5: grid: unknown key 'data.imbalnce_ratio'" "grid typo: message"
[ -e ty ] && fail "a bad grid must not create its folder"
cat >grids/value.yaml <<'EOF'
base: tiny.yaml
grid: {crest.mode: [crest, crest++]}
EOF
run sweep --grid grids/value.yaml --launcher local
expect_code 2 "bad grid value"
expect_err "grids/value.yaml:2: grid: crest.mode" "bad grid value: message"
expect_err "crest++" "bad grid value: names the value"
run sweep --grid grids/grid.yaml --launcher local --partition x
expect_code 2 "slurm flag with the local launcher"
run sweep --grid grids/grid.yaml --launcher local --only nope
expect_code 2 "--only of an unknown point"
expect_err "no point of" "--only: message"

# crest summarize: 2 groups (fixmatch, crest) of 2 folds; the failed point is listed apart.
run summarize sw fl
expect_code 0 "summarize"
expect_out "| synthetic | 30% | 5 | FixMatch | 2 | 1,2 |" "summarize: FixMatch group"
expect_out "| synthetic | 30% | 5 | CReST | 2 | 1,2 |" "summarize: CReST group"
expect_out "Not averaged in (1)" "summarize: the failed point is listed"
expect_out "fl/dataset=cifar10" "summarize: names the failed point"
run summarize sw --format csv
expect_code 0 "summarize csv"
[ "$(awk -F, 'NR > 1 { print $2 ":" $5 }' "$OUT" | tr '\n' ' ')" = "fixmatch:2 crest:2 " ] ||
  fail "summarize csv: two groups of n = 2"
run summarize grids
expect_code 2 "summarize a folder without runs"
expect_err "grids is not a run folder (no config.yaml) and holds none" "summarize: message"

finish
