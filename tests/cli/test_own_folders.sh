# Own folders are never cut silently: a folder dataset without data.protocol uses every image
# as given (as_is), says so in the log and print-config, and saves protocol: as_is; a long-tail
# cut only when data.protocol is given (file, base or --set), with a warning that counts what it
# leaves out; every count error names the protocol choice. Config bases (`base:`): merged
# print-config, the merged config saved in the run folder, and the refusals (exit 2).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

# JSON split counts of `data prepare --json` (stdout): the sum of one per-class list.
json_sum() { python3 -c 'import json,sys; print(sum(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$OUT" "$1"; }
files_in() { find "$1" -type f | wc -l; }

# Several layouts and count patterns: classes, head count, ratio, unlabeled per class.
layouts=("4 40 4 20" "3 30 10 0" "6 5 1 6" "10 20 10 5")
i=0
for layout in "${layouts[@]}"; do
  read -r classes head ratio unl <<<"$layout"
  dir=set$i
  run data synth --format folder --out "$dir" --classes "$classes" --train-per-class "$head" \
    --test-per-class 3 --imbalance-ratio "$ratio" --unlabeled-per-class "$unl" --seed "$i"
  expect_code 0 "data synth $layout"
  labeled=$(files_in "$dir/train")
  unlabeled=0
  [ -d "$dir/unlabeled" ] && unlabeled=$(files_in "$dir/unlabeled")
  for how in "--config $TINY" "--set run.seed=1"; do
    # shellcheck disable=SC2086  # $how is two words
    run data prepare $how --set data.dataset=folder --set "data.root=$dir" --set run.out_dir=p$i --json
    expect_code 0 "data prepare, layout $layout ($how)"
    [ "$(json_sum labeled)" = "$labeled" ] || fail "layout $layout ($how): every labeled image is labeled ($labeled)"
    [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["unlabeled_unknown"])' "$OUT")" = "$unlabeled" ] ||
      fail "layout $layout ($how): every unlabeled image is in the pool ($unlabeled)"
    expect_err "data.protocol: as_is: every labeled and unlabeled image of the folder is used as given" \
      "layout $layout ($how): the log says as_is"
    expect_err "a folder dataset is as_is unless data.protocol is given" "layout $layout ($how): and why"
    rm -rf "p$i"
  done
  run print-config --config "$TINY" --set data.dataset=folder --set "data.root=$dir"
  expect_code 0 "print-config, layout $layout"
  expect_out "  protocol: as_is" "print-config shows as_is"
  expect_err "a folder dataset is as_is unless data.protocol is given" "print-config says why"
  i=$((i + 1))
done

# A run: every labeled file in the manifest, protocol: as_is saved, the reason in crest.log.
run -q train --config "$TINY" --set data.dataset=folder --set data.root=set0 \
  --set crest.mode=fixmatch --set crest.generations=1 --out r0
expect_code 0 "train on a folder without data.protocol"
grep -q "^  protocol: as_is$" r0/config.yaml || fail "the saved config names protocol: as_is"
grep -q "a folder dataset is as_is unless data.protocol is given" r0/crest.log || fail "crest.log says why as_is"
[ "$(grep -o '"train/[^"]*"' r0/split_manifest.json | sort -u | wc -l)" = "$(files_in set0/train)" ] ||
  fail "the manifest lists every labeled file"

# Asked for: a cut, given by --set, in the config file, or in a base, is logged with its counts.
printf 'data:\n  dataset: folder\n  root: set0\n  protocol: crest\n  imbalance_ratio: 5\n  label_fraction: 0.3\n' >cut.yaml
printf 'base: cut.yaml\nrun:\n  seed: 2\n' >cut_child.yaml
for how in "--config $TINY --set data.dataset=folder --set data.root=set0 --set data.protocol=crest" \
  "--config cut.yaml" "--config cut_child.yaml"; do
  # shellcheck disable=SC2086
  run data prepare $how --set run.out_dir=pc --json
  expect_code 0 "data prepare with a cut ($how)"
  kept=$(json_sum labeled)
  [ "$kept" -lt "$(files_in set0/train)" ] || fail "the crest protocol cuts ($how)"
  expect_err "data.protocol crest: of the $(files_in set0/train) labeled images in set0, $kept stay labeled" \
    "the cut is counted in the log ($how)"
  expect_err "data.protocol: as_is keeps all" "the log names as_is ($how)"
  rm -rf pc
done

# Count errors name the protocol in force and what to set, for several settings and datasets.
check_count_error() { # DESCRIPTION NEEDLE ARGS...
  local what=$1 needle=$2
  shift 2
  run data prepare "$@" --set run.out_dir=pe
  expect_code 2 "$what"
  expect_err "$needle" "$what: names the protocol"
  expect_err "data.protocol" "$what: names the key"
  [ ! -e pe/split_manifest.json ] || fail "$what: wrote a manifest"
}
FOLDER=(--config "$TINY" --set data.dataset=folder --set data.root=set1)
check_count_error "crest ratio too high for a folder" "data.protocol is crest, which cuts" \
  "${FOLDER[@]}" --set data.protocol=crest --set data.imbalance_ratio=100
check_count_error "crest label fraction too low for a folder" "set data.protocol: as_is" \
  "${FOLDER[@]}" --set data.protocol=crest --set data.label_fraction=0.01
check_count_error "crest max_per_class too high for a folder" "set data.protocol: as_is" \
  "${FOLDER[@]}" --set data.protocol=crest --set data.max_per_class=500
check_count_error "darp head too large for a folder" "data.protocol is darp, which takes" \
  "${FOLDER[@]}" --set data.protocol=darp
check_count_error "acr head too large for a folder" "data.protocol is acr, which takes" \
  "${FOLDER[@]}" --set data.protocol=acr
check_count_error "synthetic default protocol, ratio too high" "data.protocol is crest, which cuts" \
  --config "$TINY" --set data.imbalance_ratio=1000
check_count_error "crest no unlabeled left" "set data.protocol: as_is" \
  --config "$TINY" --set data.label_fraction=1

# Config bases: merged print-config, the merged config saved, refusals naming the files.
mkdir -p presets/deep mine
printf 'train:\n  epochs: 1\n  steps_per_epoch: 6\nrun:\n  seed: 7\n  threads: 1\n' >presets/root.yaml
{ echo "base: $TINY"; printf 'crest:\n  mode: fixmatch\n  generations: 1\n'; } >presets/deep/tiny_fm.yaml
printf 'base: ../root.yaml\ntrain:\n  steps_per_epoch: 5\n' >presets/deep/mid.yaml
# child -> mid -> root, and a second chain from the absolute tiny base.
printf 'base: ../presets/deep/mid.yaml\nrun:\n  seed: 9\n' >mine/child.yaml
run print-config --config mine/child.yaml
expect_code 0 "print-config of a chain"
for line in "  epochs: 1" "  steps_per_epoch: 5" "  seed: 9" "  threads: 1"; do
  grep -qx -- "$line" "$OUT" || fail "print-config of the chain shows '$line'"
done
grep -q "^base" "$OUT" && fail "print-config shows no base key"
printf 'base: ../presets/deep/tiny_fm.yaml\ndata:\n  dataset: folder\n  root: set0\n' >mine/run.yaml
run print-config --config mine/run.yaml --set run.out_dir=r1
cp "$OUT" merged.yaml
run -q train --config mine/run.yaml --out r1
expect_code 0 "train with a config that has a base"
cmp -s merged.yaml r1/config.yaml || fail "the run folder keeps the merged config"
# The run stays reproducible when the base changes later: its config.yaml is complete.
echo "# edited" >>presets/deep/tiny_fm.yaml && sed -i 's/generations: 1/generations: 3/' presets/deep/tiny_fm.yaml
run print-config --config r1/config.yaml --set run.out_dir=r1
cmp -s "$OUT" merged.yaml || fail "the saved config does not depend on the base file"

# The documented recipe: a user's file on configs/own-data-cpu.yaml.
printf 'base: %s/configs/own-data-cpu.yaml\ndata:\n  root: set0\n' "$SRC" >mine/own.yaml
run print-config --config mine/own.yaml
expect_code 0 "a config on the own-data preset"
for line in "  root: set0" "  protocol: as_is" "  dataset: folder" "  steps_per_epoch: 250"; do
  grep -qx -- "$line" "$OUT" || fail "the own-data preset as a base gives '$line'"
done

refuse() { # DESCRIPTION CONFIG NEEDLE...
  local what=$1 config=$2
  shift 2
  run print-config --config "$config"
  expect_code 2 "$what"
  for needle in "$@"; do expect_err "$needle" "$what"; done
  run -q train --config "$config" --out refused
  expect_code 2 "$what (train)"
  [ ! -e refused ] || fail "$what: train wrote a run folder"
}
printf 'base: nowhere.yaml\n' >mine/missing.yaml
refuse "a missing base" mine/missing.yaml "mine/nowhere.yaml" "mine/missing.yaml"
printf 'base: b.yaml\n' >mine/a.yaml
printf 'base: a.yaml\n' >mine/b.yaml
refuse "a cycle" mine/a.yaml "cycle" "mine/a.yaml -> mine/b.yaml -> mine/a.yaml"
printf -- '- 1\n- 2\n' >mine/list.yaml
printf 'base: list.yaml\n' >mine/of_list.yaml
refuse "a base that is a list" mine/of_list.yaml "mine/list.yaml" "a mapping" "mine/of_list.yaml"
printf 'base: [a.yaml]\n' >mine/base_list.yaml
refuse "a base key that is a list" mine/base_list.yaml "mine/base_list.yaml" "base must be"
printf 'base: 3\n' >mine/base_num.yaml
refuse "a base key that is a number (a missing file)" mine/base_num.yaml "mine/3"
printf 'train:\n  lrr: 1\n' >mine/typo.yaml
printf 'base: typo.yaml\n' >mine/of_typo.yaml
refuse "a base with an unknown key" mine/of_typo.yaml "mine/typo.yaml:2" "train.lrr" "mine/of_typo.yaml"
for k in $(seq 0 16); do printf 'base: d%d.yaml\n' $((k + 1)) >"mine/d$k.yaml"; done
printf 'run:\n  seed: 1\n' >mine/d17.yaml
refuse "a chain too deep" mine/d0.yaml "more than 16 files" "mine/d0.yaml"
run print-config --set base=x
expect_code 2 "--set base is not a key"

finish
