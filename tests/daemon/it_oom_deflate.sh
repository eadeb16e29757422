#!/usr/bin/env bash
# integration.daemon.oom_deflate: the OOM safety net. One 256 MiB guest,
# started with the fleet's default virtio-balloon deflate-on-oom=on, idles
# while ballastd (1 s tick) shrinks it to its working set + headroom; then its
# workload jumps by 100 MiB at once - far more than the headroom. The guest's
# balloon driver must give pages back before its OOM killer runs (no OOM kill:
# agent oom_kill count 0, no OOM killer on the console), the workload must get
# all of its memory, and ballastd must see the deflate (actual above its target
# without a command), count it once, grow the guest from there and hold off
# shrinking it.
#
# The safety net is for a jump faster than any report can reach the host. On
# TCG the workload touches its pages slowly enough that ballastd's own urgent
# growth often wins the race (PRESSURE in, balloon out in ~50 ms) and no
# deflate happens; so the test takes ballastd out of the race: it freezes the
# daemon (SIGSTOP) from before the jump until the workload holds its memory -
# a host too busy to answer in time - and then checks what ballastd makes of
# the balloon it finds when it wakes.
source "$(dirname "$0")/lib.sh"
need_guests
mib=$((1024 * 1024))
jump_at_s=70
vm0_pid_file=$(fleet_path --state "$state" vm0 pid)
vm0_console=$(fleet_path --state "$state" vm0 console)

fleet_started=1
BALLAST_BUILD_DIR=$build "$src/scripts/fleet" start --count 1 --memory 256M --state "$state" \
  --workload "spike:base=16M,peak=116M,after=${jump_at_s}s,hold=60s" \
  --wait --timeout 120 >"$state/fleet.log" 2>&1 || { cat "$state/fleet.log" >&2; fail "fleet did not start"; }
booted=$SECONDS
grep -q 'deflate-on-oom=on' /proc/"$(cat "$vm0_pid_file")"/cmdline ||
  fail "the fleet did not start the guest with deflate-on-oom=on by default"
fast_config
echo 'ksm_mode = observe' >>"$conf/ballastd.conf" # leave the host's KSM alone
start_daemon --config-dir "$conf"

shrunk() {
  status_json | jq -e --argjson lim $((150 * mib)) '
    .vms[0] | .agent == "connected" and .actual_bytes != null and .actual_bytes <= $lim'
}
wait_for $((jump_at_s - 8)) shrunk || { status_json >&2; fail "guest not shrunk to <= 150 MiB before the jump"; }
((SECONDS - booted < jump_at_s - 2)) || fail "shrink came too late to test the jump"
before=$(status_json | jq '.vms[0].actual_bytes / 1048576 | floor')
grep -q 'holding 116 MiB' "$vm0_console" && fail "the jump came before the freeze"
kill -STOP "$daemon_pid"
echo "shrunk to $before MiB before a +100 MiB jump; ballastd frozen"

got_it() { grep -q 'holding 116 MiB' "$vm0_console"; }
wait_for $((jump_at_s + 60)) got_it || fail "the workload never got its 116 MiB"
sleep 2 # let a late OOM kill show
kill -CONT "$daemon_pid"
echo "workload holds 116 MiB; ballastd resumed"
counted() { ctl --json explain vm0 | jq -e '.guest_deflate_events >= 1'; }
wait_for 10 counted || true # the assertions below say what is missing
sleep 1                     # the decision after the count

kills=$(ctl --json explain vm0 | jq '.agent.oom_kill_count')
[[ $kills == 0 ]] || fail "vm0: agent reports oom_kill $kills"
! grep -q 'Out of memory\|oom-kill\|invoked oom-killer' "$vm0_console" ||
  fail "vm0: OOM killer on the console: $(grep -m3 'Out of memory\|oom' "$vm0_console")"
ok "no OOM kill: the workload got +100 MiB over a $before MiB guest"

explain=$(ctl --json explain vm0)
events=$(jq '.guest_deflate_events' <<<"$explain")
((events >= 1)) || fail "ballastd saw no deflate-on-OOM (guest_deflate_events $events): $explain"
grep -q 'vm0: guest deflated its balloon on OOM' "$state/ballastd.log" || fail "deflate not logged"
logged=$(grep -c 'vm0: guest deflated its balloon on OOM' "$state/ballastd.log")
((logged == events)) || fail "deflate logged $logged times for $events episodes"
status_json | jq -e '.vms[0].guest_deflate_events >= 1' >/dev/null ||
  fail "status does not count the deflate"
jq -e '.target_set_bytes >= .actual_bytes - 1048576 and .deflate_hold_ms_left > 0' \
  <<<"$explain" >/dev/null || fail "after the deflate: target below actual or no hold-down: $explain"
grep 'deflated\|vm0: moving target .*grow' "$state/ballastd.log" | sed 's/^/  /' | head -8
ok "ballastd saw $events deflate episode(s), grew the guest from there and holds off shrinking"
