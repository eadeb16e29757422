#!/usr/bin/env bash
# integration.daemon.page_cache: the page cache a guest keeps after it ran
# something, which free page reporting cannot return (it is not free) and
# KSM cannot merge (the guest's own data), is given back by ballastd. One
# 256 MiB guest with the launcher's scratch disk (--disk: virtio-blk,
# cache=none on the host, a sparse disk.raw) whose workload bursts once
# and then writes 64 MiB of unique data to /dev/vda through the page cache
# (cache=64M, docs/agent.md). With ballastd in --dry-run the agent must
# report that cache; once ballastd acts, the balloon must take the guest
# below what the cache held with no OOM kill, the agent's Cached must fall
# with it, and ballastd must have sent the idle RECLAIM (docs/policy.md,
# "Idle reclaim") for what the balloon left.
source "$(dirname "$0")/lib.sh"
need_guests
mib=$((1024 * 1024))
vm0_pid_file=$(fleet_path --state "$state" vm0 pid)
vm0_console=$(fleet_path --state "$state" vm0 console)
vm0_disk=$(fleet_path --state "$state" vm0 disk)

fleet_started=1
BALLAST_BUILD_DIR=$build "$src/scripts/fleet" start --count 1 --memory 256M --state "$state" \
  --disk 80 --workload "spike:base=8M,peak=40M,after=3s,hold=3s,cache=64M" \
  --wait --timeout 120 >"$state/fleet.log" 2>&1 || { cat "$state/fleet.log" >&2; fail "fleet did not start"; }
cmdline=$(tr '\0' ' ' </proc/"$(cat "$vm0_pid_file")"/cmdline)
[[ $cmdline == *"-drive file=$vm0_disk,if=none,id=scratch,format=raw,cache=none,aio=threads"* &&
   $cmdline == *"-device virtio-blk-device,drive=scratch"* ]] ||
  fail "QEMU has no scratch disk with cache=none: $cmdline"
[[ $(stat -c %s "$vm0_disk") -eq $((80 * mib)) ]] || fail "disk.raw is $(stat -c %s "$vm0_disk") bytes, not 80 MiB"
wait_for 60 grep -q 'left 64 MiB of page cache on /dev/vda' "$vm0_console" ||
  { tail -20 "$vm0_console" >&2; fail "the workload wrote no page cache within 60 s"; }
# The data really went through to the disk (fdatasync), not only the guest's cache.
written=$(($(stat -c %b "$vm0_disk") * 512))
((written >= 64 * mib)) || fail "disk.raw holds $written bytes after the write (fdatasync?)"
ok "scratch disk /dev/vda: 64 MiB written through the page cache, $((written / mib)) MiB on the host's disk"

fast_config
echo 'ksm_mode = observe' >>"$conf/ballastd.conf" # leave the host's KSM alone
start_daemon --config-dir "$conf" --dry-run
cached() { ctl --json explain vm0 | jq -r '.guest_mem.cache_bytes // empty'; }
cache_seen() { local c; c=$(cached); [[ -n $c ]] && ((c >= 60 * mib)); }
wait_for 30 cache_seen || { ctl --json explain vm0 >&2; fail "the agent reports no 64 MiB of page cache"; }
before=$(cached)
actual0=$(status_json | jq '.vms[0].actual_bytes')
((actual0 == 256 * mib)) || fail "the balloon moved under --dry-run: actual $actual0"
ok "agent reports $((before / mib)) MiB of page cache (dry run, balloon at nominal)"

ctl dry-run off >/dev/null || fail "dry-run off refused"
reclaimed() {
  local c a
  c=$(cached); a=$(status_json | jq '.vms[0].actual_bytes')
  [[ -n $c && -n $a ]] && ((c <= 4 * mib && a <= 160 * mib))
}
t0=$SECONDS
wait_for 120 reclaimed || { ctl explain vm0 >&2; fail "page cache $(( $(cached) / mib )) MiB, not reclaimed within 120 s"; }
ctl explain vm0
# The guest dropped it on ballastd's RECLAIM (a shrink step's, or the idle
# reclaim's once the VM is held: docs/policy.md, "Idle reclaim").
reclaims=$(ctl --json explain vm0 | jq '.agent.reclaims')
((reclaims >= 1)) || fail "no RECLAIM answered by the agent (agent.reclaims $reclaims)"
# The balloon alone leaves the part of the cache that fits in the headroom
# (16 MiB of 64 when measured); the idle reclaim takes the rest once the VM
# is held.
wait_for 60 grep -q 'vm0: idle: RECLAIM [0-9]* MiB of cold page cache' "$state/ballastd.log" ||
  fail "no idle RECLAIM in the log"
ooms=$(ctl --json explain vm0 | jq '.agent.oom_kill_count // 0')
((ooms == 0)) || fail "$ooms OOM kills in the guest"
! grep -q 'Killed process' "$vm0_console" || fail "OOM killer on the console"
ok "page cache $((before / mib)) -> $(( $(cached) / mib )) MiB ($reclaims RECLAIMs, $(( $(ctl --json explain vm0 | jq .agent.reclaimed_bytes) / mib )) MiB freed by the guest's account), balloon $(( $(status_json | jq '.vms[0].actual_bytes') / mib )) MiB after $((SECONDS - t0)) s; no OOM kill"
