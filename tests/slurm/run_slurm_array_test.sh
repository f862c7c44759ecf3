#!/usr/bin/env bash
# Integration test against a real Slurm (Debian's slurm-wlm and munge; tools/install-deps.sh
# installs them). As root, it starts its own munged, slurmctld and slurmd on loopback with a
# minimal single-host configuration in a scratch directory (tests/slurm/slurm.conf.in), submits
# docs/examples/classify-array.sbatch as a 4-task job array classifying dev documents with
# the default model, waits for every task, joins the parts with `sparq merge`, and checks that
# the merged output is byte-identical to one single-process `sparq classify` of the same input,
# with one output line per input record. Its daemons are always stopped when it ends.
#
# Usage: tests/slurm/run_slurm_array_test.sh [SPARQ_BINARY] [INPUT]
#   SPARQ_BINARY  default build/sparq
#   INPUT         default ../shared/data/debian-descriptions/dev.jsonl when it is beside the
#                 clone (as in CI: 5,452 records, over a thousand per task), otherwise the
#                 shipped tests/data/debian-descriptions-dev-subset.jsonl (645 records)
#   SLURM_TEST_TIMEOUT  seconds the array job may take (default 600)
#   SLURM_TEST_KEEP=1   keep the scratch directory even when the test passes
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fail() { echo "slurm test: FAIL: $*" >&2; exit 1; }
say() { echo "slurm test: $*"; }

[ "$(id -u)" -eq 0 ] || fail "must run as root: it starts slurmctld, slurmd (SlurmdUser=root) and munged (as the munge user)"
for b in munged slurmctld slurmd sbatch sinfo squeue scontrol scancel runuser; do
  command -v "$b" >/dev/null || fail "$b not found; run tools/install-deps.sh (packages slurm-wlm munge)"
done
id munge >/dev/null 2>&1 || fail "no munge user; run tools/install-deps.sh (package munge)"

sparq=$(realpath "${1:-$repo/build/sparq}")
default_input=$repo/../shared/data/debian-descriptions/dev.jsonl
[ -f "$default_input" ] || default_input=$repo/tests/data/debian-descriptions-dev-subset.jsonl
input=$(realpath "${2:-$default_input}")
model=$repo/models/debian-sections-s90b4-q8.sparq
sbatch_script=$repo/docs/examples/classify-array.sbatch
tasks=4
job_timeout=${SLURM_TEST_TIMEOUT:-600}
[ -x "$sparq" ] || fail "no sparq binary at $sparq (build it, or pass its path)"
[ -f "$input" ] || fail "no input at $input"
[ -f "$model" ] || fail "no model at $model"

scratch=$(mktemp -d /tmp/sparq-slurm-test.XXXXXX)
# munged (the munge user) must reach its directory inside; nothing here is secret but the key,
# which only munge can read.
chmod 755 "$scratch"
mkdir -p "$scratch/state" "$scratch/spool" "$scratch/out" "$scratch/logs"
conf=$scratch/slurm.conf
export SLURM_CONF=$conf
# Run inside someone's array job or indexed pod, the single-process reference would
# otherwise shard itself.
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_MAX SLURM_ARRAY_TASK_COUNT \
  JOB_COMPLETION_INDEX SPARQ_SHARD_COUNT
munge_dir=$scratch/munge
munge_pid=""
passed=0

