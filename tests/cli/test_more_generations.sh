# crest train --resume --generations N gives a finished run more generations (#30): the new
# generations are those an uninterrupted N-generation run trains (same weight fingerprints,
# same table) wherever crest.generations changes nothing else (crest.mode crest, crest.t_schedule
# constant, and runs of one generation under the linear schedule, whose t_0 is 1); under the
# linear schedule a run of 2+ generations continues with a warning saying why it differs.
# Fewer generations than planned are refused, exit 2, the folder unchanged.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

fingerprint() { grep -o '"ema_fingerprint": *"[0-9a-f]*"' "$1/gen_$2/summary.json"; }

# name, the settings, the generations of the first part, the generations in all
continue_exactly() {
  local name=$1 set=$2 first=$3 all=$4
  run -q train --config "$TINY" --set "$set" --set crest.generations="$all" --out "$name-whole"
  expect_code 0 "$name: uninterrupted $all-generation run"
  run -q train --config "$TINY" --set "$set" --set crest.generations="$first" --out "$name"
  expect_code 0 "$name: $first-generation run"
  run train --config "$TINY" --set "$set" --out "$name" --resume --generations "$all"
  expect_code 0 "$name: continued to $all generations"
  expect_err "crest.generations raised from $first to $all" "$name: says what it adds"
  grep -q "t_schedule linear" "$ERR" && fail "$name: warned although the run continues exactly"
  local g
  for ((g = first; g < all; g++)); do
    [ -n "$(fingerprint "$name" "$g")" ] || fail "$name: no gen_$g"
    [ "$(fingerprint "$name" "$g")" = "$(fingerprint "$name-whole" "$g")" ] ||
      fail "$name: gen_$g's weights differ from the uninterrupted run's"
  done
  cmp -s "$name/generations.csv" "$name-whole/generations.csv" ||
    fail "$name: generations.csv differs from the uninterrupted run's"
  grep -q "generations: $all" "$name/config.yaml" || fail "$name: config.yaml keeps the new count"
}

continue_exactly crest crest.mode=crest 1 2
continue_exactly linear1 crest.t_schedule=linear 1 2
continue_exactly constant crest.t_schedule=constant 2 3

# The linear schedule from 2 generations: continued, with the reason it is not a 3-generation run.
run -q train --config "$TINY" --out lin
expect_code 0 "2-generation crest+ run"
run train --out lin --resume --set crest.generations=3
expect_code 0 "continued through --set crest.generations"
expect_err "not the run a 3-generation start gives" "says why it differs"
expect_out "last generation 2" "the run now ends at generation 2"
grep -q '"last_generation": 2' lin/summary.json || fail "summary.json names generation 2"

# Fewer generations: refused, nothing changed.
cp -r lin lin.before
for n in 1 2; do
  run train --out lin --resume --generations "$n"
  expect_code 2 "--generations $n of a 3-generation run"
  expect_err "a resume can add generations, not remove them" "says why"
  expect_err "--generation K" "says how to use an earlier generation"
done
run train --out lin --resume --generations 0
expect_code 2 "--generations 0"
expect_err "crest.generations" "names the key"
# .lock records the last process that opened the folder; nothing else may change.
diff -r -x .lock lin lin.before >/dev/null || fail "a refused resume changed the run folder"

finish
