# The README's first command, at half its schedule to keep CI short (6 of the quickstart's 12
# epochs a generation): crest train on the embedded quickstart (synthetic data, WRN-10-1,
# 3 generations of CReST+). Trains well above chance, and every per-generation file exists and
# agrees with the others.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

run train --out q --set train.epochs=6
expect_code 0 "quickstart"
expect_out "gen      t  labeled" "per-generation table header"
expect_out "last generation 2" "last generation line"
# The table is printed again after each generation: 1 + 2 + 3 rows.
[ "$(grep -cE '^ +[0-9]+ +[0-9.]+ +[0-9]+ ' "$OUT")" -eq 6 ] || fail "table rows after each generation"

# Generations table: header + 3 rows, t = 1.0, 0.75, 0.5.
[ "$(wc -l <q/generations.csv)" -eq 4 ] || fail "generations.csv rows"
[ "$(cut -d, -f2 q/generations.csv | tail -3 | tr '\n' ' ')" = "1.000000 0.750000 0.500000 " ] ||
  fail "t_g schedule in generations.csv"
# Well above chance (0.1) after generation 0.
acc0=$(awk -F, 'NR == 2 { print $5 }' q/generations.csv)
awk -v a="$acc0" 'BEGIN { exit !(a > 0.3) }' || fail "generation 0 accuracy $acc0 is not well above chance"

for g in 0 1 2; do
  d=q/gen_$g
  for f in metrics.jsonl per_class.csv confusion.csv summary.json pseudo_labels.csv \
           selection.json labeled_distribution.csv generation.json checkpoint.pt; do
    [ -s "$d/$f" ] || fail "missing $d/$f"
  done
  [ "$(wc -l <"$d/metrics.jsonl")" -eq 6 ] || fail "$d/metrics.jsonl: one line per epoch"
  # Confusion matrix covers the 1000 test images.
  total=$(awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) s += $i } END { print s }' "$d/confusion.csv")
  [ "$total" -eq 1000 ] || fail "$d/confusion.csv sums to $total"
  # The selection's count matches pseudo_labels.csv and its per-class counts.
  rows=$(($(wc -l <"$d/pseudo_labels.csv") - 1))
  sel=$(grep -o '"selected_total": [0-9]*' "$d/selection.json" | grep -o '[0-9]*$')
  [ "$rows" -eq "$sel" ] || fail "$d: $rows pseudo-label rows but selected_total $sel"
  per_class=$(tr -d ' \n' <"$d/selection.json" | grep -o '"selected":\[[0-9,]*\]' | grep -o '[0-9,]*' |
    tr ',' '\n' | awk '{ s += $1 } END { print s }')
  [ "$per_class" -eq "$sel" ] || fail "$d: per-class selected add up to $per_class, not $sel"
  # Precision against the hidden labels agrees with the rows.
  right=$(awk -F, 'NR > 1 && $2 == $4' "$d/pseudo_labels.csv" | wc -l)
  gen_sel=$(awk -F, -v g="$g" 'NR == g + 2 { print $11 }' q/generations.csv)
  [ "$gen_sel" -eq "$sel" ] || fail "generations.csv selected for $g"
  [ "$right" -le "$sel" ] || fail "$d: more correct than selected"
done

# Generation g+1 trains on the labeled set plus exactly the selection of generation g.
for g in 0 1; do
  sel=$(($(wc -l <"q/gen_$g/pseudo_labels.csv") - 1))
  pseudo=$(awk -F, 'NR > 1 { s += $4 } END { print s }' "q/gen_$((g + 1))/labeled_distribution.csv")
  [ "$pseudo" -eq "$sel" ] || fail "gen_$((g + 1)) pseudo-labeled $pseudo, gen_$g selected $sel"
done
# Nothing accumulates: generation 2's labeled set is the original one plus gen 1's selection.
orig=$(awk -F, 'NR > 1 { s += $3 } END { print s }' q/gen_2/labeled_distribution.csv)
[ "$orig" -eq "$(awk -F, 'NR > 1 { s += $3 } END { print s }' q/gen_0/labeled_distribution.csv)" ] ||
  fail "the original labeled set changed between generations"

grep -q '"last_generation": 2' q/summary.json || fail "summary.json names the last generation"
finish
