# data.protocol acr: ACR's (and SeMi's) train_split on a CIFAR-layout folder, against a Python
# transcription of make_imb_data and train_split over the records in file order; the
# reference's overlap of its unlabeled set with the labeled images is not a duplicate, while a
# real copy (test in labeled, labeled in unlabeled) still is; ACR inside CReST+ for two
# generations never pseudo-labels an original labeled image and grows the labeled set by exactly
# its selection; bad values exit 2 naming the key.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

run data synth --out cif --classes 4 --train-per-class 60 --test-per-class 20 --seed 7
expect_code 0 "data synth (CIFAR layout)"
# N_1 20, M_1 30, gamma_l 5, gamma_u 3 reversed: labeled 20 11 6 4, unlabeled 10 14 20 30.
SPLIT=(--config "$TINY" --set data.dataset=cifar10 --set data.protocol=acr
  --set data.num_labeled_head=20 --set data.num_unlabeled_head=30
  --set data.imbalance_ratio_labeled=5 --set data.imbalance_ratio_unlabeled=-3)

# check_split ROOT MANIFEST N1 M1 GAMMA_L GAMMA_U: the manifest's indices are what the reference
# takes from ROOT's records (crest's unlabeled part: the reference's unlabeled set less the
# labeled images, which it marks -2).
check_split() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
import numpy as np
root, manifest, n1, m1, gamma_l, gamma_u = sys.argv[1:]
labels = []
for i in range(1, 6):
    data = open(f"{root}/data_batch_{i}.bin", "rb").read()
    labels += list(data[:: 1 + 3 * 32 * 32])
def make_imb_data(max_num, class_num, gamma, flag=1, flag_LT=0):
    mu = np.power(1 / gamma, 1 / (class_num - 1))
    out = [int(max_num / gamma) if i == class_num - 1 else int(max_num * np.power(mu, i))
           for i in range(class_num)]
    return list(reversed(out)) if flag == 0 and flag_LT == 1 else out
C = max(labels) + 1
gu = float(gamma_u)
l_samples = make_imb_data(int(n1), C, float(gamma_l), 1, 0)
u_samples = make_imb_data(int(m1), C, abs(gu), 0, int(gu < 0))
labeled, unlabeled = [], []
for c in range(C):
    idxs = np.where(np.array(labels) == c)[0]
    labeled += [int(i) for i in idxs[:l_samples[c]]]
    unlabeled += [int(i) for i in idxs[:l_samples[c] + u_samples[c]]]
m = json.load(open(manifest))
assert m["labeled_indices"] == sorted(labeled), "labeled_indices are not the reference's"
assert m["unlabeled_indices"] == sorted(set(unlabeled) - set(labeled)), "unlabeled_indices"
assert m["labeled_counts"] == l_samples, (m["labeled_counts"], l_samples)
assert m["unlabeled_counts"] == u_samples, (m["unlabeled_counts"], u_samples)
assert m["settings"]["protocol"] == "acr", m["settings"]
PY
}

for case in "20 30 5 -3" "20 30 5 3" "30 25 10 1" "12 40 3 -2"; do
  read -r n1 m1 gl gu <<<"$case"
  run data prepare "${SPLIT[@]}" --set data.root=cif --set run.out_dir="prep_$n1$gu" \
    --set data.num_labeled_head="$n1" --set data.num_unlabeled_head="$m1" \
    --set data.imbalance_ratio_labeled="$gl" --set data.imbalance_ratio_unlabeled="$gu"
  expect_code 0 "data prepare, protocol acr, N_1 $n1 M_1 $m1 gamma $gl/$gu"
  expect_out "data.protocol acr: the unlabeled set is these" "the table says what is unlabeled"
  check_split cif "prep_$n1$gu/split_manifest.json" "$n1" "$m1" "$gl" "$gu" >"$OUT" 2>"$ERR" ||
    fail "the acr split of N_1 $n1 M_1 $m1 gamma $gl/$gu is not the reference's"
done
# The fold does not change it.
run data prepare "${SPLIT[@]}" --set data.root=cif --set run.out_dir=fold3 --set data.fold=3
expect_code 0 "data prepare with another fold"
cmp -s <(grep -v '"fold"' prep_20-3/split_manifest.json | grep -v crest_version) \
  <(grep -v '"fold"' fold3/split_manifest.json | grep -v crest_version) ||
  fail "data.fold changed the acr split"

