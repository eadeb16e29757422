#!/usr/bin/env bash
# integration.daemon.shrink: two idle 256 MiB guests with their agents are
# shrunk below their nominal size by ballastd with the default policy (only
# the tick is shortened), never below min_memory (25%); status shows the
# agents connected and fresh and the guests' MemAvailable; explain works.
source "$(dirname "$0")/lib.sh"
need_guests
mib=$((1024 * 1024))
nominal=$((256 * mib))

start_fleet 2 256M
fast_config
start_daemon --config-dir "$conf"

agents_fresh() {
  for vm in vm0 vm1; do
    ctl --json explain "$vm" | jq -e '.agent.state == "connected" and .agent.report_valid
      and .agent.age_ms < 3000 and .agent.mem_available_bytes > 0' || return 1
  done
  status_json | jq -e '[.vms[] | select(.agent == "connected" and .guest_available_bytes != null
                                        and .guest_available_bytes > 0)] | length == 2'
}
wait_for 30 agents_fresh || { status_json >&2; fail "agents not connected and fresh within 30 s"; }
ok "agents connected, reports fresh, guest MemAvailable shown"

shrunk() {
  status_json | jq -e --argjson n $nominal --argjson d $((48 * mib)) '
    [.vms[] | select(.actual_bytes != null and .actual_bytes <= $n - $d)] | length == 2'
}
t0=$SECONDS
wait_for 120 shrunk || { status_json >&2; fail "idle guests not shrunk by 48 MiB within 120 s"; }
echo "both guests shrunk by >= 48 MiB after $((SECONDS - t0)) s"
status_json | jq -e --argjson min $((nominal / 4)) \
  '[.vms[] | select(.target_bytes < $min or .actual_bytes < $min)] | length == 0' >/dev/null ||
  fail "a target below min_memory (25%)"
ctl explain vm0 | grep -q 'reason:' || fail "explain vm0 gives no reason"
grep -q 'vm0: moving target' "$state/ballastd.log" || fail "no log line for a move"
# One line per change, not per tick: exactly one move line per balloon
# command sent, and ticks without a change log nothing.
sleep 3
js=$(status_json)
moves=$(grep -c 'moving target' "$state/ballastd.log")
changes=$(jq .host.balloon_changes <<<"$js")
ticks=$(jq .host.ticks <<<"$js")
((moves == changes)) || fail "$moves move lines for $changes balloon commands"
vm0_moves=$(grep -c 'vm0: moving target' "$state/ballastd.log")
((vm0_moves < ticks)) || fail "vm0: $vm0_moves move lines in $ticks ticks: logging per tick?"
ctl status
ok "idle guests shrunk below nominal, above min; $moves move lines = balloon commands, $ticks ticks"
