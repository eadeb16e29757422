#!/usr/bin/env bash
# integration.daemon.budget: the fleet memory budget on real guests
# (docs/policy.md, "A fleet memory budget"). 6 tiny guests of 256 MiB.
#   1. observe: every VM in mode = observe, nothing actuated; the fleet's
#      unmanaged host cost is read with `status --fresh` (budget.fleet_cost_bytes).
#   2. met: memory_budget = 3/4 of that cost, every VM managed (SIGHUP). The
#      fleet's measured cost must come within the budget, no target below its
#      VM's budget floor, no guest OOM kill, budget.unmet false.
#   3. unmet: a budget between the VMs' min_memory in all (so not a config
#      error) and the sum of their floors. It must be reported: budget.unmet,
#      a budget_reason per VM in explain, a "budget unmet" log line after the
#      HUP, and still no target below a floor and no OOM kill: the budget is
#      never met by starving a guest.
# KSM is part of the cost (ballastd starts it by yield on a fleet), so the
# host's KSM settings are saved and restored, under the KSM lock.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_guests
ksm=/sys/kernel/mm/ksm
[[ -w $ksm/run ]] || skip "$ksm/run is not writable (no KSM, or not root): the budget needs KSM's saving measured"
N=6

# One KSM driver at a time on this host (integration.ksm.fleet, bench-ksm).
exec 9>/tmp/ballast-ksm.lock
flock -w 600 9 || fail "another KSM test or benchmark holds /tmp/ballast-ksm.lock"
saved_run=$(cat $ksm/run)
saved_pages=$(cat $ksm/pages_to_scan)
saved_sleep=$(cat $ksm/sleep_millisecs)
restore_ksm() {
  echo 0 >$ksm/run || true
  echo "$saved_sleep" >$ksm/sleep_millisecs || true
  echo "$saved_pages" >$ksm/pages_to_scan || true
  echo "$saved_run" >$ksm/run || true
}
# lib.sh's cleanup stops ballastd and the fleet and exits; ballastd is
# stopped here first so that nothing writes KSM after it is restored.
budget_cleanup() {
  local rc=$?
  [[ -n ${watchdog:-} ]] && kill "$watchdog" 2>/dev/null
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  restore_ksm
  # cleanup reads the test's status from $?; under set -e a failing
  # `(exit rc)` would end this function before the fleet is stopped.
  set +e
  (exit "$rc")
  cleanup
}
trap budget_cleanup EXIT
trap 'exit 1' TERM
# ctest's SIGKILL at TIMEOUT (300 s) would leave the guests running: stop first.
(
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  sleep 280 >/dev/null 2>&1 &
  s=$!
  wait "$s"
  echo "FAIL: out of time after 280 s" >&2
  kill -TERM $$
) 9>&- &
watchdog=$!

mib() { echo $(($1 / 1048576)); }
write_conf() { # BUDGET MODE
  {
    printf '[ballastd]\ntick_interval_ms = 1000\nstate_file = none\n'
    [[ -n $1 ]] && printf 'memory_budget = %s\n' "$1"
    printf '[defaults]\nmode = %s\n' "$2"
  } >"$conf/ballastd.conf"
}
# The guests' own /proc/vmstat oom_kill, from their agents (explain).
oom_kills() {
  local vm n total=0
  for vm in $(status_json | jq -r '.vms[].name'); do
    n=$(ctl --json explain "$vm" | jq '.agent.oom_kill_count // 0')
    total=$((total + n))
  done
  echo "$total"
}
# Every VM whose floor is known: its last target is not below it.
floors_kept() {
  local vm bad=0
  for vm in $(status_json | jq -r '.vms[].name'); do
    ctl --json explain "$vm" | jq -e '(.budget_floor_bytes == null) or (.target_set_bytes == 0)
      or (.target_set_bytes >= .budget_floor_bytes)' >/dev/null ||
      { echo "  $vm: target $(ctl --json explain "$vm" | jq -c '{target_set_bytes, budget_floor_bytes}')" >&2; bad=1; }
  done
  return $bad
}

start_fleet $N 256M 9>&-
write_conf "" observe
start_daemon --config-dir "$conf" 9>&-

