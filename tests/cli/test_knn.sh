# crest.selection=knn (DML-PL's pseudo-labelling, crest's rules) on the tiny config, three
# generations (two rounds): the pseudo-labels accumulate, no image is labeled twice, and the last
# generation trains on every unlabeled-only image; selection.json carries the knn record and
# pseudo_labels.csv the agreement and distance; SIGKILL in generation 1 and --resume ends exactly
# where the uninterrupted run ends; report shows the rounds; refused keys and combinations exit 2
# naming the key; a resume refuses a selection that relabels an image of an earlier round.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
KNN=(--set crest.selection=knn --set crest.generations=3 --set crest.knn_clusters=2
  --set crest.knn_neighbours=5 --set crest.knn_agreement=0.6)

# check_knn_run DIR: the records of a finished three-generation knn run.
check_knn_run() {
  python3 - "$1" <<'PY' || fail "$1: the knn records"
import csv, json, sys
run = sys.argv[1]
sel = [json.load(open(f"{run}/gen_{g}/selection.json")) for g in (0, 1)]
pool = sel[0]["pool"]
seen = []
for g, s in enumerate(sel):
    assert s["policy"] == "knn", s["policy"]
    k = s["knn"]
    assert k["round"] == g and k["rounds"] == 2, k
    rows = list(csv.DictReader(open(f"{run}/gen_{g}/pseudo_labels.csv")))
    assert len(rows) == s["selected_total"], (len(rows), s["selected_total"])
    for r in rows:
        assert 0 <= float(r["confidence"]) <= 1 and 0 <= float(r["distance"]) <= 2, r
    counts = [sum(int(r["predicted"]) == c for r in rows) for c in range(len(s["classes"]))]
    assert counts == s["selected"], (counts, s["selected"])
    assert all(a <= b <= c for a, b, c in zip(s["selected"], k["eligible"], s["predicted"]))
    assert k["labeled_before"] == len(seen) and s["pool"] == pool - len(seen), k
    seen += [int(r["index"]) for r in rows]
assert sel[0]["knn"]["quota"] == -(-pool // 2), sel[0]["knn"]  # auto: half of the pool
assert sel[1]["knn"]["min_agreement"] == 0 and sel[1]["knn"]["left_after"] == 0, sel[1]["knn"]
assert len(seen) == len(set(seen)) == pool, (len(seen), len(set(seen)), pool)
last = json.load(open(f"{run}/gen_2/generation.json"))
assert last["row"]["pseudo_labeled"] == pool, last["row"]
import os
assert not os.path.exists(f"{run}/gen_2/pseudo_labels.csv"), "the last generation selects none"
PY
}

run -q train --config "$TINY" --out whole "${KNN[@]}"
expect_code 0 "knn run"
check_knn_run whole
grep -q "selection: knn" whole/config.yaml || fail "config.yaml records the policy"
grep -q "knn round 2 of 2: .* 0 left: the last generation trains on every unlabeled image" \
  whole/crest.log || fail "crest.log says the last round labeled every image left"

# Kill and resume: bit for bit the uninterrupted run, the accumulated selection included.
kill_in_generation_1 killed -q train --config "$TINY" "${KNN[@]}"
run -q train --config "$TINY" --out killed --resume "${KNN[@]}"
expect_code 0 "resumed knn run"
expect_same_generations whole killed
for f in summary.json generation.json labeled_distribution.csv; do
  cmp -s "whole/gen_2/$f" "killed/gen_2/$f" || fail "gen_2/$f differs after the resume"
done

# The report shows the rounds.
run report whole
expect_code 0 "report of a knn run"
grep -q "Nearest-neighbour rounds" whole/report.html || fail "report.html has the knn rounds"
grep -q "nearest its clusters" whole/report.html || fail "report.html has the per-class knn table"

# Other rules: global order, a fixed quota, all anchors, no agreement: still every image labeled.
run -q train --config "$TINY" --out variant "${KNN[@]}" --set crest.knn_order=global \
  --set crest.knn_quota=0.2 --set crest.knn_anchors=all --set crest.knn_agreement=0 \
  --set crest.mode=crest --set crest.knn_kmeans_iterations=0
expect_code 0 "knn with the other rules"
python3 - <<'PY' || fail "variant: a fixed quota of 0.2 of the pool, then the rest"
import json
s0 = json.load(open("variant/gen_0/selection.json"))
s1 = json.load(open("variant/gen_1/selection.json"))
pool = s0["pool"]
assert s0["knn"]["quota"] == -(-pool * 2 // 10) and s0["selected_total"] == s0["knn"]["quota"], s0
assert s1["selected_total"] == pool - s0["selected_total"] and s1["knn"]["left_after"] == 0, s1
assert s1["knn"]["anchors"] == s0["knn"]["anchors"] + s0["selected_total"], (s0["knn"], s1["knn"])
PY

# A resume that finds an image relabeled by a later round refuses it (exit 2, naming the file).
kill_in_generation 2 tampered -q train --config "$TINY" "${KNN[@]}"
python3 - <<'PY'
import csv
rows0 = list(csv.reader(open("tampered/gen_0/pseudo_labels.csv")))
rows1 = list(csv.reader(open("tampered/gen_1/pseudo_labels.csv")))
rows1[1][0] = rows0[1][0]
csv.writer(open("tampered/gen_1/pseudo_labels.csv", "w", newline=""), lineterminator="\n").writerows(rows1)
PY
run -q train --config "$TINY" --out tampered --resume "${KNN[@]}"
expect_code 2 "resume over a relabeled image"
expect_err "gen_1/pseudo_labels.csv" "the message names the tampered file"

# Refused keys, values and combinations: exit 2 naming the key; no run folder made.
for bad in crest.selection=nearest crest.knn_clusters=0 crest.knn_clusters=2.5 \
  crest.knn_neighbours=0 crest.knn_neighbours=-3 crest.knn_agreement=1.5 \
  crest.knn_agreement=-0.1 crest.knn_quota=-0.2 crest.knn_quota=1.01 crest.knn_anchors=pseudo \
  crest.knn_order=random crest.knn_kmeans_iterations=-1 crest.knn_kmeans_iterations=abc \
  crest.warm_start=maybe crest.knn=3; do
  run -q train --config "$TINY" --out bad "${KNN[@]}" --set "$bad"
  expect_code 2 "--set $bad"
  expect_err "${bad%%=*}" "the message names ${bad%%=*}"
done
run -q train --config "$TINY" --out bad "${KNN[@]}" --set crest.mode=fixmatch
expect_code 2 "knn with crest.mode fixmatch"
expect_err "crest.selection=knn needs self-training generations" "fixmatch message"
for g in 1; do
  run -q train --config "$TINY" --out bad "${KNN[@]}" --set crest.generations=$g
  expect_code 2 "knn with crest.generations=$g"
  expect_err "needs crest.generations of at least 2" "generations message"
done
[ -e bad ] && fail "a refused config must not create the run folder"

finish
