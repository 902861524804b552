# crest data synth: the CIFAR-10 binary layout, refusing to overwrite, bad options.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

run data synth --out s --classes 3 --train-per-class 10 --test-per-class 5 --seed 4
expect_code 0 "small synth"
for k in 1 2 3 4 5; do
  [ "$(stat -c %s s/data_batch_$k.bin)" -eq $((6 * 3073)) ] || fail "data_batch_$k.bin size"
done
[ "$(stat -c %s s/test_batch.bin)" -eq $((15 * 3073)) ] || fail "test_batch.bin size"
[ "$(grep -c . s/batches.meta.txt)" -eq 3 ] || fail "batches.meta.txt should name 3 classes"

run data synth --out s2 --classes 3 --train-per-class 10 --test-per-class 5 --seed 4
cmp -s s/data_batch_1.bin s2/data_batch_1.bin || fail "same seed, different data"
run data synth --out s3 --classes 3 --train-per-class 10 --test-per-class 5 --seed 5
cmp -s s/data_batch_1.bin s3/data_batch_1.bin && fail "other seed, same data"

before=$(md5sum s/test_batch.bin)
run data synth --out s --classes 3 --train-per-class 10 --test-per-class 5 --seed 9
expect_code 2 "existing dataset"
expect_err "refusing to overwrite" "existing dataset"
[ "$(md5sum s/test_batch.bin)" = "$before" ] || fail "refusal changed the data"
run data synth --out s --classes 3 --train-per-class 10 --test-per-class 5 --seed 9 --force
expect_code 0 "--force"

# The written layout reads back as a dataset with its own class count.
run data prepare --set data.dataset=cifar10 --set data.image_size=32 --set data.root=s --set run.out_dir=r \
  --set data.imbalance_ratio=2 --set data.label_fraction=0.5 --json
expect_code 0 "prepare on a 3-class CIFAR-layout folder"
expect_out '"lt_counts":[10,7,5]' "3-class LT counts"

run data synth --out bad --classes 1
expect_code 2 "--classes 1"
expect_err "--classes must be between 2 and 256" "--classes 1"
run data synth --out bad --train-per-class 0
expect_code 2 "--train-per-class 0"
expect_err "--train-per-class must be >= 1" "--train-per-class 0"

finish
