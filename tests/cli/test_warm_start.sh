# crest.warm_start=true (DML-PL's fine-tuning): generation 1 of the tiny CReST+ run starts from
# generation 0's final EMA weights (logged, recorded in gen_1/summary.json) and ends elsewhere
# than without it; SIGKILL in generation 1 and --resume ends bit for bit where the uninterrupted
# run ends, and needs no gen_0/checkpoint.pt once generation 1 has its own checkpoint; when it
# must start generation 1 afresh, a missing, cut or replaced gen_0/checkpoint.pt is exit 2
# naming the file, and putting it back resumes to the same end; model.init_from applies to
# generation 0 only.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
WARM=(--set crest.warm_start=true)
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$@"; }

run -q train --config "$TINY" --out cold
expect_code 0 "the run without warm start"
run train --config "$TINY" --out warm "${WARM[@]}"
expect_code 0 "the warm-started run"
ema0=$(field warm/gen_0/summary.json ema_fingerprint)
[ -n "$ema0" ] || fail "no ema_fingerprint in warm/gen_0/summary.json"
grep -F "gen 1/2: warm start (crest.warm_start) from generation 0's final EMA weights in" \
  warm/crest.log | grep -qF "gen_0/checkpoint.pt (fingerprint $ema0)" ||
  fail "the warm start is not logged with its file and fingerprint"
[ "$(grep -c "warm start (crest.warm_start)" warm/crest.log)" -eq 1 ] ||
  fail "only generation 1 warm-starts"
[ "$(field warm/gen_1/summary.json warm_start_fingerprint)" = "$ema0" ] ||
  fail "gen_1/summary.json records the weights it started from"
[ -z "$(field warm/gen_0/summary.json warm_start_fingerprint)" ] || fail "generation 0 starts afresh"
grep -q warm_start_fingerprint cold/gen_1/summary.json && fail "the cold run records no warm start"
cmp -s cold/gen_0/summary.json warm/gen_0/summary.json || fail "generation 0 is the same either way"
[ "$(field warm/gen_1/summary.json ema_fingerprint)" != "$(field cold/gen_1/summary.json ema_fingerprint)" ] ||
  fail "generation 1 ends at the same weights with and without the warm start"
grep -q "warm_start: true" warm/config.yaml || fail "config.yaml records crest.warm_start"

# SIGKILL in generation 1 (after its first checkpoint): the resume reads generation 1's own
# checkpoint, not generation 0's, and ends bit for bit as the uninterrupted run.
kill_in_generation_1 killed -q train --config "$TINY" "${WARM[@]}"
cp killed/gen_1/checkpoint.pt gen1-checkpoint.pt
mv killed/gen_0/checkpoint.pt gen0-checkpoint.pt
run -q train --config "$TINY" --out killed --resume "${WARM[@]}"
expect_code 0 "resume from generation 1's own checkpoint without gen_0/checkpoint.pt"
expect_same_generations warm killed

# Killed before generation 1's first checkpoint (its checkpoint removed): the resume starts
# generation 1 afresh from generation 0's EMA, which must be the one gen_0/summary.json recorded.
kill_in_generation_1 fresh -q train --config "$TINY" "${WARM[@]}"
rm fresh/gen_1/checkpoint.pt
cp fresh/gen_0/checkpoint.pt original.pt
head -c 1000 original.pt >cut.pt
: >empty.pt
for damage in missing cut.pt empty.pt gen1-checkpoint.pt; do
  if [ "$damage" = missing ]; then rm -f fresh/gen_0/checkpoint.pt; else cp "$damage" fresh/gen_0/checkpoint.pt; fi
  run -q train --config "$TINY" --out fresh --resume "${WARM[@]}"
  expect_code 2 "resume with gen_0/checkpoint.pt $damage"
  expect_err "crest.warm_start: gen 1/2 starts from generation 0's final EMA weights" "says why ($damage)"
  expect_err "fresh/gen_0/checkpoint.pt" "names the file ($damage)"
  [ -f fresh/gen_1/generation.json ] && fail "generation 1 finished without its start ($damage)"
done
expect_err "start a new run folder" "says what to do"
cp original.pt fresh/gen_0/checkpoint.pt
run -q train --config "$TINY" --out fresh --resume "${WARM[@]}"
expect_code 0 "resume with the original gen_0/checkpoint.pt back"
expect_same_generations warm fresh

# A resume keeps the run's config: crest.warm_start cannot be switched off half-way.
run -q train --config "$TINY" --out fresh --resume
expect_code 2 "resume without crest.warm_start"
expect_err "crest.warm_start" "names the key"

# model.init_from: generation 0 starts from the backbone, generation 1 from generation 0's EMA.
run export warm --generation 0 --format pt --out backbone.pt
expect_code 0 "export"
run -q train --config "$TINY" --out init "${WARM[@]}" --set model.init_from=backbone.pt
expect_code 0 "warm start with model.init_from"
[ -n "$(field init/gen_0/summary.json init_backbone_fingerprint)" ] || fail "gen 0 from the backbone"
[ -z "$(field init/gen_1/summary.json init_backbone_fingerprint)" ] || fail "gen 1 not from it"
[ "$(field init/gen_1/summary.json warm_start_fingerprint)" = "$(field init/gen_0/summary.json ema_fingerprint)" ] ||
  fail "gen 1 of the init_from run warm-starts"

for bad in maybe 2 yess; do
  run -q train --config "$TINY" --out bad --set crest.warm_start=$bad
  expect_code 2 "crest.warm_start=$bad"
  expect_err "crest.warm_start" "names the key ($bad)"
done
[ -e bad ] && fail "a refused config must not create the run folder"

finish
