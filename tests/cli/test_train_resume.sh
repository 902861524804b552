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

finish
