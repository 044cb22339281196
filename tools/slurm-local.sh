#!/bin/bash
# A one-node SLURM cluster on this machine, everything under one directory (for the tests):
#   tools/slurm-local.sh start DIR   munge (if not running), slurmctld and slurmd; prints the
#                                     line to source: export SLURM_CONF=DIR/slurm.conf
#   tools/slurm-local.sh stop DIR    stops the daemons started from DIR
# Needs root and the Debian packages slurm-wlm and munge.
set -euo pipefail
cmd=${1:?usage: slurm-local.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: slurm-local.sh start|stop DIR}" && cd "$2" && pwd)
conf="$dir/slurm.conf"

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
  [ -s /etc/munge/munge.key ] || { mungekey --create --force 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; }
  chown munge:munge /etc/munge/munge.key 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  runuser -u munge -- /usr/sbin/munged 2>/dev/null || /usr/sbin/munged --force
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "slurm-local: munged did not come up" >&2
  return 1
}

write_conf() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(getconf _NPROCESSORS_ONLN) # not nproc: it follows OMP_NUM_THREADS
  mem=$(($(awk '/MemTotal/ { print $2 }' /proc/meminfo) / 1024 - 512))
  mkdir -p "$dir/state" "$dir/spool"
  cat >"$conf" <<CONF
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${SLURM_LOCAL_PORT:-16817}
SlurmdPort=$((${SLURM_LOCAL_PORT:-16817} + 1))
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
KillWait=10
MinJobAge=600
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE OverSubscribe=FORCE:4 State=UP
CONF
}

case "$cmd" in
start)
  start_munge
  write_conf
  slurmctld -f "$conf"
  slurmd -f "$conf"
  for _ in $(seq 100); do
    SLURM_CONF="$conf" sinfo -h -o %T 2>/dev/null | grep -q idle && { echo "export SLURM_CONF=$conf"; exit 0; }
    sleep 0.2
  done
  echo "slurm-local: the node did not become idle; see $dir/slurmctld.log and $dir/slurmd.log" >&2
  exit 1
  ;;
stop)
  for pid in "$dir/slurmd.pid" "$dir/slurmctld.pid"; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  sleep 1
  ;;
*) echo "usage: slurm-local.sh start|stop DIR" >&2; exit 2 ;;
esac
