#!/usr/bin/env bash
# integration.daemon.vmem_burst: a burst faster than any plug, on virtio-mem
# (docs/virtio-mem.md, rule 5 and "Benchmark"). One q35 guest of 256 MiB,
# 128 of them in a virtio-mem device beside a deflate-on-OOM balloon
# (`fleet start --actuator both`), THP off, the default policy with a 1 s
# tick. Its workload holds 16 MiB, so ballastd shrinks it far below its boot
# size; then it jumps to 144 MiB in well under a second.
#
# With one block of plugged memory in the balloon as the only net (the plan
# before 2026-12-06, or vmem_peak_hold_ms = 0) the device had been unplugged
# and the guest was OOM-killed before the plug request reached QEMU
# (bench-density (f): all 8 guests). With its recent peak - here, what it
# booted with - kept plugged and the part above the target held in the
# balloon, the guest takes the memory back by itself: before the burst the
# device still holds the peak and the balloon the rest, and the burst
# reaches 144 MiB with no OOM kill.
#
# `it_vmem_burst.sh virtio-mem` (integration.daemon.vmem_burst_no_balloon):
# the same guest without a balloon (`--actuator virtio-mem`). No balloon, no
# deflate-on-OOM: the peak stays plugged and free in the guest (rule 5b).
# Before that rule the device was unplugged to the target and the burst met
# an empty device.
actuator=${1:-both}
source "$(dirname "$0")/lib.sh"
need_guests
mib=$((1024 * 1024))
burst_at_s=50

fleet_started=1
BALLAST_BUILD_DIR=$build "$src/scripts/fleet" start --count 1 --memory 256M --actuator "$actuator" \
  --state "$state" --workload "spike:base=16M,peak=144M,after=${burst_at_s}s,hold=10s" \
  --wait --timeout 120 >"$state/fleet.log" 2>&1 || { cat "$state/fleet.log" >&2; fail "fleet did not start"; }
booted=$SECONDS
fast_config
start_daemon --config-dir "$conf"

explain_vm0() { ctl --json explain vm0; }
target_mib() { status_json | jq '.vms[0].target_bytes // 268435456 | . / 1048576 | floor'; }
# Shrunk below boot + a third of the device, the device still at 128 MiB
# (the peak), the balloon holding the rest (or, without one, the rest left
# free in the guest): the net in place.
net_reason="deflate-on-OOM net"
[[ $actuator == both ]] || net_reason="peak stays plugged as free headroom"
netted() {
  (($(target_mib) <= 176)) && explain_vm0 | jq -e --argjson m $mib --arg why "$net_reason" '
    .actuator != null and .actuator.vmem_size_bytes == 128 * $m
    and (.actuator.reason | contains($why))'
}
wait_for $((burst_at_s - 8)) netted ||
  fail "no net before the burst: target $(target_mib) MiB, $(explain_vm0 | jq -c .actuator)"
((SECONDS - booted < burst_at_s - 2)) || fail "the shrink came too late to test the burst"
echo "before the burst: target $(target_mib) MiB, $(explain_vm0 | jq -c '{device:
  (.actuator.vmem_size_bytes / 1048576), reason: .actuator.reason}')"

console=$(fleet_path --state "$state" vm0 console)
at_peak() { grep -q 'ballast-workload: .* holding 144 MiB' "$console"; }
if ! wait_for $((burst_at_s + 40 - (SECONDS - booted))) at_peak; then
  grep 'vm0: .*\(guest deflated\|moving target\|reached\)' "$state/ballastd.log" | tail -8 >&2
  grep -A45 'invoked oom-killer' "$console" | head -60 >&2 || true # which zone ran out
  fail "the burst did not reach 144 MiB: $(grep 'ballast-workload\|Killed process\|Out of memory' \
    "$console" | tail -4); agent oom_kill $(explain_vm0 | jq '.agent.oom_kill_count')"
fi
sleep 3 # let a late OOM kill show
# (none at all when the net took the burst without a growth)
{ grep 'vm0: .*\(guest deflated\|grow\|balloon reached\)' "$state/ballastd.log" || true; } |
  sed 's/^/  /' | head -10
kills=$(explain_vm0 | jq '.agent.oom_kill_count')
[[ $kills == 0 ]] || fail "agent reports oom_kill $kills"
! grep -q 'Out of memory\|oom-kill\|Killed process' "$console" || fail "OOM killer on the console"
deflates=$(status_json | jq '.vms[0].guest_deflate_events // 0')
ok "burst 16 -> 144 MiB came through on the net (deflate-on-OOM episodes: $deflates), no OOM kill"
