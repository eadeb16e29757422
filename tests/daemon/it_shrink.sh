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

# Polled reporting: once nothing moves, the idle agents send no heartbeat of
# their own; a tick POLLs those whose report is half the stale window old
# (agent_stale_ms 15 s: every 7.5 s, so every 8th of these 1 s ticks) and
# decides on the answers read 100 ms later. Broken polls would show as no
# POLL counted, or as reports ageing toward the 15 s staleness limit; polls
# at every tick (the cost this rule saves) as more than 4 in 20 s.
settled() { # no balloon command for 8 s
  local c
  c=$(status_json | jq .host.balloon_changes)
  [[ $c == "${last_changes:-}" ]] && ((SECONDS - changed_at >= 8)) && return 0
  [[ $c != "${last_changes:-}" ]] && { last_changes=$c; changed_at=$SECONDS; }
  return 1
}
changed_at=$SECONDS
wait_for 90 settled || fail "balloon commands did not stop within 90 s"
for vm in vm0 vm1; do
  ctl --json explain "$vm" | jq -e '.agent.polled == true' >/dev/null ||
    fail "$vm: agent not granted polled reporting"
done
p0=$(ctl --json explain vm0 | jq .agent.polls)
worst=0
for _ in $(seq 20); do
  sleep 1
  age=$(ctl --json explain vm0 | jq '.agent.age_ms')
  ((age > worst)) && worst=$age
done
p1=$(ctl --json explain vm0 | jq .agent.polls)
((p1 - p0 >= 2)) || fail "vm0: $((p1 - p0)) POLLs in 20 s (due every 7.5 s)"
((p1 - p0 <= 4)) || fail "vm0: $((p1 - p0)) POLLs in 20 s: polled at every tick, not when due"
((worst < 8800)) || fail "vm0: its report reached $worst ms (due at 7500 ms: polls not answered?)"
ok "idle agents polled when due: $((p1 - p0)) POLLs to vm0 in 20 s, oldest report $worst ms"
