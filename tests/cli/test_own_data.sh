# The user's own data: an image folder with train/, unlabeled/ (no labels, nested), test/ and
# val/, used as it is (data.protocol as_is). Two generations of CReST+ end to end; the selection
# names files from unlabeled/; everything that needs the hidden labels says "unknown"; the
# decoded cache is reused; bad folders exit 2 naming the path.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

run data synth --format folder --out own --classes 4 --train-per-class 40 --test-per-class 10 \
  --imbalance-ratio 4 --unlabeled-per-class 40 --seed 3
expect_code 0 "data synth --format folder"
[ -d own/unlabeled/part_0 ] || fail "no nested unlabeled/ folders written"
n_unlabeled=$(find own/unlabeled -name '*.png' | wc -l)
[ "$n_unlabeled" -gt 50 ] || fail "only $n_unlabeled unlabeled images written"
# A val folder of other images (a copy of test/ would be refused: test_data_leaks.sh).
run data synth --format folder --out valsrc --classes 4 --train-per-class 2 --test-per-class 10 \
  --seed 11
cp -r valsrc/test own/val

OWN=(--config "$TINY" --set data.dataset=folder --set data.root=own --set data.protocol=as_is)

# The per-class table: labeled as given, unlabeled unknown, the measured imbalance ratio.
run data prepare "${OWN[@]}" --set run.out_dir=prep
expect_code 0 "data prepare as_is"
expect_out "unknown" "per-class unlabeled counts are unknown"
expect_out "$n_unlabeled unlabeled image(s) have no known class" "the unlabeled total"
expect_out "imbalance ratio of the labeled set (measured" "the measured ratio"
expect_out " val" "the val column"
run data prepare "${OWN[@]}" --set run.out_dir=prep2 --json
expect_out '"unlabeled_unknown":'"$n_unlabeled" "JSON unlabeled_unknown"
expect_out '"unlabeled":null' "JSON unlabeled per class is null"

