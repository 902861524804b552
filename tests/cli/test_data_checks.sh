# Data is checked before training: valid CIFAR-100 (fine labels 0..99) is accepted, degenerate
# splits, empty data files and multi-document configs are refused with exit 2 naming the file,
# class or key, and minority classes follow the class profile behind the CReST rates.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

# Synthetic CIFAR-100 layout: 1 coarse byte, 1 fine byte, 3072 pixel bytes; labels 0..99. The
# first pixel bytes spell the file and the record, so that no image repeats another (exact
# duplicates across the sets are refused: test_data_leaks.sh).
mkdir c100
for file in train.bin test.bin; do
  for r in $(seq 0 199); do
    f=$((r % 100))
    printf "$(printf '\\%03o\\%03o' $((f / 5)) "$f")"
    printf '%s%04d' "${file:0:2}" "$r"
    head -c 3066 /dev/zero
  done >"c100/$file"
done
[ "$(wc -c <c100/train.bin)" -eq $((200 * 3074)) ] || fail "the CIFAR-100 sample has the wrong size"
run data prepare --set data.dataset=cifar100 --set data.image_size=32 --set data.root=c100 --set run.out_dir=p100 \
  --set data.imbalance_ratio=2 --set data.label_fraction=0.5 --json
expect_code 0 "CIFAR-100 with fine labels 0..99"
expect_out '"worm"' "the 100th class name"
expect_out '"test":[2,2,2' "two test images per class"

# A class with no image in the long-tailed set (gamma larger than N_max allows).
run data prepare --config "$TINY" --set data.synthetic.train_per_class=100 \
  --set data.synthetic.classes=10 --set data.imbalance_ratio=1000 --set run.out_dir=g1000
expect_code 2 "gamma 1000 with 100 images per class"
expect_err "class 7" "names the first empty class"
expect_err "0 images in the long-tailed set" "says what is wrong"
expect_err "data.imbalance_ratio = 1000" "names the setting"
[ -e g1000/split_manifest.json ] && fail "a degenerate split was written"
run -q train --config "$TINY" --set data.synthetic.train_per_class=100 \
  --set data.synthetic.classes=10 --set data.imbalance_ratio=1000 --out g1000run
expect_code 2 "train refuses it too, before training"
[ -e g1000run/config.yaml ] && fail "the refused run left a config.yaml"

# A class with no labeled image (darp: N_1 too small for gamma_l).
run data prepare --config "$TINY" --set data.protocol=darp --set data.num_labeled_head=2 \
  --set data.imbalance_ratio_labeled=5 --set data.num_unlabeled_head=20 \
  --set data.imbalance_ratio_unlabeled=2 --set run.out_dir=darp0
expect_code 2 "0 labeled images in a class"
expect_err "0 labeled images" "says what is wrong"
expect_err "data.num_labeled_head = 2" "names the setting"

# No unlabeled image at all.
run data prepare --config "$TINY" --set data.label_fraction=1 --set run.out_dir=beta1
expect_code 2 "label fraction 1"
expect_err "no unlabeled images" "says what is wrong"

# Empty (0-byte) data files are named.
run data synth --out c10 --classes 4 --train-per-class 20 --test-per-class 5
expect_code 0 "synth"
: >c10/test_batch.bin
run data prepare --set data.dataset=cifar10 --set data.image_size=32 --set data.root=c10 --set run.out_dir=e10
expect_code 2 "empty test_batch.bin"
expect_err "c10/test_batch.bin is empty (0 bytes)" "names the empty file"

# A config file with two YAML documents.
printf 'data:\n  fold: 2\n---\ndata:\n  fold: 3\n' >two.yaml
run print-config --config two.yaml
expect_code 2 "two YAML documents"
expect_err "two.yaml" "names the file"
expect_err "2 YAML documents" "says what is wrong"

# Minority classes follow the class profile behind mu_l: with the darp protocol's reversed
# unlabeled set the labeled + unlabeled totals (18 18 26 42) would call class 1 the minority.
run -q train --config "$TINY" --set crest.generations=1 --set data.protocol=darp \
  --set data.num_labeled_head=10 --set data.imbalance_ratio_labeled=5 \
  --set data.num_unlabeled_head=40 --set data.imbalance_ratio_unlabeled=-5 --out darp
expect_code 0 "darp with a reversed unlabeled set"
tr -d ' \n' <darp/summary.json | grep -q '"minority_classes":\[3\]' ||
  fail "minority classes are not the tail of the labeled profile: $(grep -A3 minority_classes darp/summary.json)"
tr -d ' \n' <darp/summary.json | grep -q '"majority_classes":\[0\]' || fail "majority classes"

finish
