# Paths stay inside (#28 kind 1): a sweep.json point folder that leads elsewhere is refused before
# anything trains; export, predict, report and data synth never replace a crest folder's own
# files, never write through a link planted in one, and a folder or a file in the way of an
# output is exit 2, not a failed write. --nproc 0 is refused. Every refusal leaves the run's files
# byte for byte as they were.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
ONE=(--set crest.generations=1 --set train.epochs=1 --set train.steps_per_epoch=4)
run data synth --format folder --out imgs --classes 4 --train-per-class 4 --test-per-class 2
expect_code 0 "images to predict"

run -q train --config "$TINY" --out r "${ONE[@]}"
expect_code 0 "tiny run"
snapshot() { (cd r && find . -type f ! -name crest.log -print0 | sort -z | xargs -0 sha256sum); }
before=$(snapshot)

# --- outputs that would replace the run's own files ------------------------------------------
for target in r/gen_0/checkpoint.pt r/config.yaml r/split_manifest.json r/gen_0/summary.json \
              r/new.pt r/export/../gen_0/checkpoint.pt; do
  run export r --out "$target"
  expect_code 2 "export --out $target"
  expect_err "crest folder" "export --out $target names the run folder"
done
for target in r/gen_0/per_class.csv r/metrics.csv r/gen_0/x.jsonl; do
  run predict r --folder imgs/test --out "$target"
  expect_code 2 "predict --out $target"
done
for target in r/config.yaml r/gen_0/summary.json r/generations.csv; do
  run report r --out "$target"
  expect_code 2 "report --out $target"
done
run data synth --out r --force
expect_code 2 "data synth --out RUN --force"
run data synth --out r/gen_0/data --force
expect_code 2 "data synth --out inside RUN"
[ "$before" = "$(snapshot)" ] || fail "a refused output changed the run's files"

# --- links: into the run from outside, and planted inside it --------------------------------
ln -s "$PWD/r/gen_0" into_gen0
ln -s "$PWD/r/config.yaml" config_link.yaml
run export r --out into_gen0/checkpoint.pt
expect_code 2 "export through a link into the run"
expect_err "leads into the crest folder" "export through a link into the run"
run report r --out config_link.yaml
expect_code 2 "report onto a link to the run's config"
mkdir elsewhere
ln -s "$PWD/elsewhere" r/export
run export r
expect_code 2 "export with RUN/export a link"
expect_err "symbolic link" "export with RUN/export a link"
run export r --out r/export/m.pt
expect_code 2 "export --out RUN/export/m.pt with RUN/export a link"
rm r/export
ln -s "$PWD/elsewhere" r/eval
run evaluate r
expect_code 2 "evaluate with RUN/eval a link"
expect_err "symbolic link" "evaluate with RUN/eval a link"
rm r/eval
[ -z "$(ls elsewhere)" ] || fail "something was written through a planted link"
ln -s "$PWD/elsewhere" r/gen_1
run -q train --config "$TINY" --out r --resume --set crest.generations=2 --set train.epochs=1 \
  --set train.steps_per_epoch=4
expect_code 2 "resume with RUN/gen_1 a link"
expect_err "symbolic link" "resume with RUN/gen_1 a link"
rm r/gen_1
[ "$before" = "$(snapshot)" ] || fail "a refused link changed the run's files"

# --- a folder or a file in the way ----------------------------------------------------------
mkdir out_dir
echo x >a_file
run export r --out out_dir
expect_code 2 "export --out an existing folder"
expect_err "is a folder" "export --out an existing folder"
grep -qF -- "--resume" "$ERR" && fail "the existing-folder refusal talks about --resume"
run predict r --folder imgs/test --out a_file/p.csv
expect_code 2 "predict --out under a file"
expect_err "is a file, not a folder" "predict --out under a file"
run report r --out out_dir
expect_code 2 "report --out an existing folder"

# --- what is allowed still works -------------------------------------------------------------
run export r
expect_code 0 "export to its default RUN/export/"
run export r --out r/export/named.pt
expect_code 0 "export into RUN/export/"
run export r --format safetensors --out outside/m.safetensors
expect_code 0 "export outside the run"
[ -s outside/m.safetensors ] && [ -s outside/m.safetensors.json ] || fail "export outside wrote nothing"
run report r --out r/report.html
expect_code 0 "report to RUN/report.html"

# --- a sweep.json whose point folder leads elsewhere ----------------------------------------
cp "$TINY" tiny.yaml
cat >grid.yaml <<'GRID'
base: tiny.yaml
out_dir: sw
grid:
  data.fold: [1]
set: {crest.generations: 1, train.epochs: 1, train.steps_per_epoch: 2}
GRID
run sweep --grid grid.yaml --launcher local
expect_code 0 "a one-point sweep"
[ -f sw/sweep.json ] || fail "the sweep wrote no sweep.json"
cp sw/sweep.json sweep.json.orig
for folder in ../../escaped_point "$PWD/abs_point" .. "a/b" ""; do
  python3 - "$folder" <<'PY'
import json, sys
plan = json.load(open("sw/sweep.json"))
plan["points"][0]["folder"] = sys.argv[1]
json.dump(plan, open("sw/sweep.json", "w"))
PY
  run sweep --points sw --launcher local
  expect_code 2 "sweep --points with the folder '$folder'"
  expect_err "not a plain folder name" "sweep --points with the folder '$folder'"
done
[ -e escaped_point ] || [ -e "$PWD/abs_point" ] || [ -e ../escaped_point ] &&
  fail "a tampered sweep.json trained outside the sweep folder"
cp sweep.json.orig sw/sweep.json
rm -rf sw/*/ && ln -s "$PWD/elsewhere" "sw/$(python3 -c 'import json;print(json.load(open("sw/sweep.json"))["points"][0]["folder"])')"
run sweep --points sw --launcher local
expect_code 2 "sweep --points with a point folder that is a link"
expect_err "symbolic link" "sweep --points with a point folder that is a link"

# --- --nproc 0 and below ---------------------------------------------------------------------
for n in 0 -1 -5; do
  run -q train --config "$TINY" --out n --nproc "$n"
  expect_code 2 "train --nproc $n"
  expect_err "--nproc $n: expected at least 1 rank" "train --nproc $n"
  run -q pretrain --config "$TINY" --out pn --nproc "$n"
  expect_code 2 "pretrain --nproc $n"
done
[ -e n ] || [ -e pn ] && fail "a refused --nproc left a folder"
finish
