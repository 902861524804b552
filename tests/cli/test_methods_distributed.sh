# ACR, SeMi, DASO and DML-PL with --nproc 2 (two CPU ranks over Gloo): both train inside CReST+ with their
# estimate, memory bank or feature queue fed by every rank's batch, and every rank ends each generation with the
# same weights and the same learner state (the engine compares their fingerprints and fails the
# run otherwise); each rank logs them, and the logs are compared here too.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
if "$CREST" train --config "$TINY" --out probe --nproc 2 --set train.batch_size=7 2>&1 |
    grep -qF "lacks c10d"; then
  echo "this build has no c10d (CREST_WITH_C10D off): nothing to check"
  finish
fi
SETS=(--set run.threads=1 --set train.epochs=3)
for method in acr semi daso dmlpl; do
  case $method in
    acr) extra=(--set acr.est_epoch=0 --set train.threshold=0.3) ;;
    semi) extra=(--set train.unlabeled_ratio=1 --set semi.start_epoch=0 --set semi.decay_steps=3
                 --set semi.bank_per_class=8 --set train.threshold=0.3) ;;
    daso) extra=(--set daso.warmup_steps=4 --set daso.dist_update_period=2 --set daso.queue_size=8
                 --set train.threshold=0.3) ;;
    dmlpl) extra=(--set dmlpl.embedding_dim=16 --set train.threshold=0.3) ;;
  esac
  run -v train --config "$TINY" --out "$method" --nproc 2 --set train.algorithm=$method \
    "${SETS[@]}" "${extra[@]}"
  expect_code 0 "$method on 2 ranks"
  for g in 0 1; do
    r0=$(grep -F "[rank 0]" "$ERR" | grep -F "gen $g/2: rank 0 model and EMA fingerprints" |
         sed 's/.*fingerprints //')
    r1=$(grep -F "[rank 1]" "$ERR" | grep -F "gen $g/2: rank 1 model and EMA fingerprints" |
         sed 's/.*fingerprints //')
    [ "$(wc -w <<<"$r0")" -eq 3 ] || fail "$method gen $g: rank 0 logged no learner-state fingerprint: '$r0'"
    [ "$r0" = "$r1" ] || fail "$method gen $g: the ranks ended with different state: '$r0' vs '$r1'"
  done
done
finish
