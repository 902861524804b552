# crest train --nproc 2: two CPU ranks through c10d's Gloo on loopback. Both ranks end every
# generation with the same weights (the fingerprints they log), rank 0 alone writes the run
# folder; SIGKILL of rank 1 in generation 1 stops the job non-zero within 60 s naming the rank,
# and --resume then ends with exactly the results of an uninterrupted 2-rank run; a rank that hangs
# (SIGSTOP) ends the job through the collective timeout. Bad splits and another world size on
# resume exit 2. Ctrl-C stops both ranks at one step with a checkpoint to resume from.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
# One thread per rank: the two ranks share the machine's cores. 20 steps per epoch leave time to
# kill a rank inside generation 1.
SETS=(--set run.threads=1 --set train.steps_per_epoch=20)

if "$CREST" train --config "$TINY" --out probe --nproc 2 --set train.batch_size=7 2>&1 |
    grep -qF "lacks c10d"; then
  echo "this build has no c10d (CREST_WITH_C10D off): checking the refusal only"
  run train --config "$TINY" --out nope --nproc 2
  expect_code 2 "--nproc 2 without c10d"
  expect_err "lacks c10d" "--nproc 2 without c10d"
  finish
fi

# --- the uninterrupted 2-rank run ----------------------------------------------------------------
run -v train --config "$TINY" --out whole --nproc 2 "${SETS[@]}"
expect_code 0 "2-rank run"
[ -f whole/world.json ] && grep -q '"world_size": 2' whole/world.json ||
  fail "world.json does not record 2 ranks"
for g in 0 1; do
  r0=$(grep -F "[rank 0]" "$ERR" | grep -F "gen $g/2: rank 0 model and EMA fingerprints" |
       sed 's/.*fingerprints //')
  r1=$(grep -F "[rank 1]" "$ERR" | grep -F "gen $g/2: rank 1 model and EMA fingerprints" |
       sed 's/.*fingerprints //')
  [ -n "$r0" ] && [ -n "$r1" ] || fail "gen $g: a rank did not log its fingerprints"
  [ "$r0" = "$r1" ] || fail "gen $g: the ranks ended with different weights: '$r0' vs '$r1'"
  model=$(sed -n 's/.*"model_fingerprint": *"\([^"]*\)".*/\1/p' "whole/gen_$g/summary.json")
  [ "${r0%% *}" = "$model" ] || fail "gen $g: summary.json's model fingerprint is not rank 0's"
done
# Only rank 0 printed the table (the others' stdout is discarded) and wrote files: the folder holds
# what a 1-process run writes, plus world.json.
[ "$(grep -c '^gen ' "$OUT")" -eq 2 ] || fail "the table was printed other than twice"
run -q train --config "$TINY" --out single "${SETS[@]}"
expect_code 0 "1-process run"
diff <(cd single && find . -type f | grep -v '/tb/' | sort) \
     <(cd whole && find . -type f | grep -v '/tb/' | grep -v '^./world.json$' | sort) >/dev/null ||
  fail "the 2-rank run folder holds other files than a 1-process one (+ world.json)"
cmp -s single/gen_0/summary.json whole/gen_0/summary.json &&
  fail "the 2-rank run equals the 1-process run (the ranks did not draw their own samples)"

# --- kill rank 1 in generation 1, then resume -----------------------------------------------------
"$CREST" train --config "$TINY" --out killed --nproc 2 "${SETS[@]}" >killed.out 2>killed.err &
launcher=$!
waited=$SECONDS
while [ $((SECONDS - waited)) -lt 120 ] && [ ! -f killed/gen_1/checkpoint.pt ]; do nap; done
rank1=""
for child in $(pgrep -P "$launcher"); do
  tr '\0' '\n' <"/proc/$child/environ" 2>/dev/null | grep -qx "RANK=1" && rank1=$child
done
[ -n "$rank1" ] || fail "rank 1 was not found among the launcher's children"
killed_at=$SECONDS
kill -9 "$rank1"
wait "$launcher"
code=$?
took=$((SECONDS - killed_at))
[ "$code" -ne 0 ] || fail "the job exited 0 after rank 1 was killed"
[ "$took" -le 60 ] || fail "the job took ${took}s to stop after rank 1 was killed (limit 60 s)"
grep -qF "rank 1 of 2 failed (signal 9" killed.err ||
  fail "the launcher did not name rank 1 and its signal: $(tail -5 killed.err)"
[ -f killed/gen_1/generation.json ] && fail "killed too late: generation 1 had already finished"

# --- Ctrl-C: forwarded to the ranks, which stop at the same step; rank 0 checkpoints; resume ------
"$CREST" train --config "$TINY" --out stopped --nproc 2 "${SETS[@]}" >stopped.out 2>stopped.err &
launcher=$!
waited=$SECONDS
while [ $((SECONDS - waited)) -lt 120 ] && [ ! -f stopped/gen_0/checkpoint.pt ]; do nap; done
kill -INT "$launcher"
wait "$launcher"
code=$?
[ "$code" -eq 130 ] || fail "Ctrl-C: the job exited $code, not 130 ($(tail -3 stopped.err))"
grep -qF "stopped at step" stopped.err || fail "Ctrl-C: no stop message ($(tail -3 stopped.err))"
run -q train --config "$TINY" --out stopped --resume --nproc 2 "${SETS[@]}"
expect_code 0 "2-rank resume after Ctrl-C"
cmp -s whole/summary.json stopped/summary.json || fail "summary.json differs after Ctrl-C and resume"

# --- a rank that hangs (SIGSTOP): the collective timeout ends the job ------------------------------
CREST_DIST_TIMEOUT=5 "$CREST" train --config "$TINY" --out hung --nproc 2 "${SETS[@]}" \
  >hung.out 2>hung.err &
