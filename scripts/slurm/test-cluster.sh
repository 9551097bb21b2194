#!/usr/bin/env bash
# A one-node Slurm cluster for lpzero's tests (Debian 12, as root, no systemd, no cgroups), after
# ../shared/docs/reference/SLURM.md:
#   scripts/slurm/test-cluster.sh install        # the Debian packages (munge, slurmctld, slurmd, client)
#   scripts/slurm/test-cluster.sh start DIR      # configure in DIR, start the daemons, wait until idle;
#                                                # prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm/test-cluster.sh stop DIR       # stop what `start` started, by its recorded PIDs
set -euo pipefail
cmd=${1:?install, start DIR or stop DIR}

case "$cmd" in
install)
  if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v munged >/dev/null; then exit 0; fi
  export DEBIAN_FRONTEND=noninteractive
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge > /dev/null
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  [ -f /etc/munge/munge.key ] || runuser -u munge -- mungekey -c
  ;;
start)
  dir=${2:?start DIR}
  mkdir -p "$dir"/{state,spool,log}
  dir=$(cd "$dir" && pwd)
  conf=$dir/slurm.conf
  host=$(hostname -s)
  {
    echo "ClusterName=lpzero-test"; echo "SlurmctldHost=$host(127.0.0.1)"; echo "SlurmUser=root"
    echo "AuthType=auth/munge"; echo "CredType=cred/munge"; echo "MpiDefault=none"; echo "MailProg=/bin/true"
    echo "ProctrackType=proctrack/linuxproc"; echo "TaskPlugin=task/none"
    echo "JobAcctGatherType=jobacct_gather/none"; echo "AccountingStorageType=accounting_storage/none"
    echo "SchedulerType=sched/backfill"; echo "SelectType=select/cons_tres"; echo "SelectTypeParameters=CR_Core"
    echo "ReturnToService=2"
    echo "StateSaveLocation=$dir/state"; echo "SlurmdSpoolDir=$dir/spool"
    echo "SlurmctldPidFile=$dir/ctld.pid"; echo "SlurmdPidFile=$dir/d.pid"
    echo "SlurmctldLogFile=$dir/log/ctld.log"; echo "SlurmdLogFile=$dir/log/d.log"
    echo "$(slurmd -C | head -n 1) NodeAddr=127.0.0.1 State=UNKNOWN"
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
  } > "$conf"
  export SLURM_CONF=$conf
  install -d -o munge -g munge -m 0755 /run/munge
  : > "$dir/pids"
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 20); do [ -s /run/munge/munged.pid ] && break; sleep 0.2; done
    echo "munged $(cat /run/munge/munged.pid)" >> "$dir/pids"
  fi
  setsid nohup /usr/sbin/slurmctld -D -f "$conf" > "$dir/log/ctld.out" 2>&1 < /dev/null & echo "slurmctld $!" >> "$dir/pids"
  setsid nohup /usr/sbin/slurmd -D -f "$conf" > "$dir/log/d.out" 2>&1 < /dev/null & echo "slurmd $!" >> "$dir/pids"
  for _ in $(seq 60); do [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break; sleep 1; done
  if [ "$(sinfo -h -o %T 2>/dev/null)" != idle ]; then
    sinfo -R >&2 || true; tail -n 20 "$dir/log/ctld.log" "$dir/log/d.log" >&2 || true
    "$0" stop "$dir"; exit 1
  fi
  echo "export SLURM_CONF=$conf"
  ;;
stop)
  dir=${2:?stop DIR}
  [ -f "$dir/pids" ] || exit 0
  # slurmd first, then slurmctld, then munged: the reverse of the start order.
  tac "$dir/pids" | while read -r name pid; do
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      state=$(ps -o stat= -p "$pid" 2>/dev/null || true)
      { [ -z "$state" ] || [ "${state#Z}" != "$state" ]; } && break
      sleep 0.1
    done
  done
  rm -f "$dir/pids"
  ;;
*) echo "unknown command $cmd (install, start DIR, stop DIR)" >&2; exit 2 ;;
esac
