# crest sweep --launcher slurm: the job script of --dry-run, the error without sbatch, and a real
# run on a single-node Slurm that this script starts on loopback (munged, slurmctld, slurmd,
# state in a fresh temporary folder, stopped by pid at exit): a 4-point grid of the tiny config
# as one job array, one point resubmitted alone, and crest summarize over the results.
# The only test that uses Slurm's ports 6817/6818 (CTest runs tests in parallel).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
started=$(date +%s)

cat >grid.yaml <<EOF
base: $SRC/tests/cli/tiny.yaml
out_dir: sw
grid:
  crest.mode: [fixmatch, crest+]
  data.fold: [1, 2]
set: {crest.generations: 1}
EOF

# ---- the job script, without Slurm ------------------------------------------------------------
run sweep --grid grid.yaml --launcher slurm --dry-run --partition debug --account lab \
  --time 00:10:00 --cpus-per-task 1 --gpus-per-task 1 --max-parallel 3 --sbatch-arg=--qos=low
expect_code 0 "dry run"
script=sw/slurm/sweep.sbatch
[ -x "$script" ] || fail "dry run: no executable $script"
for line in '#!/bin/bash' '#SBATCH --array=0-3%3' '#SBATCH --partition=debug' \
  '#SBATCH --account=lab' '#SBATCH --time=00:10:00' '#SBATCH --cpus-per-task=1' \
  '#SBATCH --gpus-per-task=1' '#SBATCH --qos=low' '#SBATCH --job-name=crest-sw' \
  "#SBATCH --output=$WORK/sw/slurm/%A_%a.out" \
  "exec $CREST sweep --points $WORK/sw/sweep.json --run-index \"\$SLURM_ARRAY_TASK_ID\""; do
  grep -qxF -- "$line" "$script" || fail "dry run: the script lacks the line: $line"
done
bash -n "$script" || fail "dry run: the script is not valid bash"
[ -s sw/sweep.json ] || fail "dry run: no sweep.json"
expect_out "sbatch --parsable --array=0-3%3 $WORK/sw/slurm/sweep.sbatch" "dry run: the command"
# --tasks-per-point: each point's ranks as srun tasks (docs/distributed.md).
run sweep --grid grid.yaml --launcher slurm --dry-run --tasks-per-point 2 --gpus-per-task 1
expect_code 0 "dry run with --tasks-per-point"
for line in '#SBATCH --ntasks=2' '#SBATCH --gpus-per-task=1' 'export MASTER_ADDR' \
  'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)' \
  'export MASTER_PORT=$((20000 + SLURM_JOB_ID % 40000))' \
  "exec srun --kill-on-bad-exit=1 $CREST sweep --points $WORK/sw/sweep.json --run-index \"\$SLURM_ARRAY_TASK_ID\""; do
  grep -qxF -- "$line" "$script" || fail "--tasks-per-point: the script lacks the line: $line"
done
bash -n "$script" || fail "--tasks-per-point: the script is not valid bash"
run sweep --grid grid.yaml --launcher local --dry-run --tasks-per-point 2
expect_code 2 "--tasks-per-point with the local launcher"
expect_err "go with --launcher slurm" "--tasks-per-point with the local launcher"
run sweep --grid grid.yaml --launcher slurm --dry-run --tasks-per-point -1
expect_code 2 "--tasks-per-point -1"
run sweep --grid grid.yaml --launcher slurm --dry-run --array-indices 1,3
expect_out "--array=1,3 " "dry run: --array-indices"
run sweep --grid grid.yaml --launcher slurm --dry-run --only "mode=crest+,fold=1" --only 0
expect_out "--array=0,2 " "dry run: --only by name and index"
run sweep --grid grid.yaml --launcher slurm --slots 2
expect_code 2 "local flag with the slurm launcher"

# Without sbatch on PATH: a clear error, exit 2.
PATH=/nonexistent "$CREST" sweep --grid grid.yaml --launcher slurm >"$OUT" 2>"$ERR"
CODE=$?
expect_code 2 "no sbatch"
expect_err "sbatch was not found on PATH: Slurm's client commands are not installed" \
  "no sbatch: message"
