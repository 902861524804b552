# crest train: SIGKILL in the middle of generation 1, --resume, and the run ends exactly where an
# uninterrupted one ends (weights, metrics, selections, per-generation table).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

run -q train --config "$TINY" --out whole
expect_code 0 "uninterrupted run"

kill_in_generation_1 killed -q train --config "$TINY"

run -q train --config "$TINY" --out killed --resume
expect_code 0 "resumed run"

strip_timing() { sed 's/,"steps_per_sec":[^,}]*//' "$1"; }
for g in 0 1; do
  for f in summary.json pseudo_labels.csv selection.json per_class.csv confusion.csv \
           labeled_distribution.csv; do
    cmp -s "whole/gen_$g/$f" "killed/gen_$g/$f" || fail "gen_$g/$f differs after resume"
  done
  diff <(strip_timing "whole/gen_$g/metrics.jsonl") <(strip_timing "killed/gen_$g/metrics.jsonl") \
    >/dev/null || fail "gen_$g/metrics.jsonl differs after resume"
done
cmp -s whole/generations.csv killed/generations.csv || fail "generations.csv differs"
cmp -s whole/summary.json killed/summary.json || fail "summary.json differs"
grep -q '"ema_fingerprint"' killed/gen_1/summary.json || fail "no weight fingerprint"

# Resuming a finished run is a no-op that reports the same table.
run -q train --config "$TINY" --out whole --resume
expect_code 0 "resume of a finished run"
cmp -s whole/summary.json killed/summary.json || fail "re-resume changed the summary"

finish
