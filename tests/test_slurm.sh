#!/bin/bash
# Usage: test_slurm.sh HEADLIGHT_CLI SOURCE_DIR FIXTURES_DIR
# Starts a real single-node Slurm cluster on loopback (munged + slurmctld + slurmd, all in a temp
# dir, as root), submits a 2-shard scan with packaging/slurm/submit.sh, waits for the merge job and
# checks that merged.headlight exports exactly like a single-machine `study run`.
# Exits 77 (skipped) with the reason when Slurm cannot run here (not root, no Slurm or munge).
set -uo pipefail
CLI="$(readlink -f "$1")"; SRC="$(readlink -f "$2")"; FIX="$(readlink -f "$3")"
# shellcheck source=tests/merged_equals_single.sh
source "$SRC/tests/merged_equals_single.sh"
skip() { echo "test_slurm: SKIP: $*"; exit 77; }
fail() { echo "test_slurm: FAIL: $*"; dump_logs; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (slurmd launches jobs as root; SlurmUser=root)"
for b in munged slurmctld slurmd sbatch squeue sinfo scontrol python3; do
  command -v "$b" >/dev/null || skip "$b not installed (scripts/setup.sh installs slurm-wlm munge)"
done
PLUGINS="$(dirname "$(ldd "$(command -v slurmctld)" | awk '/libslurmfull/ {print $3}')")"
[ -f "$CLI" ] || fail "no CLI at $CLI"
[ -d "$FIX/stories260k" ] || skip "fixture $FIX/stories260k missing"

T="$(mktemp -d /tmp/headlight-slurm.XXXXXX)"
chmod 700 "$T"
PIDS=()
cleanup() {
  local p
  if [ -n "${SLURM_CONF:-}" ] && [ -f "${SLURM_CONF:-}" ]; then scancel --quiet --user=root >/dev/null 2>&1 || true; fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$T"
}
trap cleanup EXIT
dump_logs() {
  local f
  for f in "$T"/munged.log "$T"/slurmctld.log "$T"/slurmd.log "$T"/slurmctld.out "$T"/slurmd.out \
           "$T"/out/*.log; do
    [ -f "$f" ] || continue
    echo "----- $f (last 60 lines)"; tail -n 60 "$f"
  done
}

# free TCP ports on 127.0.0.1, from 17817 up
free_ports() {
  python3 - <<'PY'
import socket
found = []
for port in range(17817, 18817):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); found.append(port)
    except OSError:
        pass
    finally:
        s.close()
    if len(found) == 2: break
print(*found)
PY
}
read -r CTLD_PORT SLURMD_PORT < <(free_ports)
[ -n "${SLURMD_PORT:-}" ] || skip "no free TCP ports on 127.0.0.1 in 17817-18816"

# --- munge: a generated key, every file in the temp dir
mkdir -p "$T/munge" && chmod 700 "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
MUNGE_SOCK="$T/munge/munge.socket"
munged --force --foreground --socket="$MUNGE_SOCK" --key-file="$T/munge/munge.key" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munge/munge.seed" \
  >"$T/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$MUNGE_SOCK" ] && break; kill -0 "${PIDS[0]}" 2>/dev/null || break; sleep 0.1; done
[ -S "$MUNGE_SOCK" ] || { cat "$T/munged.out"; dump_logs; skip "munged did not start (see its log above)"; }

# --- slurm.conf
mkdir -p "$T/state" "$T/spool" "$T/out"
cat > "$T/slurm.conf" <<CONF
ClusterName=headlight-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK
CredType=cred/munge
PluginDir=$PLUGINS
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
# slurmd 22.05 loads a cgroup plugin even with proctrack/linuxproc + task/none (it has no
# CgroupPlugin=disabled: "cannot find cgroup plugin for disabled"), so name the one that matches
# this machine's hierarchy and keep it from mounting anything or calling systemd.
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
  printf 'CgroupPlugin=cgroup/v2\nIgnoreSystemd=yes\n' > "$T/cgroup.conf"
else
  printf 'CgroupPlugin=cgroup/v1\nCgroupAutomount=no\n' > "$T/cgroup.conf"
fi
export SLURM_CONF="$T/slurm.conf"

slurmctld -D -i -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >"$T/slurmd.out" 2>&1 &
PIDS+=($!)

echo "test_slurm: waiting for the node (ports $CTLD_PORT/$SLURMD_PORT)"
state=""
for _ in $(seq 120); do
  state="$(sinfo -h -o %T 2>/dev/null | head -n 1)"
  [ "$state" = "idle" ] && break
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || { dump_logs; skip "a Slurm daemon exited at start-up (pid $p; logs above)"; }; done
  sleep 0.5
done
[ "$state" = "idle" ] || { dump_logs; skip "node not idle after 60 s (state '$state'; logs above)"; }
echo "test_slurm: node idle"

# --- the scan: 2 array tasks + the merge job
ARGS="--layers 4 --top 2 --docs 4 --prompts 3 --max-documents 8"
export HEADLIGHT_MODEL="$FIX/stories260k" HEADLIGHT_CORPUS="$FIX/corpora/tiny_en/test.jsonl"
export HEADLIGHT_OUT_DIR="$T/out" HEADLIGHT_ARGS="$ARGS" HEADLIGHT_CLI="$CLI" HEADLIGHT_THREADS=1
start=$SECONDS
ids="$(bash "$SRC/packaging/slurm/submit.sh" 2)" || fail "submit.sh failed"
echo "$ids"
scan_id="$(awk '$1 == "scan" {print $2}' <<<"$ids")"; merge_id="$(awk '$1 == "merge" {print $2}' <<<"$ids")"
[[ "$scan_id" =~ ^[0-9]+$ && "$merge_id" =~ ^[0-9]+$ ]] || fail "submit.sh printed no job ids"

done_=0
for _ in $(seq 360); do
  if [ -f "$T/out/merged.headlight" ] && [ -z "$(squeue -h -o %i 2>/dev/null)" ]; then done_=1; break; fi
  if [ ! -f "$T/out/merged.headlight" ] && squeue -h >/dev/null 2>&1 && [ -z "$(squeue -h -o %i)" ]; then
    sleep 1
    [ -f "$T/out/merged.headlight" ] || { scontrol show job "$merge_id" 2>/dev/null; fail "all jobs left the queue but no merged.headlight"; }
  fi
  sleep 0.5
done
[ "$done_" = 1 ] || { squeue; fail "no merged.headlight after 180 s"; }
echo "test_slurm: Slurm scan + merge took $((SECONDS - start)) s"
for s in 0 1; do [ -f "$T/out/shard-$s.headlight" ] || fail "shard-$s.headlight missing"; done
ls "$T/out/scan-${scan_id}_0.log" "$T/out/scan-${scan_id}_1.log" "$T/out/merge-${merge_id}.log" >/dev/null ||
  fail "job logs missing (did the jobs run under Slurm?)"

# --- single-machine reference, then compare exports
merged_equals_single "$T/out/merged.headlight"
echo "test_slurm: PASS"