# A real copy is still refused: a test image over the first class-0 record (labeled), or the
# first class-0 record over the 21st (class 0's first unlabeled image).
copy_record() {  # ROOT FROM_FILE FROM_RECORD TO_RECORD_OF_CLASS0 (the K-th class-0 record)
  /usr/bin/python3 - "$@" <<'PY'
import sys
root, src, k_from, k_to = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
size = 1 + 3 * 32 * 32
image = open(f"{root}/{src}", "rb").read()[k_from * size + 1:(k_from + 1) * size]
data = bytearray(open(f"{root}/data_batch_1.bin", "rb").read())
zeros = [r for r in range(len(data) // size) if data[r * size] == 0]
if src == "data_batch_1.bin":
    image = bytes(data[zeros[k_from] * size + 1:(zeros[k_from] + 1) * size])
r = zeros[k_to]
data[r * size + 1:(r + 1) * size] = image
open(f"{root}/data_batch_1.bin", "wb").write(data)
PY
}
cp -r cif leak_test && copy_record leak_test test_batch.bin 0 0
run data prepare "${SPLIT[@]}" --set data.root=leak_test --set run.out_dir=lt
expect_code 2 "a test image among the labeled ones"
expect_err "test and labeled: 1 image(s) in both" "names the pair of sets"
cp -r cif leak_lu && copy_record leak_lu data_batch_1.bin 0 5
# With N_1 5 (class 0: 5 labeled), the 6th class-0 record is class 0's first unlabeled image.
run data prepare "${SPLIT[@]}" --set data.root=leak_lu --set run.out_dir=lu \
  --set data.num_labeled_head=5
expect_code 2 "a labeled image copied into the unlabeled part"
expect_err "labeled and unlabeled: 1 image(s) in both" "names the pair of sets"
expect_err "data.duplicates" "names the key"

# ACR inside CReST+, two generations, on the acr split.
run -q train "${SPLIT[@]}" --set data.root=cif --set train.algorithm=acr \
  --set acr.est_epoch=0 --out acr
expect_code 0 "acr inside CReST+ on the acr split"
grep -q "data.protocol acr (ACR's train_split" acr/crest.log || fail "the log says what the split is"
/usr/bin/python3 - acr >"$OUT" 2>"$ERR" <<'PY' || fail "the selection: $(cat "$ERR")"
import csv, json, sys
run = sys.argv[1]
m = json.load(open(f"{run}/split_manifest.json"))
labeled = set(m["labeled_indices"])
rows = list(csv.DictReader(open(f"{run}/gen_0/pseudo_labels.csv")))
assert rows, "generation 0 selected nothing"
picked = [int(r["index"]) for r in rows]
assert not labeled & set(picked), f"pseudo-labels of labeled images: {sorted(labeled & set(picked))}"
assert set(picked) <= set(m["unlabeled_indices"]), "a pseudo-label outside the unlabeled part"
gens = list(csv.DictReader(open(f"{run}/generations.csv")))
assert int(gens[0]["labeled"]) == len(labeled), gens[0]
assert int(gens[1]["labeled"]) == len(labeled) + len(picked), (gens[1], len(picked))
assert int(gens[1]["pseudo_labeled"]) == len(picked), gens[1]
PY

# Refused: exit 2 naming the key, no run folder.
bad_run() {  # DESCRIPTION KEY ARGS...
  local what=$1 key=$2
  shift 2
  run -q train "${SPLIT[@]}" --set data.root=cif --out bad "$@"
  expect_code 2 "$what"
  expect_err "$key" "$what: names $key"
  [ -e bad/config.yaml ] && fail "$what: the refused run left bad/config.yaml"
  rm -rf bad
}
bad_run "M_1 larger than a class holds" data.num_unlabeled_head --set data.num_unlabeled_head=60
bad_run "N_1 larger than a class holds" data.num_labeled_head --set data.num_labeled_head=61
bad_run "no unlabeled images" data.num_unlabeled_head --set data.num_unlabeled_head=0
bad_run "protocol spelt in capitals" data.protocol --set data.protocol=ACR
bad_run "|gamma_u| below 1" data.imbalance_ratio_unlabeled \
  --set data.imbalance_ratio_unlabeled=0.5
bad_run "gamma_l below 1" data.imbalance_ratio_labeled --set data.imbalance_ratio_labeled=0.5
# A resume on another split: the manifest names what changed.
run -q train "${SPLIT[@]}" --set data.root=cif --set train.algorithm=acr --set acr.est_epoch=0 \
  --out acr --resume --set data.protocol=darp
expect_code 2 "resume of an acr run with the darp protocol"
expect_err "data.protocol" "the refused resume names data.protocol"

finish
