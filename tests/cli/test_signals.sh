# One Ctrl-C that arrives more than once (a wrapper such as `timeout` passes it on to its child
# and to its process group; or SIGTERM then SIGINT) stops training gracefully: exit 130, a
# checkpoint that loads, a log whose last line is whole, and --resume continues. No timing race:
# the signals go out once the run has written a checkpoint, and the run is far from its end.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
LONG=(--config "$TINY" --set train.epochs=400 --set crest.generations=1)

# wait_for_checkpoint DIR PID [STEP]: waits (up to two minutes) for DIR/gen_0/checkpoint.pt,
# newer than the file DIR/.mark when STEP is given.
wait_for_checkpoint() {
  local dir=$1 pid=$2 since=$SECONDS
  while [ $((SECONDS - since)) -lt 120 ] && kill -0 "$pid" 2>/dev/null; do
    if [ -f "$dir/gen_0/checkpoint.pt" ] && { [ ! -f "$dir/.mark" ] || [ "$dir/gen_0/checkpoint.pt" -nt "$dir/.mark" ]; }; then
      return 0
    fi
    sleep 0.02
  done
  fail "$dir: no checkpoint appeared"
  return 1
}

# expect_clean_stop DIR CODE WHAT: exit 130, a checkpoint, the log ends with a whole line that
# says where the run stopped.
expect_clean_stop() {
  local dir=$1 code=$2 what=$3
  [ "$code" -eq 130 ] || fail "$what: exit $code, expected 130"
  [ -s "$dir/gen_0/checkpoint.pt" ] || fail "$what: no checkpoint"
  [ -z "$(ls "$dir"/gen_0/*.tmp* 2>/dev/null)" ] || fail "$what: a temporary file was left"
  [ "$(tail -c 1 "$dir/crest.log" | od -An -c | tr -d ' ')" = '\n' ] ||
    fail "$what: the log's last line is cut"
  tail -n 1 "$dir/crest.log" | grep -q "stopped at step" ||
    fail "$what: the log's last line is not the stop: $(tail -n 1 "$dir/crest.log")"
}

# Two SIGINTs back to back, then SIGTERM + SIGINT on the resumed run.
"$CREST" -q train "${LONG[@]}" --out two >/dev/null 2>&1 &
pid=$!
wait_for_checkpoint two "$pid"
kill -INT "$pid"
kill -INT "$pid"
wait "$pid"
expect_clean_stop two $? "two SIGINTs"
step=$(sed -n 's/.*stopped at step \([0-9]*\).*/\1/p' two/crest.log | tail -n 1)
[ -n "$step" ] || fail "the log does not name the step"

touch two/.mark
"$CREST" -q train "${LONG[@]}" --out two --resume >resumed.out 2>&1 &
pid=$!
wait_for_checkpoint two "$pid"
kill -TERM "$pid"
kill -INT "$pid"
wait "$pid"
expect_clean_stop two $? "SIGTERM then SIGINT after --resume"
grep -q "resum" two/crest.log || fail "the second run did not resume"
step2=$(sed -n 's/.*stopped at step \([0-9]*\).*/\1/p' two/crest.log | tail -n 1)
[ -n "$step2" ] && [ "$step2" -gt "$step" ] ||
  fail "the resumed run did not go past step $step (stopped at '$step2')"

# Three signals at once (as `timeout` delivers one Ctrl-C: the terminal's, then its own two).
"$CREST" -q train "${LONG[@]}" --out three >/dev/null 2>&1 &
pid=$!
wait_for_checkpoint three "$pid"
kill -INT "$pid"; kill -INT "$pid"; kill -TERM "$pid"
wait "$pid"
expect_clean_stop three $? "three signals at once"

# Under `timeout`: a SIGINT to timeout reaches crest twice (to the child, then to the group).
if command -v timeout >/dev/null; then
  timeout -s INT 600 "$CREST" -q train "${LONG[@]}" --out wrapped >/dev/null 2>&1 &
  wrapper=$!
  for _ in $(seq 1 6000); do [ -f wrapped/gen_0/checkpoint.pt ] && break; sleep 0.02; done
  kill -INT "$wrapper"
  wait "$wrapper"
  expect_clean_stop wrapped $? "SIGINT through timeout"
fi

# The checkpoint the three signals left loads: a resume takes it up and writes the next one.
"$CREST" -q train "${LONG[@]}" --out three --resume >/dev/null 2>&1 &
pid=$!
touch three/.mark
wait_for_checkpoint three "$pid"
kill -INT "$pid"
wait "$pid"
expect_clean_stop three $? "resume of the three-signal run"

finish
