# crest data prepare: the per-class table, --json, the manifest, and the guard that keeps a
# manifest of another split from being overwritten.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# The embedded quickstart (synthetic, 1000 images of the head class, gamma 20, beta 0.1).
run data prepare --set run.out_dir=q --json
expect_code 0 "quickstart --json"
expect_out '"lt_counts":[1000,716,513,368,264,189,135,97,69,50]' "quickstart LT counts"
expect_out '"labeled":[100,72,52,37,27,19,14,10,7,5]' "quickstart labeled counts"
expect_out '"test":[100,100,100,100,100,100,100,100,100,100]' "quickstart test counts"
[ "$(wc -l <"$OUT")" -eq 1 ] || fail "--json must print exactly one line"
[ -s q/split_manifest.json ] || fail "no split manifest in the run folder"
[ -s q/crest.log ] || fail "no log file in the run folder"
grep -q '"labeled_indices"' q/split_manifest.json || fail "manifest lacks labeled_indices"
grep -q '"train_fingerprint"' q/split_manifest.json || fail "manifest lacks the fingerprint"

run data prepare --set run.out_dir=q
expect_code 0 "table, same split again"
expect_out "class  name" "table header"
expect_out "total" "table totals"

before=$(md5sum q/split_manifest.json)
run data prepare --set run.out_dir=q --set data.fold=2
expect_code 2 "another split into the same run folder"
expect_err "already holds the manifest of a different split" "overwrite guard"
[ "$(md5sum q/split_manifest.json)" = "$before" ] || fail "the guard changed the manifest"
run data prepare --set run.out_dir=q --set data.fold=2 --force
expect_code 0 "--force replaces it"

# A CIFAR-10-sized dataset in the CIFAR-10 binary layout: the paper's counts.
run data synth --out c10 --train-per-class 5000 --test-per-class 1000
expect_code 0 "synth CIFAR-10 sized"
run data prepare --set data.dataset=cifar10 --set data.image_size=32 --set data.root=c10 --set run.out_dir=c10run \
  --set data.imbalance_ratio=100 --set data.label_fraction=0.1 --json
expect_code 0 "CIFAR-10 layout, gamma 100, beta 0.1"
expect_out '"lt_counts":[5000,2997,1796,1077,645,387,232,139,83,50]' "CIFAR-10 gamma=100 counts"
expect_out '"labeled":[500,300,180,108,65,39,24,14,9,5]' "CIFAR-10 beta=0.1 labeled counts"
expect_out '"test":[1000,1000,1000,1000,1000,1000,1000,1000,1000,1000]' "test counts"

# Missing data points to the download script, and exits 2.
run data prepare --config "$SRC/configs/cifar10lt.yaml" --set data.root=nowhere \
  --set run.out_dir=r
expect_code 2 "missing CIFAR folder"
expect_err "download_cifar.sh" "missing data names the download script"

# A truncated file is named.
cp -r c10 broken
truncate -s 1000 broken/data_batch_3.bin
run data prepare --set data.dataset=cifar10 --set data.image_size=32 --set data.root=broken --set run.out_dir=r2
expect_code 2 "truncated batch"
expect_err "data_batch_3.bin" "truncated batch named"

finish
