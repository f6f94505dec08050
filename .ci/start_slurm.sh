#!/usr/bin/env bash
# Boot a single-node SLURM cluster on this machine (Debian slurm-wlm + munge) for the SLURM tests.
#
# Idempotent: installs the packages if missing, writes /etc/slurm/slurm.conf for this
# machine (its CPUs and memory, read by `slurmd -C`, must match or slurmd is drained),
# starts munged, slurmctld and slurmd only where they are not running, and waits until
# `sinfo` shows the node idle. No cgroups (the machine may be a container):
# proctrack/linuxproc, task/none. Run as root.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
STATE=/var/spool/slurmctld
SPOOL=/var/spool/slurmd
LOGS=/var/log/slurm

if ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

mkdir -p "$STATE" "$SPOOL" "$LOGS" /run/munge
chown munge:munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0600 /etc/munge/munge.key
fi

# This machine's layout, as slurmd itself sees it (e.g. "CPUs=2 Boards=1 ... RealMemory=24105").
hardware=$(slurmd -C | head -n 1 | tr ' ' '\n' | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=' | tr '\n' ' ')
cat > "$CONF" <<CONF
ClusterName=ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
JobRequeue=1
KillWait=10
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF

running() { pgrep -x "$1" >/dev/null; }
running munged || runuser -u munge -- /usr/sbin/munged
running slurmctld || slurmctld -f "$CONF"
running slurmd || slurmd -f "$CONF" -N localhost

for _ in $(seq 60); do
    state=$(sinfo --noheader --nodes=localhost --format=%T 2>/dev/null || true)
    if [ "$state" = "idle" ]; then
        echo "SLURM: node localhost idle ($hardware)"
        exit 0
    fi
    if [ "$state" = "drained" ] || [ "$state" = "down" ]; then
        scontrol update nodename=localhost state=resume 2>/dev/null || true
    fi
    sleep 1
done
echo "SLURM: node localhost did not become idle; sinfo: $(sinfo 2>&1)" >&2
tail -n 20 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
exit 1
