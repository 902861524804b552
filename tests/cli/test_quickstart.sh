# The README's first command, at half its schedule to keep CI short (7 of the quickstart's 14
# epochs a generation): crest train on the embedded quickstart (synthetic 16-pixel data,
# WRN-10-1, 3 generations of CReST+). Trains well above chance, and every per-generation file
# exists and agrees with the others. Whether the full quickstart shows CReST working (rare
# recall up, accuracy not down) is scripts/check_quickstart.sh's check, minutes a seed; its
# argument handling and its checks are tested first, below, on fake run folders.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
# crest as a user starts it, re-executing itself for passive OpenMP waiting (lib.sh).
keep_crest_reexec

# --- scripts/check_quickstart.sh: its arguments and its checks, on fake run folders -----------
CHECK="$SRC/scripts/check_quickstart.sh"
header="generation,t,labeled,pseudo_labeled,accuracy,mean_recall,mean_precision,minority_recall"
# fake_run DIR SEED "ACC0 RARE0" "ACC1 RARE1" ...: DIR/seed_SEED/generations.csv, one row a generation.
fake_run() {
  local dir=$1 seed=$2 g=0 row
  shift 2
  mkdir -p "$dir/seed_$seed"
  echo "$header" >"$dir/seed_$seed/generations.csv"
  for row in "$@"; do
    set -- $row
    echo "$g,1.0,100,0,$1,$1,0.5,$2" >>"$dir/seed_$seed/generations.csv"
    g=$((g + 1))
  done
}
# check ARGS...: runs the checker, stdout and stderr in $OUT and $ERR, exit code in $CODE.
check() {
  bash "$CHECK" "$@" >"$OUT" 2>"$ERR"
  CODE=$?
}

fake_run good 0 "0.50 0.20" "0.55 0.30" "0.60 0.40"
fake_run good 1 "0.52 0.25" "0.52 0.26"            # accuracy equal: passes
fake_run good 2 "0.40 0.10" "0.39 0.30" "0.41 0.11" # only the last generation counts
echo 12.5 >good/seed_0.wall_seconds
check --check-only good
expect_code 0 "checker: every seed passes"
expect_out "every seed passed" "checker: pass message"
grep -qE '^0 +0\.5000 +0\.6000 +0\.2000 +0\.4000 +12\.5$' "$OUT" || fail "checker: table row of seed 0"
grep -qE '^2 +0\.4000 +0\.4100 +0\.1000 +0\.1100 +-$' "$OUT" || fail "checker: table row of seed 2"
check --check-only --seeds 1,2 good
expect_code 0 "checker: comma-separated seeds"
[ "$(grep -cE '^[0-9] ' "$OUT")" -eq 2 ] || fail "checker: one row for each of --seeds 1,2"

# Each way a seed can fail, alone: exit 1 naming the seed and the reason.
for case in "rare_equal|0.50 0.20|0.60 0.20|rare-class recall did not rise" \
            "rare_falls|0.50 0.20|0.60 0.19|rare-class recall did not rise" \
            "acc_falls|0.50 0.20|0.499 0.40|accuracy fell" \
            "both_fall|0.50 0.20|0.40 0.10|accuracy fell"; do
  IFS='|' read -r name first last reason <<<"$case"
  fake_run "$name" 0 "0.5 0.2" "0.6 0.3"
  fake_run "$name" 1 "$first" "0.9 0.9" "$last"
  fake_run "$name" 2 "0.5 0.2" "0.6 0.3"
  check --check-only "$name"
  expect_code 1 "checker: $name"
  expect_err "FAIL seed 1: $reason" "checker: $name names seed 1"
  grep -q "FAIL seed [02]" "$ERR" && fail "checker: $name blames a passing seed"
done

