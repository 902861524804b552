# crest train: SIGKILL in the middle of generation 1, --resume, and the run ends exactly where an
# uninterrupted one ends (weights, metrics, selections, per-generation table).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

run -q train --config "$TINY" --out whole
expect_code 0 "uninterrupted run"

kill_in_generation_1 killed -q train --config "$TINY"

run -q train --config "$TINY" --out killed --resume
expect_code 0 "resumed run"

expect_same_generations whole killed labeled_distribution.csv
cmp -s whole/generations.csv killed/generations.csv || fail "generations.csv differs"
grep -q '"ema_fingerprint"' killed/gen_1/summary.json || fail "no weight fingerprint"

# Resuming a finished run is a no-op that reports the same table.
run -q train --config "$TINY" --out whole --resume
expect_code 0 "resume of a finished run"
cmp -s whole/summary.json killed/summary.json || fail "re-resume changed the summary"

# run.threads 0: the count chosen at the first start (the cores other processes left free then)
# is recorded in RUN/threads.json, and a resume computes with it whatever the load is then.
AUTO=(--set run.threads=0 --set crest.generations=1)
kill_in_generation 0 auto -q train --config "$TINY" "${AUTO[@]}"
grep -qE '"cpu_threads": *[0-9]+' auto/threads.json ||
  fail "run.threads 0 did not record its thread count in threads.json"
# Whatever set the count (here a pinned run.threads), the first start records it, and a resume
# with another count says that the results are no longer bit-identical.
run -q train --config "$TINY" --out one_thread "${AUTO[@]/run.threads=0/run.threads=1}"
grep -qE '"cpu_threads": *1' one_thread/threads.json || fail "a pinned run.threads is not recorded"
printf '{"cpu_threads": "two"}\n' >auto/threads.json
cp -r auto auto.before
run -q train --config "$TINY" --out auto --resume "${AUTO[@]}"
expect_code 2 "resume with a damaged threads.json"
expect_err "threads.json" "the damaged record is named"
diff -r auto auto.before >/dev/null || fail "a refused resume changed the run folder"
rm auto/threads.json && mkdir auto/threads.json
run -q train --config "$TINY" --out auto --resume "${AUTO[@]}"
expect_code 2 "resume with a folder for threads.json"
expect_err "threads.json: it is a folder, not a file" "a folder in the record's place is named so"
rmdir auto/threads.json
printf '{"cpu_threads": 1}\n' >auto/threads.json  # as if the first start found one core free
run -q train --config "$TINY" --out auto --resume "${AUTO[@]}"
expect_code 0 "resume under run.threads 0"
grep -q "device cpu (1 thread of [0-9]* available, as recorded at the run's start" auto/crest.log ||
  fail "the resume did not take the recorded thread count"
OMP_NUM_THREADS=2 "$CREST" -q train --config "$TINY" --out auto --resume "${AUTO[@]}" >"$OUT" 2>"$ERR"
CODE=$?
expect_code 0 "resume with OMP_NUM_THREADS"
expect_err "resuming with 2 CPU thread(s) where the run started with 1" "another count is warned about"
expect_err "not bit-identical" "the warning says what it costs"

finish
