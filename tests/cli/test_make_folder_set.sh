# scripts/make_folder_set.py on a small stand-in for the CIFAR-10 JPEG archive: the exponential
# labeled counts, the unlabeled pool's size and profile, the whole test split, disjoint draws, and
# the refusals (exit 2, nothing written).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
SCRIPT="$SRC/scripts/make_folder_set.py"
classes="airplane automobile bird cat deer dog frog horse ship truck"

# A stand-in archive: 20 train and 3 test "JPEGs" per class, each file's bytes unique.
for c in $classes; do
  mkdir -p "fake/train/$c" "fake/test/$c"
  for i in $(seq -w 0 19); do echo "train $c $i" >"fake/train/$c/00$i.jpg"; done
  for i in 0 1 2; do echo "test $c $i" >"fake/test/$c/000$i.jpg"; done
done
tar czf fake.tar.gz -C fake train test

py() { "$@" >"$OUT" 2>"$ERR"; CODE=$?; }
count() { find "$1" -type f 2>/dev/null | wc -l; }

py /usr/bin/python3 "$SCRIPT" out --archive fake.tar.gz --head 5 --tail 1 --pool 30
expect_code 0 "make_folder_set on the stand-in"
got=""
for c in $classes; do got="$got $(count "out/train/$c")"; done
[ "$got" = " 5 4 3 3 2 2 2 1 1 1" ] || fail "labeled counts 5..1 exponential, got$got"
[ "$(count out/unlabeled)" = 30 ] || fail "30 unlabeled images"
[ "$(ls out/unlabeled | grep -c '^u_airplane_')" -gt "$(ls out/unlabeled | grep -c '^u_truck_')" ] ||
  fail "the pool is long-tailed like the labeled set"
[ "$(count out/test)" = 30 ] || fail "every test image"
[ "$(cat out/train/*/* out/unlabeled/* | sort | uniq -d | wc -l)" = 0 ] || fail "labeled and unlabeled draws overlap"
[ "$(cat out/test/*/* | grep -c '^test')" = 30 ] || fail "test/ holds the archive's test images"
py /usr/bin/python3 "$SCRIPT" out2 --archive fake.tar.gz --head 5 --tail 1 --pool 30
diff -r out out2 >/dev/null || fail "the same seed gives the same set"

refused() { # DESCRIPTION NEEDLE ARGS...
  local what=$1 needle=$2
  shift 2
  py /usr/bin/python3 "$SCRIPT" "$@"
  expect_code 2 "$what"
  expect_err "$needle" "$what"
}
refused "a missing archive" "not found" new1 --archive nowhere.tar.gz
refused "an OUT that is not empty" "not an empty folder" out --archive fake.tar.gz --head 5 --tail 1 --pool 0
refused "tail above head" "--tail" new2 --archive fake.tar.gz --head 2 --tail 3
refused "a pool larger than the archive" "fewer than" new3 --archive fake.tar.gz --head 5 --tail 1 --pool 200
echo "not a tar" >broken.tar.gz
refused "an archive that is not a tar.gz" "cannot read" new4 --archive broken.tar.gz
tar czf other.tar.gz -C fake train
refused "an archive without test/" "has no test/" new5 --archive other.tar.gz
for d in new1 new2 new3 new4 new5; do [ ! -e "$d" ] || fail "a refused call wrote $d"; done
finish
