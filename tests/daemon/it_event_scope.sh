#!/usr/bin/env bash
# integration.daemon.event_scope: a PRESSURE frame is decided for its own VM
# and costs the others nothing. Eight fake guests (tools/fake_fleet.c), balloons
# inflated to 128 of 256 MiB, a 60 s tick so no scheduled tick falls in the
# test. A PRESSURE frame from fake3 must grow fake3 at once, and no other
# guest may receive a single QMP command meanwhile (counted by the fakes'
# QMP servers, and by ballastd's per-VM balloon_queries / balloon_sets). A
# burst of 10 PRESSURE frames from fake5 costs at most two decisions
# (one per MANAGER_VM_MIN_DECIDE_GAP_MS). Last, the host cost end to end:
# `status --fresh` reads every fake's smaps (fake-fleet's own, where it maps
# a mergeable "guest RAM") without a QMP command, and the parts add up.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
fake=$build/tests/fake-fleet
[[ -x $fake ]] || skip "fake-fleet not built"
n=8

printf '[ballastd]\ntick_interval_ms = 60000\nksm_mode = observe\n' >"$conf/ballastd.conf"
coproc FAKE { exec "$fake" "$state" "$n" --memory 256 --actual 128 --used 64; }
extra_pids+=("$FAKE_PID")
if ! read -r -t 10 line <&"${FAKE[0]}" || [[ $line != ready ]]; then
  fail "fake fleet did not start"
fi
fake_cmd() { # CMD...: one command to the fakes; prints their answer
  echo "$*" >&"${FAKE[1]}"
  while read -r -t 5 line <&"${FAKE[0]}" && [[ $line != end ]]; do echo "$line"; done
}
start_daemon --config-dir "$conf" --log-format=fields

ready() {
  status_json | jq -e --argjson n "$n" '
    [.vms[] | select(.qmp == "connected" and .agent == "connected" and .actual_bytes == 134217728)]
    | length == $n'
}
wait_for 20 ready || { status_json >&2; fail "the fake guests were not all connected"; }
sleep 1.5 # connect-time queries answered, a report from each
before=$(fake_cmd counts)
status_before=$(status_json)

fake_cmd pressure fake3 >/dev/null
grown() { status_json | jq -e '.vms[] | select(.name == "fake3") | .actual_bytes > 134217728'; }
wait_for 5 grown || fail "fake3 not grown after its PRESSURE frame: $(status_json | jq -c '.vms[3]')"
sleep 0.5
after=$(fake_cmd counts)
echo "QMP commands per fake (name, all, query-balloon, balloon, actual MiB, reports):"
paste -d' ' <(echo "$before") <(echo "$after" | cut -d' ' -f2-) | sed 's/^/  /'
while read -r name cmds _; do
  now=$(awk -v n="$name" '$1 == n {print $2}' <<<"$after")
  if [[ $name == fake3 ]]; then
    ((now > cmds)) || fail "fake3 got no QMP command"
  else
    ((now == cmds)) || fail "$name got $((now - cmds)) QMP command(s) for fake3's PRESSURE"
  fi
done <<<"$before"
jq -e --argjson b "$status_before" '
  [.vms[] | select(.name != "fake3") as $v
   | ($b.vms[] | select(.name == $v.name)) as $o
   | select($v.balloon_queries != $o.balloon_queries or $v.balloon_sets != $o.balloon_sets)]
  | length == 0' <<<"$(status_json)" >/dev/null || fail "ballastd counts requests to other VMs"
status_json | jq -e '.vms[] | select(.name == "fake3") | .event_decisions >= 1 and .balloon_sets >= 1' \
  >/dev/null || fail "fake3's decision not counted"
ok "PRESSURE on fake3: fake3 grown, no QMP command to the 7 others"
# The growth's log record says, as fields, what it answered and that it was
# sent (scripts/bench_stats.py counts growths by them).
jq -e -s '[.[] | select(.VM == "fake3" and .DECISION == "grow_urgent" and .REASON == "pressure"
           and .ACTION == "move" and (.TARGET_BYTES | tonumber) > 134217728)] | length >= 1' \
  "$state/ballastd.log" >/dev/null || fail "no grow_urgent record with REASON pressure, ACTION move for fake3"
ok "fake3's growth logged with REASON=pressure ACTION=move"

for _ in $(seq 10); do echo "pressure fake5" >&"${FAKE[1]}"; done
for _ in $(seq 10); do read -r -t 5 line <&"${FAKE[0]}"; done
sleep 1
d=$(status_json | jq '.vms[] | select(.name == "fake5") | .event_decisions')
((d >= 1 && d <= 2)) || fail "a burst of 10 PRESSURE frames made $d decisions (expected 1..2)"
ok "a burst of 10 PRESSURE frames: $d decision(s)"

# Host cost: nothing read yet (the 60 s tick has not come); --fresh reads all 8.
status_json | jq -e '[.vms[] | select(.cost.age_ms == null and .cost.error == "not read yet")]
  | length == 8' >/dev/null || fail "a cost read before any tick or request: $(status_json | jq -c '.vms[0].cost')"
before=$(fake_cmd counts)
fresh=$(ctl --json --fresh status)
jq -e '[.vms[] | .cost as $c | select($c.host_cost_bytes > 0 and $c.age_ms < 5000
         and $c.error == null and $c.host_cost_bytes == $c.guest_unique_bytes
           + $c.ksm_shared_charge_bytes + $c.qemu_own_bytes + $c.page_tables_bytes
         and $c.guest_ram_resident_bytes >= 1048576
         and $c.balloon_held_bytes == .nominal_bytes - .actual_bytes)]
       | length == 8' <<<"$fresh" >/dev/null || fail "costs after --fresh: $(jq -c '.vms[0].cost' <<<"$fresh")"
jq -e '.fleet_cost.vms == 8 and .fleet_cost.host_cost_bytes == ([.vms[].cost.host_cost_bytes] | add)' \
  <<<"$fresh" >/dev/null || fail "fleet cost: $(jq -c .fleet_cost <<<"$fresh")"
# The fake agents speak protocol v1: the split by kind stays null.
jq -e '[.vms[].guest_mem | select(.used_bytes == .cache_bytes + .anon_bytes + .kernel_other_bytes
         and .anon_bytes > 0 and .shmem_bytes == null and .other_bytes == null)]
       | length == 8' <<<"$fresh" >/dev/null ||
  fail "guest_mem: $(jq -c '.vms[0].guest_mem' <<<"$fresh")"
after=$(fake_cmd counts)
[[ $(awk '{print $1, $2}' <<<"$after") == $(awk '{print $1, $2}' <<<"$before") ]] ||
  fail "reading the costs sent QMP commands: before ${before//$'\n'/; }, after ${after//$'\n'/; }"
ctl explain fake3 | grep -E 'cost|memory'
ctl explain fake3 | grep -E -q '^  host cost [0-9]+ MiB = guest unique [0-9]+ \+ KSM share' ||
  fail "explain has no host cost line: $(ctl explain fake3)"
ctl explain fake3 | grep -q '^  guest memory: used [0-9]* MiB = cache' ||
  fail "explain has no guest memory line"
ctl status | grep -q '^cost: 8 VMs, host cost' || fail "the status table has no fleet cost line"
ok "host cost: 8 VMs read by --fresh, parts add up, no QMP command; explain and the table show it"
