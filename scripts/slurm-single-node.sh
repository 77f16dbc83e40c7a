#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the sweep tests (test/slurm) and for trying
# `promptlab sweep --slurm` without a lab cluster.
#
#   scripts/slurm-single-node.sh start    install Debian's slurm-wlm and munge when missing (root or sudo),
#                                         write a slurm.conf for this node, start munged, slurmctld and slurmd;
#                                         does nothing when the cluster already answers
#   scripts/slurm-single-node.sh stop     stop the daemons that `start` started (their pids are recorded in
#                                         the state folder) and the jobs on them; nothing else
#   scripts/slurm-single-node.sh status   which daemons run and who started them, and `sinfo`
#
# The cluster: NodeName=$(hostname -s) at 127.0.0.1 with CPUs=$(nproc) and RealMemory a little under the
# machine's, one default partition `main`, select/cons_tres on CPUs, proctrack/linuxproc, task/none, no
# accounting and no cgroups. Its state, logs and pid records live in $PROMPTLAB_SLURM_STATE (default
# /var/spool/slurm-single-node); its config in /etc/slurm/slurm.conf, which is written only when missing or
# written by this script before (another slurm.conf is left alone, and `start` stops there).
set -euo pipefail

STATE=${PROMPTLAB_SLURM_STATE:-/var/spool/slurm-single-node}
CONF=/etc/slurm/slurm.conf
MARK='# written by promptlab scripts/slurm-single-node.sh'
STARTED="$STATE/started" # one line per daemon this script started: NAME PID
HOST=$(hostname -s)
PARTITION=main

say() { echo "slurm-single-node: $*"; }
die() { echo "slurm-single-node: $*" >&2; exit 1; }

SUDO=""
need_root() {
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; return; fi
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; return; fi
  die "$1 needs root (or password-less sudo); run it as root"
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# The pid recorded for NAME, when that process still runs under that name.
recorded_pid() {
  local name=$1 pid
  [ -f "$STARTED" ] || return 1
  pid=$(awk -v n="$name" '$1 == n { p = $2 } END { print p }' "$STARTED")
  alive "$pid" || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  echo "$pid"
}

record() { $SUDO mkdir -p "$STATE"; echo "$1 $2" | $SUDO tee -a "$STARTED" >/dev/null; }

pid_from_file() { [ -f "$1" ] && tr -dc '0-9' <"$1" || true; }

cluster_answers() { command -v sinfo >/dev/null 2>&1 && timeout 10 sinfo -h >/dev/null 2>&1; }

node_state() { timeout 10 sinfo -h -n "$HOST" -o '%t' 2>/dev/null | head -n1 || true; }

install_packages() {
  local missing=()
  for c in slurmctld slurmd sbatch sinfo munged; do command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get: install Slurm (slurmctld, slurmd, client) and munge yourself"
  say "installing Debian's slurm-wlm and munge (missing: ${missing[*]})"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then say "munged already answers"; return 0; fi
  if [ ! -s /etc/munge/munge.key ]; then
    say "creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null 2>&1; then $SUDO mungekey --create --keyfile=/etc/munge/munge.key --force
    else $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
    $SUDO chown munge:munge /etc/munge/munge.key
    $SUDO chmod 400 /etc/munge/munge.key
  fi
  $SUDO mkdir -p /run/munge /var/lib/munge /var/log/munge
  $SUDO chown munge:munge /run/munge /var/lib/munge /var/log/munge
  $SUDO chmod 755 /run/munge
  $SUDO runuser -u munge -- /usr/sbin/munged
  local pid
  for _ in $(seq 1 50); do pid=$(pid_from_file /run/munge/munged.pid); alive "$pid" && break; sleep 0.1; done
  alive "$pid" || die "munged did not start (see /var/log/munge/munged.log)"
  record munged "$pid"
  say "started munged (pid $pid)"
}

write_config() {
  if [ -f "$CONF" ] && ! head -n1 "$CONF" | grep -qF "$MARK"; then
    die "$CONF exists and was not written by this script: leaving it alone (a cluster is configured here already; start its daemons, or move the file away)"
  fi
  local cpus mem_mb real
  cpus=$(nproc)
  mem_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
  real=$(( mem_mb - (mem_mb / 20 > 512 ? mem_mb / 20 : 512) )) # 5% (at least 512 MB) under the machine's
  $SUDO mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$STATE/log"
  $SUDO tee "$CONF" >/dev/null <<EOF
$MARK (one node, for tests); rewritten by its next start
ClusterName=promptlab
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmdTimeout=300
MaxArraySize=10001
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
  say "wrote $CONF: node $HOST, $cpus CPUs, RealMemory=$real MB, partition $PARTITION"
}

start_daemon() {
  local name=$1 pidfile=$2 pid
  shift 2
  pid=$(pid_from_file "$pidfile")
  if alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then say "$name already runs (pid $pid)"; return 0; fi
  $SUDO "$@"
  for _ in $(seq 1 100); do pid=$(pid_from_file "$pidfile"); alive "$pid" && break; sleep 0.1; done
  alive "$pid" || die "$name did not start (see $STATE/log/$name.log)"
  record "$name" "$pid"
  say "started $name (pid $pid)"
}

wait_for_node() {
  local st=""
  for _ in $(seq 1 60); do
    st=$(node_state)
    case "$st" in
      idle*|mix*|alloc*|comp*) say "node $HOST is $st; partition $PARTITION is up"; return 0 ;;
      down*|drain*|drng*|fail*) $SUDO scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  die "node $HOST did not come up (state '${st:-none}'); see $STATE/log/slurmctld.log and slurmd.log"
}

