# #29: train.sync_bn. Two CPU ranks with synchronised BatchNorm train, agree on their weights and
# say so in the log; their numbers differ from two ranks with per-rank statistics (so the setting
# acts). With one process the setting is a no-op: the run's files equal those of sync_bn false.
# A value that is not a boolean exits 2 naming the key.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
SETS=(--set run.threads=1 --set crest.generations=1 --set crest.mode=fixmatch)

for bad in maybe 2 yes-please '[true]'; do
  run train --config "$TINY" --out "bad" --set "train.sync_bn=$bad"
  expect_code 2 "train.sync_bn=$bad"
  expect_err "train.sync_bn" "the error names the key ($bad)"
  [ -e bad/gen_0 ] && fail "a refused config started training ($bad)"
done
run print-config --config "$TINY" --set train.sync_bn=true
expect_code 0 "print-config with train.sync_bn"
expect_out "sync_bn: true" "the resolved config holds the key"

# --- one process: no-op ---------------------------------------------------------------------------
run -q train --config "$TINY" "${SETS[@]}" --out single_off
expect_code 0 "1 process, sync_bn false"
run -q train --config "$TINY" "${SETS[@]}" --set train.sync_bn=true --out single_on
expect_code 0 "1 process, sync_bn true"
for f in summary.json per_class.csv confusion.csv; do
  cmp -s "single_off/gen_0/$f" "single_on/gen_0/$f" || fail "1 process: gen_0/$f differs with sync_bn"
done
diff <(strip_timing single_off/gen_0/metrics.jsonl) <(strip_timing single_on/gen_0/metrics.jsonl) \
  >/dev/null || fail "1 process: metrics.jsonl differs with sync_bn"

# --- two ranks ------------------------------------------------------------------------------------
if "$CREST" train --config "$TINY" --out probe --nproc 2 --set train.batch_size=7 2>&1 |
    grep -qF "lacks c10d"; then
  echo "this build has no c10d (CREST_WITH_C10D off): the 2-rank checks are skipped"
  finish
fi
run -v train --config "$TINY" "${SETS[@]}" --set train.sync_bn=true --nproc 2 --out synced
expect_code 0 "2 ranks with sync_bn"
expect_err "BatchNorm statistics synchronised over 2 ranks" "the log says BatchNorm is synchronised"
r0=$(grep -F "[rank 0]" "$ERR" | grep -F "rank 0 model and EMA fingerprints" | sed 's/.*fingerprints //')
r1=$(grep -F "[rank 1]" "$ERR" | grep -F "rank 1 model and EMA fingerprints" | sed 's/.*fingerprints //')
[ -n "$r0" ] && [ "$r0" = "$r1" ] || fail "the synced ranks ended with different weights: '$r0' vs '$r1'"
run -q train --config "$TINY" "${SETS[@]}" --nproc 2 --out per_rank
expect_code 0 "2 ranks without sync_bn"
cmp -s synced/gen_0/summary.json per_rank/gen_0/summary.json &&
  fail "sync_bn changed nothing on 2 ranks"
grep -q "synchronised" per_rank/crest.log 2>/dev/null &&
  fail "the per-rank run claims synchronised BatchNorm"

finish