# In these logs, PMIx "can not load" errors and slurmctld's missing state files at its first
# start are normal on Debian's packages; look past them.
dump_logs() {
  local f
  for f in "$munge_dir/munged.log" "$scratch/slurmctld.log" "$scratch/slurmd.log" "$scratch"/logs/*; do
    [ -f "$f" ] || continue
    echo "----- $f (last 60 lines) -----"
    tail -n 60 "$f"
  done
}

stop_pidfile() {
  local file=$1 pid i
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  if [ -f "$scratch/slurmctld.pid" ]; then
    # Job steps outlive slurmd; cancel them while the controller can still reach them.
    scancel --quiet --full --partition=test 2>/dev/null
    for _ in $(seq 50); do
      [ -z "$(squeue -h -t RUNNING,COMPLETING 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  stop_pidfile "$scratch/slurmd.pid"
  stop_pidfile "$scratch/slurmctld.pid"
  [ -n "$munge_pid" ] && stop_pidfile "$munge_dir/munged.pid"
  if [ "$passed" -ne 1 ]; then
    dump_logs
    say "scratch directory kept: $scratch"
  elif [ "${SLURM_TEST_KEEP:-0}" = 1 ]; then
    say "scratch directory kept: $scratch"
  else
    rm -rf "$scratch"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private munged with its own key and socket: the test neither needs nor disturbs the
# machine's MUNGE (/run/munge may not even exist); Slurm finds it through AuthInfo=socket=.
start_munged() {
  mkdir -p "$munge_dir"
  head -c 1024 /dev/urandom >"$munge_dir/munge.key"
  chown -R munge:munge "$munge_dir"
  # munged wants its socket's directory searchable by all; the key itself is munge's alone.
  chmod 755 "$munge_dir"
  chmod 400 "$munge_dir/munge.key"
  runuser -u munge -- munged --socket="$munge_dir/munge.socket" --key-file="$munge_dir/munge.key" \
    --pid-file="$munge_dir/munged.pid" --log-file="$munge_dir/munged.log" \
    --seed-file="$munge_dir/munged.seed" ||
    fail "munged did not start"
  for _ in $(seq 50); do [ -S "$munge_dir/munge.socket" ] && [ -s "$munge_dir/munged.pid" ] && break; sleep 0.1; done
  [ -s "$munge_dir/munged.pid" ] || fail "munged wrote no pid file"
  munge_pid=$(cat "$munge_dir/munged.pid")
  munge --socket="$munge_dir/munge.socket" -n | unmunge --socket="$munge_dir/munge.socket" >/dev/null ||
    fail "munged does not answer on $munge_dir/munge.socket"
}

# Something answering on 127.0.0.1:PORT means it is taken (bash's /dev/tcp, no extra tools).
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 20000))
    if ! port_taken "$p" && [ "$p" != "${1:-}" ]; then echo "$p"; return; fi
  done
  fail "no free port found"
}

write_conf() {
  local host ctld_port slurmd_port
  # slurmctld and slurmd compare these with the machine's own short name.
  host=$(uname -n); host=${host%%.*}
  ctld_port=$(pick_port)
  slurmd_port=$(pick_port "$ctld_port")
  sed -e "s|@HOST@|$host|g" -e "s|@CTLD_PORT@|$ctld_port|" -e "s|@SLURMD_PORT@|$slurmd_port|" \
    -e "s|@MUNGE_SOCKET@|$munge_dir/munge.socket|" -e "s|@SCRATCH@|$scratch|g" \
    -e "s|@CPUS@|$(nproc)|" "$here/slurm.conf.in" >"$conf"
  node=$host
  say "node $host, $(nproc) CPUs, slurmctld port $ctld_port, slurmd port $slurmd_port"
}

wait_node_idle() {
  local state=""
  for _ in $(seq 120); do
    state=$(sinfo -h -N -n "$node" -o '%t' 2>/dev/null || true)
    [ "$state" = idle ] && return 0
    sleep 0.5
  done
  fail "node $node not idle after 60 s (sinfo state: '${state}')"
}

# Every array task of the job, one "TASK STATE EXITCODE" line each, from the controller.
task_states() {
  scontrol -o show job "$1" 2>/dev/null |
    sed -n 's/.*ArrayTaskId=\([^ ]*\) .*JobState=\([^ ]*\) .*ExitCode=\([^ ]*\).*/\1 \2 \3/p'
}

wait_array_done() {
  local job=$1 deadline=$((SECONDS + job_timeout)) states
  while [ $SECONDS -lt $deadline ]; do
    states=$(task_states "$job")
    if [ -n "$states" ] && ! grep -Eq ' (PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED|RESIZING|SUSPENDED) ' <<<"$states"; then
      echo "$states"
      return 0
    fi
    sleep 0.25
  done
  echo "$states" >&2
  fail "array job $job not finished after ${job_timeout} s"
}

start_munged
write_conf
slurmctld -f "$conf" || fail "slurmctld did not start"
slurmd -f "$conf" -N "$node" || fail "slurmd did not start"
wait_node_idle
say "node idle: $(sinfo -h -N -o '%N %t %c CPUs')"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
submitted=$(now)
job=$(SPARQ=$sparq MODEL=$model INPUT=$input OUT=$scratch/out \
  sbatch --parsable --array=0-$((tasks - 1)) --cpus-per-task=1 --time=15 \
    --output="$scratch/logs/task-%a.log" --chdir="$scratch" "$sbatch_script") ||
  fail "sbatch refused the job"
job=${job%%;*}
say "submitted array job $job ($tasks tasks, 1 CPU each) on $input"
states=$(wait_array_done "$job")
array_done=$(now)
echo "$states" | sed 's/^/  task /'
[ "$(wc -l <<<"$states")" -eq "$tasks" ] || fail "expected $tasks array tasks, the controller lists: $states"
bad=$(awk '$2 != "COMPLETED" || $3 != "0:0"' <<<"$states")
[ -z "$bad" ] || fail "array tasks did not all complete with exit code 0: $bad"

parts=()
for i in $(seq 0 $((tasks - 1))); do parts+=("$scratch/out/part-$i.jsonl"); done
"$sparq" merge -o "$scratch/merged.jsonl" "${parts[@]}" || fail "sparq merge failed"
merged=$(now)
# One line for bench/batch/run_batch_bench.py; the controller is polled every 0.25 s.
say "timing: array_seconds=$(elapsed "$submitted" "$array_done") merge_seconds=$(elapsed "$array_done" "$merged") tasks=$tasks"

"$sparq" classify "$model" -i "$input" -o "$scratch/single.jsonl" --threads "$(nproc)" --quiet ||
  fail "single-process sparq classify failed"
records=$(grep -c "" "$input")
lines=$(wc -l <"$scratch/merged.jsonl")
[ "$lines" -eq "$records" ] || fail "merged output has $lines lines for $records input records"
cmp "$scratch/single.jsonl" "$scratch/merged.jsonl" ||
  fail "merged shards differ from the single-process run ($scratch/single.jsonl vs merged.jsonl)"
say "PASS: $records records in $tasks Slurm array tasks, merged output byte-identical to one process"
passed=1
