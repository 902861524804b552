# crest pretrain (rotation pre-training) and model.init_from: the backbone file, its use by
# train with exactly those weights, exports and torch.save files as sources, SIGKILL and resume,
# and the refusals (another architecture, a missing or broken file, foreign folders).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
PRE=(--set pretrain.epochs=2 --set pretrain.steps_per_epoch=6 --set pretrain.batch_size=16
  --set run.checkpoint_every=3 --set run.threads=1)
json_field() { # FILE KEY: a top-level string or number of a JSON file
  sed -n "s/^ *\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1" | head -1
}

run pretrain --config "$TINY" --out pre "${PRE[@]}"
expect_code 0 "pretrain"
expect_out "pre/backbone.pt" "prints the backbone's path"
expect_err "rotation pre-training of WRN-10-1 on" "says what it trains"
for f in backbone.pt backbone.pt.json pretrain.json metrics.jsonl checkpoint.pt config.yaml \
  split_manifest.json crest.log; do
  [ -s "pre/$f" ] || fail "pretrain leaves $f"
done
[ "$(json_field pre/pretrain.json status)" = done ] || fail "pretrain.json says done"
[ "$(wc -l <pre/metrics.jsonl)" -eq 2 ] || fail "one metrics line per epoch"
grep -q '"test_rotation_acc":0\.[0-9]' pre/metrics.jsonl || fail "test rotation accuracy logged"
fp=$(json_field pre/backbone.pt.json backbone_fingerprint)
[ -n "$fp" ] || fail "backbone.pt.json gives the backbone fingerprint"
[ "$fp" = "$(json_field pre/pretrain.json backbone_fingerprint)" ] || fail "one fingerprint"
[ "$(json_field pre/backbone.pt.json depth)" = 10 ] || fail "the sidecar gives the depth"
# How it ran: one segment, from step 0, in the pre-training folder too.
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["segments"]; assert len(s)==1 and s[0]["from_step"]==0 and s[0]["world_size"]==1, s' pre/execution.json ||
  fail "pre/execution.json does not hold one segment from step 0"
# A training run never goes into a pre-training folder, with or without --resume.
before=$(cd pre && find . -type f | sort | xargs sha256sum)
for resume in "" --resume; do
  run train --config "$TINY" --out pre $resume
  expect_code 2 "train into a pre-training folder ${resume:-(new)}"
  expect_err "holds a crest pre-training (pretrain.json)" "names the pre-training ${resume}"
  expect_err "model.init_from=pre/backbone.pt" "says how to use it ${resume}"
done
[ "$before" = "$(cd pre && find . -type f | sort | xargs sha256sum)" ] ||
  fail "a refused train changed the pre-training folder"

# A run initialised from the backbone starts from exactly those weights, every generation.
run -q train --config "$TINY" --out init --set model.init_from=pre/backbone.pt --set train.epochs=1
expect_code 0 "train with model.init_from"
for g in 0 1; do
  [ "$(json_field init/gen_$g/summary.json init_backbone_fingerprint)" = "$fp" ] ||
    fail "gen_$g starts from the backbone (fingerprint $fp)"
done
run -q train --config "$TINY" --out plain --set train.epochs=1 --set crest.generations=1
grep -q init_backbone_fingerprint plain/gen_0/summary.json &&
  fail "a random initialisation records no backbone"

# A crest export (either format) and a state dict from Python's torch.save serve as well.
run export init --generation 0 --format safetensors --out init0.safetensors
expect_code 0 "export"
run -q train --config "$TINY" --out from_export --set model.init_from=init0.safetensors \
  --set train.epochs=1 --set crest.generations=1
expect_code 0 "model.init_from a safetensors export"
grep -q init_backbone_fingerprint from_export/gen_0/summary.json || fail "export as backbone"
if python_has /usr/bin/python3 torch; then
  /usr/bin/python3 -c 'import torch, sys; torch.save(torch.load(sys.argv[1]), sys.argv[2])' \
    pre/backbone.pt py.pt || fail "torch.load of backbone.pt"
  run -q train --config "$TINY" --out from_py --set model.init_from=py.pt --set train.epochs=1 \
    --set crest.generations=1
  expect_code 0 "model.init_from a torch.save file"
  [ "$(json_field from_py/gen_0/summary.json init_backbone_fingerprint)" = "$fp" ] ||
    fail "the torch.save copy gives the same weights"