# Unreadable results and bad arguments: exit 2 with a message naming the problem.
fake_run short 0 "0.5 0.2"
check --check-only --seeds 0 short
expect_code 2 "checker: one generation only"
expect_err "need generation 0 and a later one" "checker: one generation only"
fake_run nan 0 "0.5 0.2" "nan 0.3"
check --check-only --seeds 0 nan
expect_code 2 "checker: nan accuracy"
expect_err "'nan' is not a number" "checker: nan accuracy"
mkdir -p nocol/seed_0 && printf 'generation,accuracy\n0,0.5\n1,0.6\n' >nocol/seed_0/generations.csv
check --check-only --seeds 0 nocol
expect_code 2 "checker: no minority_recall column"
expect_err "lacks the accuracy or minority_recall column" "checker: missing column"
check --check-only --seeds "0 3" good
expect_code 2 "checker: a seed without a run"
expect_err "good/seed_3/generations.csv is missing" "checker: missing run names its file"
check --help
expect_code 0 "checker: --help"
expect_out "Usage: scripts/check_quickstart.sh" "checker: --help prints the usage"
check --check-only
expect_code 2 "checker: no OUT_DIR"
expect_err "missing OUT_DIR" "checker: no OUT_DIR"
check --check-only a b
expect_code 2 "checker: two OUT_DIRs"
check --frobnicate good
expect_code 2 "checker: unknown option"
expect_err "unknown option '--frobnicate'" "checker: unknown option"
for bad in "x" "-1" "1.5" ""; do
  check --check-only --seeds "$bad" good
  expect_code 2 "checker: seed '$bad'"
done
check --crest ./no-such-crest fresh
expect_code 2 "checker: missing crest executable"
expect_err "'./no-such-crest' not found" "checker: missing crest executable"
[ -e fresh ] && fail "checker: created OUT_DIR before refusing"
check --crest "$CREST" --seeds 0 good
expect_code 2 "checker: refuses to train over a run folder"
expect_err "good/seed_0 already exists" "checker: existing run folder"
for bad in 0 x -2; do
  check --check-only --jobs "$bad" good
  expect_code 2 "checker: --jobs $bad"
  expect_err "--jobs needs a whole number >= 1" "checker: --jobs $bad"
done

# Training through a stand-in crest that writes a run folder: seed 1's rare recall falls.
cat >fake-crest <<'FAKE'
#!/usr/bin/env bash
out="" seed=""
for a in "$@"; do
  [ "$prev" = "--out" ] && out=$a
  case "$a" in run.seed=*) seed=${a#run.seed=} ;; esac
  prev=$a
done
mkdir -p "$out" && echo "$*" >"$out/args"
[ "$seed" = 9 ] && { echo "training failed" >&2; exit 3; }
printf 'generation,accuracy,minority_recall\n0,0.5,0.20\n1,0.6,0.%s\n' "$((3 - seed))" >"$out/generations.csv"
FAKE
chmod +x fake-crest
check --crest ./fake-crest --seeds "0 2" --jobs 2 trained -- --set train.amp=off
expect_code 1 "checker: trains each seed and checks it"
expect_err "FAIL seed 2: rare-class recall did not rise" "checker: the trained seed that fails"
grep -q "FAIL seed 0" "$ERR" && fail "checker: blames trained seed 0"
[ "$(cat trained/seed_0/args)" = "-q train --out trained/seed_0 --set run.seed=0 --set train.amp=off" ] ||
  fail "checker: crest train arguments: $(cat trained/seed_0/args)"
grep -qE '^0 +0\.5000 +0\.6000 +0\.2000 +0\.3000 +[0-9.]+$' "$OUT" || fail "checker: trained row with wall seconds"
check --crest ./fake-crest --seeds "0 9" trained9
expect_code 1 "checker: a failing crest train"
expect_err "crest train failed for seed 9" "checker: a failing crest train"

# --- the quickstart itself, shortened -----------------------------------------------------------

run train --out q --set train.epochs=7
expect_code 0 "quickstart"
expect_out "gen     t  labeled" "per-generation table header"
expect_out "last generation 2" "last generation line"
# The table is printed again after each generation: 1 + 2 + 3 rows.
[ "$(grep -cE '^ +[0-9]+ +[0-9.]+ +[0-9]+ ' "$OUT")" -eq 6 ] || fail "table rows after each generation"

# Generations table: header + 3 rows, t = 1.0, 0.65, 0.3 (crest.t_min 0.3).
[ "$(wc -l <q/generations.csv)" -eq 4 ] || fail "generations.csv rows"
[ "$(cut -d, -f2 q/generations.csv | tail -3 | tr '\n' ' ')" = "1.000000 0.650000 0.300000 " ] ||
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
  [ "$(wc -l <"$d/metrics.jsonl")" -eq 7 ] || fail "$d/metrics.jsonl: one line per epoch"
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
