#!/usr/bin/env bash
# integration.libvirt.vmem: ballastd --libvirt drives a libvirt domain's
# virtio-mem device through libvirt (docs/virtio-mem.md, "libvirt"). A
# private libvirtd (libvirtd-env) runs one tiny q35 guest from
# docs/examples/ballast-virtio-mem.xml: 128 MiB at boot (the NUMA cell) and
# a 384 MiB device in 2 MiB blocks, 128 MiB of it plugged at boot, beside an
# autodeflate balloon. Its workload idles, then ramps from 8 to 136 MiB at
# 16 MiB/s into its own memory.high (as integration.daemon.vmem's g0).
# Checks:
#   found     ballastd says it drives the device (boot memory from the NUMA
#             cell) and explain names the actuator (virtio-mem or both),
#             with the device's max and block as libvirt prints them;
#   unplug    idle, the device is unplugged through libvirt: `virsh
#             dumpxml`'s <current> falls from the 128 MiB it booted with to
#             32 MiB or less, <requested> with it, and explain's
#             vmem_size_bytes follows <current> (the size-change event and
#             the XML re-read);
#   balloon   every virDomainSetMemoryFlags ballastd sent was taken (no set
#             failure) and QEMU's balloon (`virsh dommemstat` actual) never
#             exceeds boot memory: the value sent is boot-relative, as on
#             QMP; no balloon figure ballastd had to correct (a libvirt that
#             counts the device into its balloon figures) and no refused
#             request;
#   sane      the agent's working set (MemTotal - MemAvailable, less the
#             balloon's pages the guest counts as used) stays below
#             the guest's size throughout, and while idle the target never
#             goes under it (the engine reads the guest against what it has
#             plugged, not against the device's max);
#   grow      the ramp plugs blocks back through libvirt (<current> rises
#             again);
#   no OOM    no OOM kill in the guest (agent count, console).
# The net (the recent peak kept plugged) is 20 s here, as in
# integration.daemon.vmem, so the device unplugs within the test.
#
# `it_vmem.sh no-balloon` (integration.libvirt.vmem_no_balloon): the same
# domain with <memballoon model='none'/>, the device alone. It must be
# managed (before 2026-12-06 a domain without a balloon was not), every set
# answered without a virDomainSetMemoryFlags (there is no balloon to set),
# and the same unplug, ramp and no-OOM checks hold; the balloon checks are
# moot.
variant=${1:-balloon}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_daemon
lv_setup

mib=$((1 << 20))
dom=$tag-vmem
[[ $variant == balloon ]] || dom=$tag-vmem-nb
ramp_at_s=100
daemon_pid=
lv_cleanup_extra() {
  [[ -n $daemon_pid ]] && { kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; }
  if ((fails)) && [[ -f $lvdir/ballastd.log ]]; then echo "--- ballastd log (tail)" >&2; tail -n 60 "$lvdir/ballastd.log" >&2; fi
  v destroy "$dom" >/dev/null 2>&1
  :
}

xml=$(lv_domain_xml ballast-virtio-mem "$dom" 1)
workload="sawtooth:min=8M,max=136M,step=8M,tick=500ms,start=${ramp_at_s}s,high=112M"
sed -i "s|ballast.name=$dom|ballast.workload=$workload ballast.name=$dom|" "$xml"
grep -q "ballast.workload=" "$xml" || { fail "workload not in the domain XML"; exit 1; }
if [[ $variant == no-balloon ]]; then
  sed -i "/<memballoon /,/<\/memballoon>/c\    <memballoon model='none'/>" "$xml"
  grep -q "<memballoon model='none'/>" "$xml" || { fail "memballoon not replaced"; exit 1; }
fi
v define "$xml" >/dev/null
v start "$dom" >/dev/null
booted=$SECONDS

conf=$lvdir/conf
fleet=$lvdir/fleet
mkdir -p "$conf" "$fleet"
printf '[ballastd]\ntick_interval_ms = 1000\ngrow_hold_ms = 0\nvmem_peak_hold_ms = 20000\n' \
  >"$conf/ballastd.conf"
