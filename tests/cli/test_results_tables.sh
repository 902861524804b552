# scripts/results_tables.py (the tables of docs/results.md) on a finished tiny run, and its
# errors for folders that lack what it reads.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
TABLES="$SRC/scripts/results_tables.py"
tables() {
  python3 "$TABLES" "$@" >"$OUT" 2>"$ERR"
  CODE=$?
}

run -q train --config "$TINY" --out r
expect_code 0 "training the tiny config"

tables r
expect_code 0 "tables of a finished run"
expect_out "#### r" "run heading"
expect_out "| gen | t_g | labeled (pseudo) | accuracy |" "generation table"
expect_out "| 1 | " "generation 1 row"
expect_out "Training signals" "training table"
expect_out "Test recall per class" "per-class recall"
expect_out "0 selected/predicted" "selection of generation 0"
expect_out "0 expected from test" "expected precision row"
# Every generation row carries numbers, not blanks.
grep -E '^\| 0 \| 1\.00 \| [0-9]+ \(0\) \| [0-9.]+ \|' "$OUT" >/dev/null ||
  fail "generation 0 row is malformed"

tables
expect_code 2 "no argument"
tables missing
expect_code 2 "a folder that does not exist"
expect_err "missing is not a run folder" "message names the folder"

cp -r r broken
rm broken/gen_1/per_class.csv
tables broken
expect_code 2 "a generation without per_class.csv"
expect_err "broken/gen_1/per_class.csv" "message names the missing file"

cp -r r oldcsv
sed -i '1s/minority_recall/minority_rec/' oldcsv/generations.csv
tables oldcsv
expect_code 2 "generations.csv without a column"
expect_err "no column 'minority_recall'" "message names the column"

mkdir empty && head -1 r/generations.csv >empty/generations.csv
tables empty
expect_code 2 "a run with no finished generation"
expect_err "no finished generation" "message says why"

finish