# A controller may answer: one runs here, or a slurm.conf that is not ours names one elsewhere (when
# neither, sinfo is not asked: it would spend seconds retrying a controller that is not there).
controller_maybe() {
  pgrep -x slurmctld >/dev/null 2>&1 || { [ -f "$CONF" ] && ! head -n1 "$CONF" | grep -qF "$MARK"; }
}

cmd_start() {
  if controller_maybe && cluster_answers && [ -n "$(node_state)" ]; then
    if recorded_pid slurmctld >/dev/null; then say "already running (started by this script)"; else say "a Slurm cluster already answers here (not started by this script): leaving it alone"; fi
    timeout 10 sinfo || true
    return 0
  fi
  need_root "start"
  install_packages
  start_munge
  write_config
  start_daemon slurmctld "$STATE/slurmctld.pid" /usr/sbin/slurmctld -c -f "$CONF"
  start_daemon slurmd "$STATE/slurmd.pid" /usr/sbin/slurmd -f "$CONF" -N "$HOST"
  wait_for_node
  timeout 10 sinfo
}

stop_one() {
  local name=$1 pid
  pid=$(recorded_pid "$name") || return 0
  $SUDO kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then $SUDO kill -KILL "$pid" 2>/dev/null || true; fi
  say "stopped $name (pid $pid)"
}

cmd_stop() {
  if [ ! -f "$STARTED" ]; then say "nothing to stop: this script started no daemon (no $STARTED)"; return 0; fi
  need_root "stop"
  if recorded_pid slurmctld >/dev/null; then
    # the jobs of this cluster go with it: cancel them, and give slurmd a moment to end their steps
    local jobs
    jobs=$(timeout 10 squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ' || true)
    if [ -n "${jobs// /}" ]; then
      say "cancelling jobs $jobs"
      # shellcheck disable=SC2086
      timeout 20 scancel $jobs 2>/dev/null || true
      for _ in $(seq 1 50); do [ -z "$(timeout 10 squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
    fi
  fi
  stop_one slurmd
  stop_one slurmctld
  stop_one munged
  $SUDO rm -f "$STARTED"
}

cmd_status() {
  local rc=0 pid
  for name in munged slurmctld slurmd; do
    if pid=$(recorded_pid "$name"); then say "$name: running (pid $pid, started by this script)"
    elif pid=$(pgrep -x "$name" | head -n1) && [ -n "$pid" ]; then say "$name: running (pid $pid, not started by this script)"
    else say "$name: not running"; fi
  done
  if cluster_answers; then timeout 10 sinfo; else say "sinfo: no answer (no cluster up; scripts/slurm-single-node.sh start starts one)"; rc=1; fi
  return $rc
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
