#!/usr/bin/env bash
# integration.daemon.vmem: ballastd drives virtio-mem (docs/virtio-mem.md,
# "ballastd") on two q35 guests of 256 MiB, 128 of them in a virtio-mem
# device beside the balloon (`fleet start --actuator both`), with QEMU's
# transparent huge pages left on (--thp) - the hosts where a ballooned 4 KiB
# page returns nothing.
#   t0: its workload touches 150 MiB at once and frees it, then idles
#       (free page reporting off, so the freed memory stays in QEMU):
#       ballastd unplugs the device's blocks and QEMU's resident memory
#       falls (whole 2 MiB blocks go back to the host, huge pages included);
#       explain names the actuator; our own moves are never taken for
#       someone else's (no "another QMP client"), for a guest deflate or,
#       when the net ages out, for working set (t0 never grows).
#   g0: idles while it is shrunk, then ramps from 8 to 136 MiB at 16 MiB/s
#       into its own memory.high (as integration.daemon.spike): every growth
#       reaches its target within 1 s of the report that asked for it, the
#       device plugs blocks back, and nobody is OOM-killed (the guest's
#       deflate-on-OOM may take the spare block the plan keeps in the
#       balloon: counted, not a failure).
# A burst faster than any plug: tests/daemon/it_vmem_burst.sh (integration.daemon.vmem_burst).
# Each guest is a fleet of its own (its own workload) linked into the
# directory ballastd watches, as scripts/soak does.
source "$(dirname "$0")/lib.sh"
need_guests
ramp_at_s=75

