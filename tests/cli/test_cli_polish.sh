# The smaller command-line items of issue #30: global flags after the subcommand, an example in
# every --help (each one parses), `data prepare --out` leaving nothing else behind, `predict
# --folder` skipping stray files, the generation table within 80 columns.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

# ---- global flags: before and after the subcommand, nested subcommands too ----
for position in before after; do
  flags() {
    if [ "$position" = before ]; then
      echo "$1 data prepare --config $TINY --out p"
    else
      echo "data prepare --config $TINY --out p $1"
    fi
  }
  for q in -q --quiet; do
    # shellcheck disable=SC2046
    run $(flags "$q")
    expect_code 0 "$q $position the subcommand"
    [ -s "$ERR" ] && fail "$q $position the subcommand: the console still shows info lines"
  done
  for v in -v --verbose; do
    # shellcheck disable=SC2046
    run $(flags "$v")
    expect_code 0 "$v $position the subcommand"
    expect_err "exact duplicates across" "$v $position the subcommand shows debug lines"
  done
done
run data prepare --config "$TINY" --out p
expect_code 0 "no flag"
grep -qF "exact duplicates across" "$ERR" && fail "debug lines without -v"
expect_err "split manifest written" "info lines without -q"
for args in "--version" "train --version" "data synth --version"; do
  # shellcheck disable=SC2086
  run $args
  expect_code 0 "$args"
  expect_out "LibTorch" "$args prints the version"
done
for args in "train -q --out q1 --set nope=1" "print-config --set nope=1 -v"; do
  # shellcheck disable=SC2086
  run $args
  expect_code 2 "$args: the subcommand's own errors still come"
  expect_err "nope" "$args names the key"
done
run train --no-such-flag
expect_code 2 "an unknown flag is still refused"
expect_err "no-such-flag" "the unknown flag is named"

# ---- every --help ends with examples, and each example parses ----
for command in print-config train pretrain bench data "data prepare" "data synth" sweep summarize \
  report evaluate predict export; do
  # shellcheck disable=SC2086
  run $command --help
  expect_code 0 "$command --help"
  expect_out "Examples:" "$command --help shows examples"
  examples=$(sed -n '/^Examples:/,$p' "$OUT" | grep '^  crest ' | sed 's/^  crest //')
  [ "$(echo "$examples" | grep -c .)" -ge 1 ] || fail "$command --help: no example line"
  [ "$(tail -n 1 "$OUT" | grep -c '^  crest ')" -eq 1 ] || fail "$command --help does not end with an example"
  while IFS= read -r example; do
    [ -n "$example" ] || continue
    # shellcheck disable=SC2086
    CREST_TEST_PARSE_ONLY=1 run $example
    expect_code 0 "example 'crest $example' parses"
    for path in $example; do
      case "$path" in configs/* | sweeps/*) [ -f "$SRC/$path" ] || fail "example names $path, which does not exist" ;; esac
    done
  done <<<"$examples"
done
# The hook itself: a bad line does not parse under it.
CREST_TEST_PARSE_ONLY=1 run train --no-such-flag
expect_code 2 "the parse-only hook still refuses a bad line"
# The cheap examples, run for real from the source tree's layout.
mkdir ex && cd ex && ln -s "$SRC/configs" configs && ln -s "$SRC/sweeps" sweeps
run print-config --config configs/cifar10lt.yaml --set data.fold=2
expect_code 0 "print-config example runs"
run data synth --out data/synth --classes 10 --train-per-class 500
expect_code 0 "data synth example runs"
run data synth --out data/folders --format folder --imbalance-ratio 10 --unlabeled-per-class 50 \
  --train-per-class 20 --test-per-class 5
expect_code 0 "data synth folder example runs"
run data prepare --out runs/split
expect_code 0 "data prepare example runs"
run sweep --grid sweeps/table1.yaml --launcher local --dry-run
expect_code 0 "sweep example runs"
cd "$WORK" || exit 1

# ---- data prepare --out: its outputs there, nothing else in the working directory ----
for args in "--out prep" "--out prep/deeper --json" "--manifest only.json" \
  "--manifest m2.json --out prep2"; do
  rm -rf cwd && mkdir cwd && cd cwd || exit 1
  # shellcheck disable=SC2086
  run data prepare $args
  expect_code 0 "data prepare $args"
  out_dir=$(echo "$args" | sed -n 's/.*--out \([^ ]*\).*/\1/p')
  manifest=$(echo "$args" | sed -n 's/.*--manifest \([^ ]*\).*/\1/p')
  [ -n "$manifest" ] || manifest="$out_dir/split_manifest.json"
  [ -s "$manifest" ] || fail "data prepare $args: no manifest at $manifest"
  if [ -n "$out_dir" ]; then
    [ -s "$out_dir/crest.log" ] || fail "data prepare $args: no log in $out_dir"
  fi
  expected=$( (echo "${out_dir%%/*}"; echo "${manifest%%/*}") | grep . | sort -u)
  [ "$(ls -A | sort)" = "$expected" ] || fail "data prepare $args left $(ls -A | tr '\n' ' ') (expected $expected)"
  cd "$WORK" || exit 1