fi

# A resume with a backbone file that changed since the run started is refused.
cp pre/backbone.pt pre/backbone.orig
"$CREST" export init --generation 1 --format pt --out other.pt >/dev/null 2>&1 || fail "export"
cp other.pt pre/backbone.pt
run train --config "$TINY" --out init --resume --set model.init_from=pre/backbone.pt --set train.epochs=1
expect_code 2 "resume with a replaced backbone"
expect_err "holds another backbone" "says the file changed"
mv pre/backbone.orig pre/backbone.pt

# Refusals, each exit 2 naming the key and the file.
run train --config "$TINY" --out deep --set model.init_from=pre/backbone.pt --set model.depth=16
expect_code 2 "a backbone of another depth"
expect_err "holds a WRN-10-1 backbone, but the config asks for WRN-16-1" "names both sizes"
[ -e deep/config.yaml ] && fail "a refused run leaves no run behind"
run train --config "$TINY" --out wide --set model.init_from=pre/backbone.pt --set model.width=2
expect_code 2 "a backbone of another width"
expect_err "model.width 2" "names the width"
run train --config "$TINY" --out none --set model.init_from=nowhere.pt
expect_code 2 "a missing backbone"
expect_err "model.init_from: nowhere.pt does not exist" "names the key and file"
printf 'not a pickle' >junk.pt
run train --config "$TINY" --out junk --set model.init_from=junk.pt
expect_code 2 "a file that is not a state dict"
expect_err "junk.pt: not a .pt file" "says what is wrong"

# The pre-training folder: no silent reuse, and a resume with its own config only.
run pretrain --config "$TINY" --out pre "${PRE[@]}"
expect_code 2 "pretraining into a finished pre-training"
expect_err "already holds a pre-training" "says so"
run pretrain --config "$TINY" --out pre --resume "${PRE[@]}"
expect_code 0 "resuming a finished pre-training"
expect_out "pre/backbone.pt" "a finished pre-training reports its backbone"
run pretrain --config "$TINY" --out pre --resume "${PRE[@]}" --set pretrain.lr=0.2
expect_code 2 "resume with another pretrain.lr"
expect_err "pretrain.lr: folder has 0.1, now 0.2" "names the key"
run pretrain --config "$TINY" --out init "${PRE[@]}"
expect_code 2 "pretraining into a training run"
expect_err "holds a crest training run" "says so"
mkdir -p mine && echo keep >mine/notes.txt
run pretrain --config "$TINY" --out mine "${PRE[@]}"
expect_code 2 "a folder with someone's files"
expect_err "notes.txt" "names the foreign file"
[ "$(cat mine/notes.txt)" = keep ] || fail "the foreign file is untouched"
run pretrain --config "$TINY" --out empty_resume --resume "${PRE[@]}"
expect_code 2 "resume of nothing"
expect_err "holds no pre-training to resume" "says so"
run pretrain --config "$TINY" --out diverged "${PRE[@]}" --set pretrain.lr=100
expect_code 1 "a diverged pre-training"
expect_err "non-finite" "says it diverged"
[ -e diverged/backbone.pt ] && fail "a diverged pre-training writes no backbone"

# SIGKILL after a checkpoint, then --resume: the same backbone as the uninterrupted run.
"$CREST" pretrain --config "$TINY" --out killed "${PRE[@]}" >/dev/null 2>&1 &
pid=$!
waited=$SECONDS
while [ $((SECONDS - waited)) -lt 120 ] && kill -0 "$pid" 2>/dev/null; do
  [ -f killed/checkpoint.pt ] && break
  nap
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ -f killed/checkpoint.pt ] || fail "the pre-training never reached a checkpoint"
run pretrain --out killed --resume "${PRE[@]}"
expect_code 0 "resume after SIGKILL"
[ "$(json_field killed/pretrain.json backbone_fingerprint)" = "$fp" ] ||
  fail "resume after SIGKILL ends with the uninterrupted run's backbone"
cmp -s pre/backbone.pt killed/backbone.pt || fail "backbone.pt differs after the resume"
finish