vmem_cleanup() {
  local rc=$? f
  set +e
  for f in "$state"/fleets/*; do
    [[ -d $f ]] && BALLAST_BUILD_DIR=$build "$src/scripts/fleet" stop --state "$f" >/dev/null 2>&1
  done
  (exit "$rc")
  cleanup
}
trap vmem_cleanup EXIT

boot() { # NAME WORKLOAD [fleet options]
  local sub=$state/fleets/$1 name=$1 spec=$2
  shift 2
  BALLAST_BUILD_DIR=$build "$src/scripts/fleet" start --count 1 --memory 256M --actuator both \
    --thp --state "$sub" --name-prefix "$name" --workload "$spec" --wait --timeout 120 "$@" \
    >>"$state/fleet.log" 2>&1 || { cat "$state/fleet.log" >&2; fail "fleet $name did not start"; }
  ln -sfn "fleets/$name/${name}0" "$state/${name}0"
}
# t0 without free page reporting (libvirt's default): what its workload
# freed stays in QEMU until something gives it back (with reporting on, the
# guest hands it back by itself and there is nothing left to measure).
boot t "spike:peak=150M,after=1s,hold=4s" --no-free-page-reporting
boot g "sawtooth:min=8M,max=136M,step=8M,tick=500ms,start=${ramp_at_s}s,high=112M"
booted=$SECONDS
fast_config
# The deflate-on-OOM net keeps each guest's recent peak plugged (at first,
# what it booted with) for 5 to 10 minutes by default; 20 s here, so that
# the net ages out within the test: the device then unplugs what the balloon
# held, and the guest's figures lag the host's while it does. Before
# ballastd guarded them (policy.c note_device_seen) both guests read 60-100
# MiB more working set at that moment and were grown for nothing: t0 must
# never grow. (tests/daemon/it_vmem_burst.sh is the net's own reproducer.)
echo 'vmem_peak_hold_ms = 20000' >>"$conf/ballastd.conf"
start_daemon --config-dir "$conf"

vm_json() { ctl --json explain "$1"; }
rss_mib() { awk '/^Rss:/ {print int($2 / 1024)}' "/proc/$(cat "$(fleet_path --state "$state/fleets/${1%0}" "$1" pid)")/smaps_rollup"; }
vmem_mib() { vm_json "$1" | jq '.actuator.vmem_size_bytes / 1048576 | floor'; }

# --- t0: unplugged when idle, and the host gets it back ---------------------------------------
managed() { vm_json t0 | jq -e '.actuator != null and .agent.report_valid' >/dev/null; }
wait_for 60 managed || fail "t0: no virtio-mem device or no agent in explain: $(vm_json t0 | jq -c .actuator)"
sleep 6 # the workload's 150 MiB touched and freed (hold 4 s)
rss_peak=$(rss_mib t0)
unplugged() { (($(vmem_mib t0) <= 32)); }
wait_for 120 unplugged ||
  fail "t0: not unplugged: $(vm_json t0 | jq -c '{reason, target_bytes, actual_bytes, actuator, guest_mem: .agent}')"
sleep 2
rss_idle=$(rss_mib t0)
echo "t0: QEMU Rss $rss_peak MiB after the workload, $rss_idle MiB unplugged to $(vmem_mib t0) MiB"
((rss_peak - rss_idle >= 48)) ||
  fail "t0: unplugging gave the host $((rss_peak - rss_idle)) MiB (< 48) with THP on"
kind=$(vm_json t0 | jq -r '.actuator.kind')
[[ $kind == virtio-mem || $kind == both ]] || fail "t0: actuator '$kind'"
# --thp: ballastd read THP_enabled 1 from the QEMU's status and plans for a THP host.
vm_json t0 | jq -e '.actuator.reason | startswith("THP host")' >/dev/null ||
  fail "t0: the plan does not know its RAM is THP-backed: $(vm_json t0 | jq -c .actuator.reason)"
ballastctl_line=$(ctl explain t0 | grep '^  actuator: ') || fail "ballastctl explain shows no actuator line"
echo "$ballastctl_line"
ok "t0: unplugged while idle, QEMU gave back $((rss_peak - rss_idle)) MiB with THP on ($kind)"

# --- g0: a ramp grows it back through the device, within 1 s, no OOM kill ----------------------
((SECONDS - booted < ramp_at_s - 5)) || fail "t0's phase ran into g0's ramp"
g_before=$(vmem_mib g0)
grew() {
  grep -q "g0: balloon reached .* after the report" "$state/ballastd.log" &&
    grep -q "g0: moving target .*(grow_urgent: \(PRESSURE\|guest PSI\)" "$state/ballastd.log"
}
wait_for $((ramp_at_s + 45 - (SECONDS - booted))) grew || fail "g0 did not grow under PRESSURE/PSI"
sleep 5 # the ramp runs on; let a late OOM kill show
g_after=$(vmem_mib g0)
grep 'g0: .*\(balloon reached\|grow\)' "$state/ballastd.log" | grep -v 'shrink:' | sed 's/^/  /' | head -20
lat=$(sed -n 's/.*g0: balloon reached .* \([0-9][0-9]*\) ms after the report.*/\1/p' "$state/ballastd.log")
worst=$(sort -n <<<"$lat" | tail -1)
echo "g0: device $g_before -> $g_after MiB plugged; $(wc -l <<<"$lat") growths, worst $worst ms"
((worst <= 1000)) || fail "g0: a growth took $worst ms (> 1000 ms)"
((g_after > g_before)) || fail "g0: the device plugged nothing back ($g_before -> $g_after MiB)"
for vm in t0 g0; do
  kills=$(vm_json "$vm" | jq '.agent.oom_kill_count')
  [[ $kills == 0 ]] || fail "$vm: agent reports oom_kill $kills"
  console=$(fleet_path --state "$state/fleets/${vm%0}" "$vm" console)
  ! grep -q 'Out of memory\|oom-kill' "$console" || fail "$vm: OOM killer on the console"
done
# Our own moves are never someone else's; t0, idle, never deflates. g0 may:
# under its ramp the guest's OOM notifier takes back the spare block the
# plan keeps in the balloon (1 MiB at a time) - the net doing its job.
! grep -q 'another QMP client' "$state/ballastd.log" ||
  fail "a move of ours was read as someone else's: $(grep 'another QMP client' "$state/ballastd.log" | head -3)"
! grep -q 't0: guest deflated' "$state/ballastd.log" ||
  fail "t0, idle, read as deflating: $(grep 't0: guest deflated' "$state/ballastd.log" | head -3)"
! grep -q 't0: moving target .*(grow' "$state/ballastd.log" ||
  fail "t0, idle, grown (the net ageing out read as working set?): $(grep 't0: moving target .*(grow' "$state/ballastd.log" | head -3)"
deflates=$(grep -c 'g0: guest deflated its balloon on OOM' "$state/ballastd.log" || true)
echo "g0: deflate-on-OOM episodes during the ramp: $deflates (the spare block in the balloon)"
ok "g0: grown back through virtio-mem within $worst ms, no OOM kill, no move of ours misread"