done
# --out on a folder dataset with the run cache: the cache goes there too.
run data synth --out folds --format folder --classes 3 --train-per-class 12 --test-per-class 4
rm -rf cwd && mkdir cwd && cd cwd || exit 1
run data prepare --set data.dataset=folder --set "data.root=$WORK/folds" --set data.cache=run \
  --set data.protocol=as_is --out o
expect_code 0 "folder dataset with data.cache run"
[ -d o/cache ] || fail "the decoded-image cache is not in --out"
[ "$(ls -A)" = "o" ] || fail "folder prepare left $(ls -A | tr '\n' ' ')"
cd "$WORK" || exit 1

# ---- a tiny run on a folder dataset: predict --folder, evaluate, the generation table ----
run data synth --out fd --format folder --classes 3 --train-per-class 16 --test-per-class 6 \
  --unlabeled-per-class 8
expect_code 0 "folder dataset for the run"
FOLDER_RUN=(--config "$TINY" --set data.dataset=folder --set data.root=fd --set data.cache=run
  --set data.protocol=as_is --set crest.generations=1 --set train.epochs=1)
run -q train "${FOLDER_RUN[@]}" --out fr
expect_code 0 "tiny folder run"

# predict --folder: stray files are skipped with one line; nested folders read.
mkdir -p pics/nested/deeper pics/x.png pics/.hidden
cp "$(find fd/test -name '*.png' | sort | sed -n 1p)" pics/a.png
cp "$(find fd/test -name '*.png' | sort | sed -n 2p)" pics/nested/deeper/b.png
echo "notes" >pics/readme.txt
echo "x" >pics/.DS_Store
echo "x" >pics/.hidden/c.png
printf 'not a png' >pics/corrupt.png
: >pics/empty.jpg
ln -s .. pics/nested/loop
images=$(find pics -name '*.png' -not -path '*/.hidden/*' -not -name corrupt.png -type f | wc -l)
run predict fr --folder pics
expect_code 0 "predict --folder with stray files"
expect_err "skipped 3 of 5 files" "one summary line counting the skipped files"
expect_err "readme.txt" "the summary names the text file"
expect_err "corrupt.png" "the summary names the corrupt image"
[ "$(grep -c 'skipped' "$ERR")" -eq 1 ] || fail "more than one line about skipped files"
rows=$(tail -n +2 "$OUT" | cut -d, -f1 | sort -u | wc -l)
[ "$rows" -eq "$images" ] || fail "predicted $rows images, expected $images"
grep -q "nested/deeper/b.png" "$OUT" || fail "the nested image is not predicted"
grep -q "loop" "$OUT" && fail "the link loop was followed"
for stray in readme.txt corrupt.png empty.jpg .DS_Store c.png; do
  grep -qF "$stray" "$OUT" && fail "$stray got a prediction"
done
# A folder with no images at all, or none that decodes: exit 2 naming the folder.
mkdir -p noimg/sub noimg/y.jpg empty_dir && echo a >noimg/a.txt && printf 'x' >noimg/sub/bad.png
for folder in noimg noimg/sub empty_dir; do
  run predict fr --folder "$folder"
  expect_code 2 "predict --folder $folder without images"
  expect_err "$folder" "the error names $folder"
  expect_err "holds no image" "the error says why ($folder)"
done
run predict fr --folder missing_dir
expect_code 2 "a missing folder"
expect_err "missing_dir" "the missing folder is named"
# --image files are still checked one by one.
run predict fr --image pics/corrupt.png
expect_code 2 "an --image that does not decode"
expect_err "corrupt.png" "the bad --image is named"

# evaluate decodes only the test set, through the run's cache: a training image broken after
# the run does not matter to it, and the test images come from the cache.
find fd/train -name '*.png' | head -1 | xargs -I{} sh -c 'printf broken > {}'
find fd/unlabeled -name '*.png' | head -1 | xargs -I{} sh -c 'printf broken > {}'
run evaluate fr --json
expect_code 0 "evaluate with a broken training image"
expect_err "from the cache" "evaluate reads the cache"
grep -qi "decode train\|decode unlabeled" "$ERR" && fail "evaluate decoded the training images"

# The generation table fits 80 columns: 10 and 100 classes, 1 and 6 generations.
for classes in 10 100; do
  for generations in 1 6; do
    run train --config "$TINY" --out "t$classes-$generations" --set "data.synthetic.classes=$classes" \
      --set data.synthetic.train_per_class=20 --set data.synthetic.test_per_class=2 \
      --set "crest.generations=$generations" --set train.epochs=1 --set train.steps_per_epoch=2 \
      --set run.checkpoint_every=0
    expect_code 0 "train $classes classes, $generations generation(s)"
    expect_out "sel-prec" "the generation table is printed"
    width=$(awk '{ if (length($0) > w) w = length($0) } END { print w }' "$OUT")
    [ "$width" -le 80 ] || fail "$classes classes, $generations generations: a line of $width columns"
    [ "$(grep -c '^ *[0-9]  [0-9]\.[0-9][0-9] ' "$OUT")" -ge "$generations" ] ||
      fail "$classes classes, $generations generations: table rows missing"
  done
done

finish