# 1. Unmanaged cost: every VM's cost known (agents reporting, smaps read).
all_costs() { ctl --json --fresh status | jq -e --argjson n $N \
  '[.vms[] | select(.cost.host_cost_bytes != null and .cost.host_cost_bytes > 0)] | length == $n'; }
wait_for 90 all_costs || fail "no host cost for all $N VMs after 90 s"
sleep 5 # the guests' agents settle after boot
unmanaged=$(ctl --json --fresh status | jq '.budget.fleet_cost_bytes')
((unmanaged > 0)) || fail "fleet cost unknown: $unmanaged"
ok "unmanaged fleet cost $(mib "$unmanaged") MiB for $N guests (observe mode, nothing moved)"
actual_moved=$(status_json | jq '[.vms[] | select(.actual_bytes < .nominal_bytes)] | length')
((actual_moved == 0)) || fail "observe mode moved $actual_moved balloons"

# 2. A budget of 3/4 of the unmanaged cost: met, nobody starved.
budget=$((unmanaged * 3 / 4))
write_conf "$(mib $budget)M" managed
kill -HUP "$daemon_pid"
t0=$SECONDS
met() { ctl --json --fresh status | jq -e '.budget.fleet_cost_bytes <= .budget.effective_bytes
  and (.budget.unmet | not)'; }
wait_for 150 met || {
  ctl --json --fresh status | jq -c '.budget' >&2
  fail "budget $(mib $budget) MiB not met within 150 s"
}
cost=$(ctl --json --fresh status | jq '.budget.fleet_cost_bytes')
ok "budget $(mib $budget) MiB met in $((SECONDS - t0)) s: fleet cost $(mib "$cost") MiB"
floors_kept || fail "a target below its VM's budget floor"
ok "no target below its VM's budget floor"
grep -E 'ksm: run 0 -> 1' "$state/ballastd.log" | head -1 | sed 's/^/  /' || true
kills=$(oom_kills)
((kills == 0)) || fail "$kills guest OOM kills while meeting the budget"
ok "no guest OOM kill"

# 3. A budget no balloon setting can meet: above the min_memory sum (25% of
# 256 MiB each), below the floors. Said plainly, per VM; nobody starved.
floors=$(status_json | jq '.budget.floors_bytes')
mins=$((N * 64 * 1048576))
((floors > mins + 32 * 1048576)) || skip "floors $(mib "$floors") MiB leave no room above min_memory in all ($(mib $mins) MiB)"
unmet_budget=$(((mins + floors) / 2))
lines_before=$(wc -l <"$state/ballastd.log")
write_conf "$(mib "$unmet_budget")M" managed
kill -HUP "$daemon_pid"
unmet() { status_json | jq -e '.budget.unmet and .budget.short_bytes > 0'; }
wait_for 30 unmet || { status_json | jq -c '.budget' >&2; fail "budget $(mib "$unmet_budget") MiB below floors $(mib "$floors") MiB not reported unmet"; }
ok "budget $(mib "$unmet_budget") MiB < floors $(mib "$floors") MiB: unmet, short $(mib "$(status_json | jq '.budget.short_bytes')") MiB"
vm=$(status_json | jq -r '.vms[0].name')
reason=$(ctl --json explain "$vm" | jq -r '.budget_reason // empty')
[[ -n $reason ]] || fail "explain $vm gives no budget_reason while the budget is unmet"
ok "explain $vm: $reason"
wait_for 10 bash -c "tail -n +$((lines_before + 1)) '$state/ballastd.log' | grep -q 'budget unmet'" ||
  fail "no 'budget unmet' log line after the HUP"
ok "logged: $(tail -n +$((lines_before + 1)) "$state/ballastd.log" | grep -m1 'budget unmet' | cut -c1-160)"
sleep 10 # the engine keeps holding; nothing must go below a floor meanwhile
floors_kept || fail "a target below its VM's budget floor while the budget is unmet"
ok "no target below its VM's budget floor while unmet"
kills=$(oom_kills)
((kills == 0)) || fail "$kills guest OOM kills under an unmet budget"
ok "no guest OOM kill"