rm -rf sw

# ---- a real single-node Slurm -----------------------------------------------------------------
missing=""
for program in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd sbatch squeue sinfo; do
  command -v "$program" >/dev/null 2>&1 || missing="$missing $(basename "$program")"
done
if [ -n "$missing" ]; then
  fail "Slurm is not installed (missing:$missing); scripts/test.sh installs it (Debian packages slurmctld slurmd slurm-client munge)"
  finish
fi
if [ "$(id -u)" -ne 0 ]; then
  fail "this test starts slurmd and munged, which needs root (scripts/test.sh runs as root in CI)"
  finish
fi
if (exec 3<>/dev/tcp/127.0.0.1/6817) 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/6818) 2>/dev/null; then
  fail "port 6817 or 6818 is in use: another Slurm runs on this machine; stop it first"
  finish
fi

# munged runs as the munge user, so its folder must be open to it.
# In /tmp: the socket path must stay short, and every folder on the way open to munge.
SLURM_DIR=$(mktemp -d /tmp/crest-slurm.XXXXXX)
chmod 755 "$SLURM_DIR"
mkdir -p "$SLURM_DIR/munge" "$SLURM_DIR/state" "$SLURM_DIR/spool"
chown munge:munge "$SLURM_DIR/munge"
# alive PID: the process exists and is not a zombie (daemons end up children of init, which
# may be slow to reap them).
alive() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ]
}
# Stops the daemons by the pids they wrote (SIGTERM, then SIGKILL after 5 s), then cleans up.
stop_slurm() {
  local pidfile pid pids=""
  for pidfile in "$SLURM_DIR/slurmd.pid" "$SLURM_DIR/slurmctld.pid" "$SLURM_DIR/munge/munged.pid"; do
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null && pids="$pids $pid"
  done
  for pid in $pids; do
    for _ in $(seq 1 50); do
      alive "$pid" || break
      sleep 0.1
    done
    alive "$pid" && kill -9 "$pid" 2>/dev/null
  done
  rm -rf "$SLURM_DIR" "$WORK"
}
trap stop_slurm EXIT
trap 'exit 143' TERM INT  # so that the EXIT trap runs

# The node as slurmd sees it (CPUs, sockets, cores), named localhost on loopback.
node=$(/usr/sbin/slurmd -C | head -n 1 |
  sed 's/NodeName=[^ ]*/NodeName=localhost NodeAddr=127.0.0.1/; s/RealMemory=[0-9]*/RealMemory=1000/')
cat >"$SLURM_DIR/slurm.conf" <<EOF
ClusterName=cresttest
SlurmctldHost=localhost
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SLURM_DIR/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
$node
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$SLURM_DIR/slurm.conf"

slurm_logs() {
  echo "--- slurmctld.log"; tail -n 20 "$SLURM_DIR/slurmctld.log" 2>/dev/null
  echo "--- slurmd.log"; tail -n 20 "$SLURM_DIR/slurmd.log" 2>/dev/null
  echo "--- munged.log"; tail -n 5 "$SLURM_DIR/munge/munged.log" 2>/dev/null
}

runuser -u munge -- /usr/sbin/munged --socket="$SLURM_DIR/munge/munge.socket" \
  --pid-file="$SLURM_DIR/munge/munged.pid" --log-file="$SLURM_DIR/munge/munged.log" \
  --seed-file="$SLURM_DIR/munge/munged.seed" ||
  { fail "munged did not start"; slurm_logs; finish; }
/usr/sbin/slurmctld -f "$SLURM_CONF" || { fail "slurmctld did not start"; slurm_logs; finish; }
/usr/sbin/slurmd -f "$SLURM_CONF" -N localhost || { fail "slurmd did not start"; slurm_logs; finish; }
for _ in $(seq 1 100); do
  sinfo -h -o %T 2>/dev/null | grep -q '^idle' && break
  sleep 0.2
done
sinfo -h -o %T 2>/dev/null | grep -q '^idle' || { fail "the Slurm node never became idle"; slurm_logs; finish; }
slurm_up=$(date +%s)