launcher=$!
waited=$SECONDS
while [ $((SECONDS - waited)) -lt 120 ] && [ ! -f hung/gen_1/checkpoint.pt ]; do nap; done
for child in $(pgrep -P "$launcher"); do
  tr '\0' '\n' <"/proc/$child/environ" 2>/dev/null | grep -qx "RANK=1" && kill -STOP "$child"
done
stopped_at=$SECONDS
wait "$launcher"
code=$?
took=$((SECONDS - stopped_at))
[ "$code" -ne 0 ] || fail "the job exited 0 with a stopped rank"
[ "$took" -le 60 ] || fail "the job took ${took}s to stop with a hung rank (limit 60 s)"
grep -qF "Timed out" hung.err || fail "rank 0 did not report the collective timeout: $(tail -3 hung.err)"
grep -qF "rank 0 of 2 failed (exit code 1)" hung.err || fail "the launcher did not name rank 0"

run -q train --config "$TINY" --out killed --resume --nproc 3 "${SETS[@]}" \
  --set train.batch_size=9 --set train.unlabeled_ratio=1
expect_code 2 "resume with another config and world size"
expect_err "belongs to another config" "resume with another config and world size"
# The cause is named, not a rank that only lost its peer and happened to exit first.
expect_err "rank 0 of 3 failed (exit code 2)" "resume with another config and world size"
run -q train --config "$TINY" --out killed --resume "${SETS[@]}"
expect_code 2 "resume of a 2-rank run with one process"
expect_err "trained with 2" "resume of a 2-rank run with one process"

run -q train --config "$TINY" --out killed --resume --nproc 2 "${SETS[@]}"
expect_code 0 "2-rank resume"
expect_same_generations whole killed

# --- bad input --------------------------------------------------------------------------------
run -q train --config "$TINY" --out split --nproc 3 "${SETS[@]}"
expect_code 2 "--nproc 3 with batch 8"
expect_err "train.batch_size 8 is not divisible by the world size 3" "--nproc 3 with batch 8"
[ -e split ] && fail "a refused split left a run folder"
run -q train --config "$TINY" --out split --nproc -1
expect_code 2 "--nproc -1"
RANK=0 WORLD_SIZE=2 run -q train --config "$TINY" --out split --nproc 3
expect_code 2 "--nproc 3 inside a job of 2 ranks"
expect_err "drop --nproc" "--nproc 3 inside a job of 2 ranks"
RANK=0 WORLD_SIZE=2 MASTER_PORT=notaport run -q train --config "$TINY" --out split
expect_code 2 "a bad MASTER_PORT"
expect_err "MASTER_PORT" "a bad MASTER_PORT"

# --- crest pretrain --nproc 2: the same loop and engine, data-parallel ----------------------------
PRE=(--set pretrain.epochs=4 --set pretrain.steps_per_epoch=20 --set pretrain.batch_size=16
     --set run.threads=1 --set run.checkpoint_every=2)
run -v pretrain --config "$TINY" --out pre_whole --nproc 2 "${PRE[@]}"
expect_code 0 "2-rank pre-training"
grep -q '"world_size": 2' pre_whole/world.json 2>/dev/null || fail "pretrain: world.json lacks 2 ranks"
p0=$(grep -F "[rank 0]" "$ERR" | grep -F "pretrain: rank 0 model fingerprint" | sed 's/.*fingerprint //')
p1=$(grep -F "[rank 1]" "$ERR" | grep -F "pretrain: rank 1 model fingerprint" | sed 's/.*fingerprint //')
[ -n "$p0" ] && [ "$p0" = "$p1" ] || fail "pretrain: the ranks ended with different weights: '$p0' vs '$p1'"
[ "$(grep -c 'backbone.pt$' "$OUT")" -eq 1 ] || fail "pretrain: the backbone's path was printed other than once"
whole_fp=$(sed -n 's/.*"backbone_fingerprint": *"\([^"]*\)".*/\1/p' pre_whole/backbone.pt.json)
[ -n "$whole_fp" ] || fail "pretrain: no backbone fingerprint"
# Ctrl-C to the launcher: both ranks stop at one step with a checkpoint; --resume ends exactly.
"$CREST" pretrain --config "$TINY" --out pre_cut --nproc 2 "${PRE[@]}" >/dev/null 2>pre_cut.err &
launcher=$!
waited=$SECONDS
while [ $((SECONDS - waited)) -lt 120 ] && [ ! -f pre_cut/checkpoint.pt ]; do nap; done
kill -INT "$launcher"
wait "$launcher"
code=$?
[ "$code" -eq 130 ] || fail "pretrain: Ctrl-C should exit 130, got $code"
[ -f pre_cut/backbone.pt ] && fail "pretrain: stopped too late (the pre-training had finished)"
run pretrain --out pre_cut --resume --nproc 2
expect_code 0 "pretrain: --resume --nproc 2"
cut_fp=$(sed -n 's/.*"backbone_fingerprint": *"\([^"]*\)".*/\1/p' pre_cut/backbone.pt.json)
[ "$cut_fp" = "$whole_fp" ] || fail "pretrain: resumed backbone $cut_fp differs from uninterrupted $whole_fp"
diff <(strip_timing pre_whole/metrics.jsonl) <(strip_timing pre_cut/metrics.jsonl) >/dev/null ||
  fail "pretrain: the resumed metrics.jsonl differs from the uninterrupted one"
run pretrain --out pre_cut2 --config "$TINY" --nproc 2 --set pretrain.batch_size=7
expect_code 2 "pretrain: a batch 2 ranks cannot split"
expect_err "pretrain.batch_size 7" "names the pretrain key"

finish