sock=$lvdir/ctl.sock
explain() { ctl --json explain "$dom"; }
# The device's figures in the live XML, in KiB (libvirt prints them in KiB).
current_kib() { v dumpxml "$dom" | sed -n "/model='virtio-mem'/,/<\/memory>/s|.*<current unit='KiB'>\([0-9]*\)</current>.*|\1|p"; }
requested_kib() { v dumpxml "$dom" | sed -n "/model='virtio-mem'/,/<\/memory>/s|.*<requested unit='KiB'>\([0-9]*\)</requested>.*|\1|p"; }
balloon_kib() { v dommemstat "$dom" | awk '$1 == "actual" {print $2}'; }

# The guest's driver plugs the 128 MiB requested at boot: <current> is 0
# until then (a first run read 0 here and "unplugged" to 0 proved nothing).
plugged_at_boot() { local c; c=$(current_kib); [[ -n $c ]] && ((c >= 128 * 1024)); }
wait_for 90 plugged_at_boot ||
  { fail "the guest did not plug its 128 MiB at boot: <current> $(current_kib) KiB"; exit 1; }
"$ballastd" --libvirt "$uri" --fleet "$fleet" --socket "$sock" --config-dir "$conf" \
  --log-format=fields >"$lvdir/ballastd.log" 2>&1 &
daemon_pid=$!
wait_for 10 ctl ping || { fail "ballastd did not answer"; exit 1; }

# --- found --------------------------------------------------------------------------------------
boot_cur=$(current_kib)
[[ -n $boot_cur ]] || { fail "no <current> in the live XML: libvirt without virtio-mem sizes?"; exit 1; }
log "libvirt: <current> $boot_cur KiB, <requested> $(requested_kib) KiB at start"
managed() { explain | jq -e '.actuator != null and .actuator.vmem_max_bytes > 0 and .agent.report_valid' >/dev/null; }
if wait_for 120 managed; then
  ok "explain shows the device: $(explain | jq -c '.actuator | {kind, vmem_size_bytes, vmem_max_bytes, vmem_block_bytes, vmem_state}')"
else
  fail "no virtio-mem device or no agent in explain: $(explain | jq -c '{actuator, agent: .agent.report_valid}')"
  exit 1
fi
if [[ $variant == no-balloon ]]; then
  grep -q "domain $dom .*no balloon: virtio-mem alone.* managed" "$lvdir/ballastd.log" ||
    fail "ballastd did not say it manages $dom by its device alone: $(grep "$dom" "$lvdir/ballastd.log" | head -3)"
fi
grep -q "virtio-mem device virtiomem0: .* boot memory 128 MiB" "$lvdir/ballastd.log" ||
  fail "ballastd did not say it drives virtiomem0 with 128 MiB of boot memory: $(grep -i 'virtio-mem' "$lvdir/ballastd.log" | head -3)"
explain | jq -e --argjson max $((384 * mib)) --argjson blk $((2 * mib)) \
  '.actuator.vmem_max_bytes == $max and .actuator.vmem_block_bytes == $blk and .nominal_bytes == 128 * 1048576 + $max' >/dev/null ||
  fail "figures: $(explain | jq -c '{nominal_bytes, a: .actuator}')"

