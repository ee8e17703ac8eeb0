#!/usr/bin/env bash
# A real one-node Slurm for the Slurm tests: installs Debian's slurm-wlm and munge if missing,
# writes a slurm.conf for this host (state, logs and the munge socket under a temporary folder,
# loopback only, accounting off), starts munged, slurmctld and slurmd, waits for the node to be
# idle, runs the tests under tests/slurm, then `experiments.reproduce --launcher=slurm` on a tiny
# grid (2 systems x 2 seeds, fixture data) and checks its table, its per-run JSON and that no run
# trained twice, and stops the daemons it started, whatever happened.
#   tests/slurm/run.sh [PYTHON]      (make test-slurm)
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${1:-.venv/bin/python}

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "[test-slurm] installing slurm-wlm and munge (Debian packages)"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; } \
      >/tmp/test-slurm-apt.log 2>&1; then
    tail -20 /tmp/test-slurm-apt.log >&2
    echo "[test-slurm] error: could not install slurm-wlm and munge (log above); the Slurm test cannot run" >&2
    exit 1
  fi
fi

TMP=$(mktemp -d /tmp/test-slurm.XXXXXX)
PIDS=()
stop() {
  local status=$?
  # The jobs first: a job step whose slurmd has gone stays behind, waiting for it.
  if [ -s "$TMP/slurmctld.pid" ]; then
    for _ in $(seq 60); do
      [ -z "$(squeue -h 2>/dev/null)" ] && break
      scancel --me 2>/dev/null || true
      sleep 1
    done
  fi
  # Only the daemons started here, by their pid; slurmd first so that no job outlives it.
  for pid_file in "$TMP/slurmd.pid" "$TMP/slurmctld.pid" "$TMP/munged.pid"; do
    if [ -s "$pid_file" ]; then kill "$(cat "$pid_file")" 2>/dev/null || true; fi
  done
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for pid_file in "$TMP/slurmd.pid" "$TMP/slurmctld.pid" "$TMP/munged.pid"; do
      if [ -s "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then alive=1; fi
    done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  if [ $status != 0 ]; then
    for log in "$TMP"/log/*.log; do echo "== $log (last lines)"; tail -20 "$log"; done >&2 || true
  fi
  rm -rf "$TMP"
  exit $status
}
trap stop EXIT
mkdir -p "$TMP/log" "$TMP/state" "$TMP/spool" "$TMP/munge" "$TMP/munge-key"
chmod 700 "$TMP/munge-key"

# munge: a key of its own and a private socket, so that a system munged is never used or disturbed.
mungekey --create --keyfile="$TMP/munge-key/munge.key" --force
munged --key-file="$TMP/munge-key/munge.key" --socket="$TMP/munge/munge.socket" --pid-file="$TMP/munged.pid" \
  --log-file="$TMP/log/munged.log" --seed-file="$TMP/munge-key/munge.seed" --force

HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(free -m | awk '/^Mem:/ {print $2}') * 9 / 10 ))
export SLURM_CONF="$TMP/slurm.conf"
cat >"$SLURM_CONF" <<CONF
ClusterName=datntest
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$TMP/munge/munge.socket
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/log/slurmctld.log
SlurmdLogFile=$TMP/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for i in $(seq 60); do
  state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  [ "$i" = 60 ] && { echo "[test-slurm] error: the node did not become idle (sinfo: ${state:-no answer})" >&2; exit 1; }
  sleep 1
done
echo "[test-slurm] Slurm $(sinfo --version | cut -d' ' -f2) up: node $HOST idle, $CPUS CPUs, ${MEM_MB} MB"

# DATN_TF_SLURM_REQUIRED: a Slurm is up, so the tests must not skip.
DATN_TF_SLURM_REQUIRED=1 TF_CPP_MIN_LOG_LEVEL=2 "$PYTHON" -m pytest -p no:cacheprovider tests/slurm

# The grid on this Slurm: one job array, one job per run, the table once it has finished.
GRID="$TMP/grid"
"$PYTHON" -c "import sys; from datn_tf import testing; testing.make_fixture_data_dir(sys.argv[1])" "$GRID/data"
echo "[test-slurm] experiments.reproduce --launcher=slurm: 2 systems x 2 seeds"
TF_CPP_MIN_LOG_LEVEL=2 "$PYTHON" -m experiments.reproduce --launcher=slurm --cpus_per_run=1 --mem_gb=2 \
  --timeout_min=20 --slurm_array_parallelism=4 --data_dir="$GRID/data" --results_dir="$GRID/results" --readme= \
  --variants=base,sp --runs=2 --max_steps=4 --eval_every=2 \
  --batch_size=8 --hidden_size=6 --attention_size=5 --mlp_hidden_units=7 2>&1 | tee "$GRID/driver.log"
"$PYTHON" - "$GRID" <<'CHECK'
import re
import sys
from pathlib import Path

from datn_tf import io_utils

grid = Path(sys.argv[1])
driver = (grid / "driver.log").read_text()
arrays = re.findall(r"as job array (\d+)", driver)
assert len(arrays) == 1, f"expected one job array, got {arrays}"
dataset = grid / "results" / "semeval"
names = [f"{v}-seed{s}" for s in (0, 1) for v in ("base", "sp")]
logs = "".join(p.read_text() for p in (dataset / "runs" / "submitit").glob("*_log.out"))
for name in names:
    record = io_utils.read_json(dataset / f"{name}.json")
    assert record["seed"] == int(name[-1]) and record["steps"] == 4, (name, record["steps"])
    trained = logs.count(f"{name}: training ->")
    assert trained == 1, f"{name} trained {trained} times"
    assert f"{name}: training ->" not in driver  # trained in its job, not by the driver
table = (dataset / "table3.md").read_text()
assert "| Base | 2 |" in table and "| SP | 2 |" in table, table
print(f"[test-slurm] job array {arrays[0]}: {len(names)} runs, each trained once; table3.md has Base and SP")
CHECK
echo "[test-slurm] passed"