# Two generations of CReST+, best generation by the val folder.
run -q train "${OWN[@]}" --set crest.select_on=val --set data.cache=shared_cache --out run1
expect_code 0 "CReST+ on the folder dataset"
expect_out "unknown" "the printed table says the selection precision is unknown"
csv=run1/gen_0/pseudo_labels.csv
head -1 "$csv" | grep -qx "index,predicted,confidence,true_label,file" || fail "pseudo_labels.csv header"
rows=$(($(wc -l <"$csv") - 1))
[ "$rows" -gt 0 ] || fail "generation 0 selected nothing"
bad=0
while IFS=, read -r _ _ _ truth file; do
  [ "$truth" = unknown ] || bad=1
  case "$file" in unlabeled/*) ;; *) bad=1 ;; esac
  [ -f "own/$file" ] || bad=1
done < <(tail -n +2 "$csv")
[ "$bad" -eq 0 ] || fail "every selected row names an existing unlabeled/ file with an unknown true label"
grep -q '"truth": "unknown"' run1/gen_0/selection.json || fail "selection.json says truth unknown"
grep -q '"precision": null' run1/gen_0/selection.json || fail "selection.json precision is null"
grep -q '"pool_truth": "unknown"' run1/summary.json || fail "summary.json says pool_truth unknown"
grep -q '"unlabeled_files"' run1/split_manifest.json || fail "the manifest lists the unlabeled files"
grep -q '"train/' run1/split_manifest.json || fail "the manifest lists the labeled files"
grep -q '"rate_profile": "labeled"' run1/gen_0/selection.json || fail "as_is uses the labeled counts"
grep -q '"pseudo_label_acc":null' run1/gen_0/metrics.jsonl || fail "pseudo-label accuracy is null"
[ -n "$(head -1 run1/generations.csv | grep val_mean_recall)" ] || fail "generations.csv has val_mean_recall"

run report run1
expect_code 0 "report of an own-data run"
grep -q "precision of the selection is unknown" run1/report.html || fail "the report says unknown"
run summarize run1
expect_code 0 "summarize an own-data run"
expect_out "| as is |" "summarize shows beta as is"

# A finished run resumes from its files: the selection with unknown labels reads back.
run -q train --out run1 --resume
expect_code 0 "resume of a finished own-data run"

# The shared cache: a second run decodes nothing (changed files: images_test).
[ -n "$(ls shared_cache/*.u8 2>/dev/null)" ] || fail "no cache files in data.cache"
run data prepare "${OWN[@]}" --set data.cache=shared_cache --set run.out_dir=prep3 --set crest.mode=fixmatch
expect_code 0 "prepare with the shared cache"
run train "${OWN[@]}" --set data.cache=shared_cache --set train.epochs=1 \
  --set crest.generations=1 --out run2
expect_code 0 "second run with the shared cache"
expect_err ", 0 decoded" "the second run decodes nothing"

# Errors: exit 2 naming the path.
mkdir -p bad1 && cp -r own/train own/test bad1/ && mkdir bad1/unlabeled
run data prepare "${OWN[@]}" --set data.root=bad1 --set run.out_dir=e1
expect_code 2 "an empty unlabeled/"
expect_err "bad1/unlabeled holds no images" "names the empty folder"

mkdir -p bad2 && cp -r own/train own/test own/unlabeled bad2/
echo "not a png" >bad2/unlabeled/part_1/broken.png
run data prepare "${OWN[@]}" --set data.root=bad2 --set run.out_dir=e2
expect_code 2 "an unlabeled file that does not decode"
expect_err "bad2/unlabeled/part_1/broken.png" "names the file"

mkdir -p bad3 && cp -r own/train own/test bad3/ && cp -r own/test/disc bad3/test/zebra
run data prepare "${OWN[@]}" --set data.root=bad3 --set run.out_dir=e3
expect_code 2 "a test class missing from train"
expect_err "bad3/test/zebra" "names the class folder"

run data synth --format folder --out big --classes 4 --train-per-class 3 --test-per-class 2 \
  --image-size 40
mkdir -p bad4 && cp -r own/train own/test bad4/ && cp big/train/disc/000000.png bad4/train/disc/big.png
run data prepare "${OWN[@]}" --set data.root=bad4 --set data.resize=error --set run.out_dir=e4
expect_code 2 "mixed sizes under data.resize: error"
expect_err "bad4/train/disc/big.png" "names the image of another size"
run data prepare "${OWN[@]}" --set data.root=bad4 --set data.resize=center_crop --set run.out_dir=e5
expect_code 0 "the same folder under data.resize: center_crop"

# Bad options of the folder tools and keys.
run data synth --format png --out s1
expect_code 2 "an unknown synth format"
expect_err "--format must be cifar or folder, got 'png'" "names the formats"
run data synth --out s2 --unlabeled-per-class 5
expect_code 2 "folder options without --format folder"
expect_err "need --format folder" "says which format they need"
run data synth --format folder --out s3 --imbalance-ratio 0.5
expect_code 2 "an imbalance ratio below 1"
expect_err "--imbalance-ratio must be >= 1" "names the option"
run data synth --format folder --out s4 --unlabeled-per-class -1
expect_code 2 "a negative unlabeled count"
expect_err "--unlabeled-per-class must be >= 0" "names the option"
run data synth --format folder --out own --classes 4
expect_code 2 "synth over an existing folder dataset"
expect_err "already holds a dataset" "refuses to overwrite"
run data prepare "${OWN[@]}" --set data.cache= --set run.out_dir=e7
expect_code 2 "an empty data.cache"
expect_err "data.cache must be run (RUN/cache), off, or a folder" "says what data.cache takes"
run data prepare "${OWN[@]}" --set data.resize=squash --set run.out_dir=e8
expect_code 2 "an unknown data.resize"
expect_err "data.resize must be one of area, center_crop or error" "lists the modes"
run data prepare "${OWN[@]}" --set data.unlabeled_root=missing_pool --set run.out_dir=e9
expect_code 2 "a data.unlabeled_root that does not exist"
expect_err "missing_pool does not exist" "names the folder"

# as_is without unlabeled images: CReST needs them, FixMatch does not.
mkdir -p nounl && cp -r own/train own/test nounl/
run -q train "${OWN[@]}" --set data.root=nounl --out e6
expect_code 2 "crest+ without unlabeled images"
expect_err "crest.mode: fixmatch" "says what to do"
[ -e e6/config.yaml ] && fail "the refused run left a config.yaml"

finish