# --- unplug: idle, the device's blocks go out through libvirt ------------------------------------
min_cur=$boot_cur
ws_max=0
samples=0
said_ws='' said_target='' said_balloon=''
# wait_for silences what it polls: the samples' failures go to the test's stderr.
exec 3>&2
# One sample (each failure said once): the lowest <current>, the agent's
# working set against the guest's size (and, idle, against the target),
# QEMU's balloon against boot memory.
sample() {
  local phase=$1 c e ws total target nominal b
  c=$(current_kib)
  [[ -n $c ]] && ((c < min_cur)) && min_cur=$c
  e=$(explain)
  total=$(jq '.agent.mem_total_bytes' <<<"$e")
  # The autodeflate balloon's pages stay inside MemTotal as used: the
  # guest's own use is without them (explain's guest_mem split).
  ws=$(jq '.agent.mem_total_bytes - .agent.mem_available_bytes - (.guest_mem.balloon_bytes // 0)' <<<"$e")
  target=$(jq '.target_bytes' <<<"$e")
  nominal=$(jq '.nominal_bytes' <<<"$e")
  # While the device moves, or until a report after its move, the guest's
  # figures and the host's disagree by up to the move (docs/policy.md, "a
  # device of ours moving"): the engine holds them, and so does this check.
  if [[ $(jq '.agent.report_valid and .actuator.vmem_size_bytes == .actuator.vmem_requested_bytes
      and (.reason | contains("memory device moved") | not)' <<<"$e") == true ]] && ((total > 0)); then
    samples=$((samples + 1))
    ((ws > ws_max)) && ws_max=$ws
    ((ws > 0 && ws < nominal)) || [[ -n $said_ws ]] || {
      said_ws=1
      fail "working set $((ws / mib)) MiB of a $((nominal / mib)) MiB guest" 2>&3
    }
    # Under the ramp the working set outruns the target until it grows:
    # that is what growth is for. Idle, never.
    [[ $phase != idle ]] || ((target < 0 || target >= ws)) || [[ -n $said_target ]] || {
      said_target=1
      fail "idle: target $((target / mib)) MiB under the working set $((ws / mib)) MiB" 2>&3
    }
  fi
  b=
  [[ $variant != balloon ]] || b=$(balloon_kib)
  [[ -z $b ]] || ((b <= 128 * 1024)) || [[ -n $said_balloon ]] || {
    said_balloon=1
    fail "QEMU's balloon at $b KiB, over the 128 MiB of boot memory" 2>&3
  }
  :
}
unplugged() { sample idle; ((min_cur <= 32 * 1024)); }
deadline=$((ramp_at_s - 10 - (SECONDS - booted)))
if wait_for "$deadline" unplugged; then
  ok "unplugged through libvirt: <current> $boot_cur -> $min_cur KiB, <requested> $(requested_kib) KiB"
else
  fail "not unplugged by the ramp: <current> $(current_kib) KiB: $(explain | jq -c '{reason, target_bytes, actual_bytes, actuator}')"
fi
follows() { (($(explain | jq '.actuator.vmem_size_bytes / 1024 | floor') == $(current_kib))); }
wait_for 10 follows ||
  fail "explain's vmem_size_bytes $(explain | jq .actuator.vmem_size_bytes) is not libvirt's <current> $(current_kib) KiB"
kind=$(explain | jq -r '.actuator.kind')
[[ $kind == virtio-mem || $kind == both ]] || fail "actuator '$kind'"
ctl explain "$dom" | grep '^  actuator: ' || fail "ballastctl explain shows no actuator line"

# --- grow: the ramp plugs blocks back ------------------------------------------------------------
low=$(current_kib)
replugged() { sample ramp; (($(current_kib) > low + 16 * 1024)); }
if wait_for $((ramp_at_s + 50 - (SECONDS - booted))) replugged; then
  ok "ramp: <current> $low -> $(current_kib) KiB, plugged back through libvirt"
else
  fail "ramp: nothing plugged back (<current> $(current_kib) KiB): $(explain | jq -c '{target_bytes, actual_bytes, actuator}')"
fi
sleep 5 # the ramp runs on; a late OOM kill shows
sample ramp
log "working set at most $((ws_max / mib)) MiB over $samples samples"

# --- balloon, OOM ---------------------------------------------------------------------------------
e=$(explain)
[[ $(jq '.balloon_set_failures' <<<"$e") == 0 ]] ||
  fail "virDomainSetMemoryFlags refused: $(jq -c '{balloon_set_failures, last_set_error}' <<<"$e")"
((samples > 0)) || fail "no agent report sampled"
! grep -q 'requested size not taken' "$lvdir/ballastd.log" ||
  fail "a request was refused: $(grep 'requested size not taken' "$lvdir/ballastd.log" | head -2)"
! grep -q 'libvirt counted the virtio-mem device in' "$lvdir/ballastd.log" ||
  fail "libvirt's balloon figure included the device: $(grep 'counted the virtio-mem' "$lvdir/ballastd.log")"
! grep -q 'not by ballastd and not by the guest' "$lvdir/ballastd.log" ||
  fail "a move of ours was read as someone else's"
[[ $(jq '.agent.oom_kill_count' <<<"$e") == 0 ]] || fail "agent reports oom_kill $(jq '.agent.oom_kill_count' <<<"$e")"
! grep -q 'Out of memory\|oom-kill' "$lvdir/guests/$dom.console.log" || fail "OOM killer on the console"

kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=
((rc == 0)) || fail "ballastd exit status $rc"
v destroy "$dom" >/dev/null || :
((fails == 0)) || { log "$fails check(s) failed"; exit 1; }
log "all checks passed"