# wait_job ID: until squeue no longer lists it (at most 150 s).
wait_job() {
  for _ in $(seq 1 750); do
    [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
    sleep 0.2
  done
  fail "job $1 still queued or running after 150 s"; squeue; slurm_logs
  return 1
}

run sweep --grid grid.yaml --launcher slurm --cpus-per-task 1 --time 00:10:00
expect_code 0 "submit"
job=$(sed -n 's/^submitted job \([0-9][0-9]*\):.*/\1/p' "$OUT")
[ -n "$job" ] || { fail "submit: no job id printed"; finish; }
expect_out "4 array task(s) (--array=0-3)" "submit: the array"
wait_job "$job"
for name in mode=fixmatch,fold=1 mode=fixmatch,fold=2 mode=crest+,fold=1 mode=crest+,fold=2; do
  [ -s "sw/$name/summary.json" ] || fail "Slurm: point $name has no summary.json"
done
for index in 0 1 2 3; do
  grep -q "^point $index .*: finished" "sw/slurm/${job}_$index.out" ||
    fail "Slurm: task $index did not report its point finished ($(cat "sw/slurm/${job}_$index.out" 2>&1))"
done
grep -q "\"job_id\":\"$job\"" sw/slurm/submissions.jsonl || fail "the submission is not recorded"

# A lost point is resubmitted alone: one array task, the others untouched.
rm -rf "sw/mode=crest+,fold=1"
run sweep --grid grid.yaml --launcher slurm --cpus-per-task 1 --unfinished
expect_code 0 "resubmit"
expect_out "1 array task(s) (--array=2)" "resubmit: only the unfinished point"
job2=$(sed -n 's/^submitted job \([0-9][0-9]*\):.*/\1/p' "$OUT")
[ -n "$job2" ] && wait_job "$job2"
[ -s "sw/mode=crest+,fold=1/summary.json" ] || fail "resubmit: the point did not run again"
task_logs=(sw/slurm/"${job2}"_*.out)
[ "${#task_logs[@]}" -eq 1 ] || fail "resubmit: ${#task_logs[@]} tasks ran, not 1"

# A task of a finished point exits at once.
run sweep --points sw/sweep.json --run-index 0
expect_code 0 "run-index of a finished point"
expect_out "already finished" "run-index: skips"

# crest summarize: 2 groups with n = 2 each.
run summarize sw --format csv
expect_code 0 "summarize"
[ "$(awk -F, 'NR > 1 { print $2 ":" $5 }' "$OUT" | tr '\n' ' ')" = "fixmatch:2 crest+:2 " ] ||
  fail "summarize: two groups of n = 2"
run summarize sw
expect_out "| FixMatch | 2 | 1,2 |" "summarize md: FixMatch n = 2"
expect_out "| CReST+ | 2 | 1,2 |" "summarize md: CReST+ n = 2"

# A data-parallel point: 2 srun tasks are its 2 ranks (MASTER_ADDR/PORT from the job script).
cat >grid2.yaml <<EOF
base: $SRC/tests/cli/tiny.yaml
out_dir: dp
grid:
  data.fold: [1]
set: {crest.generations: 1, run.threads: 1}
EOF
run sweep --grid grid2.yaml --launcher slurm --tasks-per-point 2 --cpus-per-task 1
expect_code 0 "submit a 2-rank point"
job3=$(sed -n 's/^submitted job \([0-9][0-9]*\):.*/\1/p' "$OUT")
[ -n "$job3" ] && wait_job "$job3"
[ -s "dp/data.fold=1/summary.json" ] || [ -s dp/fold=1/summary.json ] ||
  fail "2-rank point: no summary.json ($(ls dp; cat dp/slurm/*.out 2>&1 | tail -20))"
grep -q '"world_size": 2' dp/*/world.json 2>/dev/null ||
  fail "2-rank point: world.json does not record 2 ranks"
grep -q "rank 1 of 2" dp/slurm/"${job3}"_0.out || fail "2-rank point: rank 1 did not run"

now=$(date +%s)
echo "timing: $((now - started)) s in all, Slurm up in $((slurm_up - started)) s, jobs $((now - slurm_up)) s"
finish
