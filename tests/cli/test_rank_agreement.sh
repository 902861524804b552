# Ranks agree before they train (#28 kind 4): two ranks started by hand (as srun or torchrun
# start them), one of them with another config (--set data.fold=2, another train.lr), another
# copy of the data (one label byte changed), data it cannot read, or a run folder that rank 0
# cannot lock. Every case ends on BOTH
# ranks with exit 2 before the first step, each naming what differs (or the rank that failed),
# never a crash inside a collective or advice to --resume; the same ranks with the same
# arguments then train.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
ARGS=(--config "$TINY" --set crest.generations=1 --set train.epochs=1 --set train.steps_per_epoch=2
      --set data.dataset=cifar10)

if "$CREST" train --config "$TINY" --out probe --nproc 2 --set train.batch_size=7 2>&1 |
    grep -qF "lacks c10d"; then
  echo "this build has no c10d: nothing to check"
  exit 77
fi

run data synth --out d0 --classes 4 --train-per-class 60 --test-per-class 20
expect_code 0 "synth"
cp -r d0 d1
# Rank 1's copy: the first training record's label byte (0..3) moved by one.
python3 - <<'PY'
with open("d1/data_batch_1.bin", "r+b") as f:
    label = f.read(1)[0]
    f.seek(0)
    f.write(bytes([(label + 1) % 4]))
PY
cmp -s d0/data_batch_1.bin d1/data_batch_1.bin && fail "the copy was not changed"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# two_ranks NAME "RANK0 ARGS" "RANK1 ARGS" [DIR0 DIR1]: both ranks of one job, each with its own
# arguments and working folder (default: here); leaves their exit codes in C0 C1 and their stderr
# in NAME.0.err NAME.1.err.
two_ranks() {
  local name=$1 port dir0=${4:-.} dir1=${5:-.}
  port=$(free_port)
  # shellcheck disable=SC2086  # the ranks' extra arguments are word lists
  (cd "$dir0" && RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 MASTER_PORT=$port CREST_DIST_TIMEOUT=20 \
    timeout 120 "$CREST" -q train "${ARGS[@]}" --out "$name" $2) >"$name.0.out" 2>"$name.0.err" &
  local p0=$!
  # shellcheck disable=SC2086
  (cd "$dir1" && RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 MASTER_PORT=$port CREST_DIST_TIMEOUT=20 \
    timeout 120 "$CREST" -q train "${ARGS[@]}" --out "$name" $3) >"$name.1.out" 2>"$name.1.err" &
  local p1=$!
  wait $p0; C0=$?
  wait $p1; C1=$?
}

# expect_both NAME TEXT: both ranks exit 2 and say TEXT; none suggests --resume.
expect_both() {
  for r in 0 1; do
    local code=C$r
    [ "${!code}" -eq 2 ] || fail "$1: rank $r exit ${!code}, expected 2 ($(tail -3 "$1.$r.err"))"
    grep -qF -- "$2" "$1.$r.err" || fail "$1: rank $r does not say '$2' ($(tail -3 "$1.$r.err"))"
    grep -qF -- "--resume" "$1.$r.err" && fail "$1: rank $r suggests --resume"
  done
  [ -e "$1/gen_0/checkpoint.pt" ] || [ -e "r0/$1/gen_0/checkpoint.pt" ] &&
    fail "$1: a refused job trained"
}

two_ranks fold "--set data.root=d0" "--set data.root=d0 --set data.fold=2"
expect_both fold "rank 1 does not agree with rank 0 on the config: data.fold is 1 on rank 0 and 2 there"
two_ranks lr "--set data.root=d0" "--set data.root=d0 --set train.lr=0.1"
expect_both lr "train.lr is 0.03 on rank 0 and 0.1 there"
# The same config text (data.root "data" in each rank's working folder), one label byte apart.
mkdir -p r0 r1 && cp -r d0 r0/data && cp -r d1 r1/data
two_ranks label "--set data.root=data" "--set data.root=data" r0 r1
expect_both label "rank 1 does not agree with rank 0 on the split and its data"
grep -qF "fingerprint" label.1.err || fail "label: the message does not name the fingerprint that differs"
# Rank 1 cannot read its data at all: rank 0 stops with rank 1's reason.
two_ranks missing "--set data.root=d0" "--set data.root=nowhere"
[ "$C1" -eq 2 ] || fail "missing data: rank 1 exit $C1"
[ "$C0" -eq 2 ] || fail "missing data: rank 0 exit $C0 ($(tail -3 missing.0.err))"
grep -qF "rank 1 failed while loading the data" missing.0.err ||
  fail "missing data: rank 0 does not name rank 1's failure ($(tail -3 missing.0.err))"
grep -qF "nowhere" missing.0.err || fail "missing data: rank 0 does not pass on rank 1's reason"

# Rank 0 alone locks the folder: when another process holds the lock, rank 1 stops with rank 0.
# The holder's sleep is ended with it: left running, it would keep CTest's output pipe open (and
# the test running) for its whole 60 s.
mkdir locked
flock locked/.lock sleep 60 </dev/null >/dev/null 2>&1 &
holder=$!
sleep 0.5
start=$(date +%s)
two_ranks locked "--set data.root=d0" "--set data.root=d0"
pkill -P "$holder" sleep 2>/dev/null
wait "$holder" 2>/dev/null
[ "$C0" -eq 2 ] && [ "$C1" -eq 2 ] || fail "a locked folder: exit $C0 and $C1, expected 2 and 2"
grep -qF "rank 0 failed while opening the run folder" locked.1.err ||
  fail "a locked folder: rank 1 does not name rank 0's failure ($(tail -2 locked.1.err))"
[ $(($(date +%s) - start)) -lt 30 ] || fail "a locked folder: the ranks took 30 s or more to stop"

# The same arguments: the job trains.
two_ranks same "--set data.root=d0" "--set data.root=d0"
[ "$C0" -eq 0 ] && [ "$C1" -eq 0 ] || fail "the same arguments: exit $C0 and $C1 ($(tail -3 same.0.err))"
[ -s same/gen_0/checkpoint.pt ] || fail "the same arguments: no checkpoint"
finish
