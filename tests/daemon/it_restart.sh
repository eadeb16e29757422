#!/usr/bin/env bash
# integration.daemon.restart: a restart of ballastd inside a hold-down does
# not shrink the guest (docs/policy.md, "Restarts"). Two fake guests
# (tools/fake_fleet.c) of 256 MiB, idle at 64 MiB: ballastd shrinks both;
# then fake0's balloon deflates on OOM (+32 MiB) and ballastd grows it and
# holds it for deflate_hold_ms (grow_hold_ms = 0, so only that hold-down
# stands between fake0 and a shrink), and fake1 gets a runtime min_memory.
# ballastd is stopped and started again: fake0 gets no balloon command for
# several ticks, explain says why, explain says why, the deflate count
# and fake1's override are back. The same restart without the state file
# (--state-file none) shrinks fake0 within seconds: the test fails without
# the feature. The deflate (its PRESSURE frame first, QEMU's event 300 ms
# later, maybe a calm report between) is never taken for someone else's
# change: no foreign hold in status, the state file or after the restart.
# Last, a corrupt state file is ignored with one warning and replaced.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
fake=$build/tests/fake-fleet
[[ -x $fake ]] || skip "fake-fleet not built"
MIB=1048576

printf '[ballastd]\ntick_interval_ms = 1000\ngrow_hold_ms = 0\nksm_mode = observe\n' >"$conf/ballastd.conf"
start_fake 2 --memory 256 --used 64
statefile=$state/ctl.state.json
stop_daemon() {
  kill -TERM "$daemon_pid"
  wait "$daemon_pid" || fail "ballastd exited $? on SIGTERM"
  daemon_pid=
  cat "$state/ballastd.log" >>"$state/ballastd.all.log"
}

start_daemon --config-dir "$conf" --log-format=fields
shrunk() { (($(actual_mib fake0) <= 200 && $(actual_mib fake1) <= 200)); }
wait_for 30 shrunk || fail "the fakes were not shrunk: $(fake_cmd counts)"
ok "both fakes shrunk: fake0 $(actual_mib fake0) MiB, fake1 $(actual_mib fake1) MiB"

fake_cmd deflate fake0 32 >/dev/null
deflated() { vm_json fake0 | jq -e '.guest_deflate_events == 1'; }
wait_for 10 deflated || fail "fake0's deflate not counted: $(vm_json fake0)"
ctl set-policy fake1 min_memory=200M >/dev/null
sleep 2 # the state file is written at most once a second
[[ -f $statefile ]] || fail "no state file at $statefile"
[[ $(stat -c %a "$statefile") == 600 ]] || fail "state file mode $(stat -c %a "$statefile")"
jq -e '.format == "ballastd-state" and .version == 2
       and (.vms[] | select(.name == "fake0") | .deflate_hold_until_ms > 0 and .target_bytes > 0
            and .guest_deflate_events == 1 and .foreign_bytes == null)
       and (.vms[] | select(.name == "fake1") | .overrides.min_memory == "209715200")' \
  "$statefile" >/dev/null || fail "state file: $(cat "$statefile")"
ok "deflate hold-down, target and runtime policy in $statefile"
# Past the window in which a rise waits to be told someone else's
# (PLANNER_DEFLATE_PRESSURE_MS, 5 s) and a tick more: still the guest's.
sleep 5
vm_json fake0 | jq -e '.foreign_target_bytes == null and .foreign_changes == 0' >/dev/null ||
  fail "fake0's deflate on OOM taken for someone else's change: $(vm_json fake0)"
jq -e '[.vms[] | select(.foreign_bytes != null)] | length == 0' "$statefile" >/dev/null ||
  fail "a foreign hold in the state file: $(jq -c '.vms[] | {name, foreign_bytes}' "$statefile")"
ok "the deflate is the guest's, not someone else's"

held=$(actual_mib fake0)
stop_daemon
before=$(sets fake0)
start_daemon --config-dir "$conf" --log-format=fields
sleep 7 # seven ticks: fake1's reports arrive, fake0 would have been shrunk long since
after=$(sets fake0)
((after == before)) || fail "fake0 got $((after - before)) balloon command(s) inside its hold-down after the restart"
(($(actual_mib fake0) == held)) || fail "fake0 moved from $held to $(actual_mib fake0) MiB"
explain=$(ctl --json explain fake0)
jq -e '.reason | test("deflated on OOM")' <<<"$explain" >/dev/null ||
  fail "fake0 not held for its deflate: $(jq -c '{reason, restored}' <<<"$explain")"
jq -e '.restored | test("deflate hold") and test("target")' <<<"$explain" >/dev/null ||
  fail "explain does not say what was restored: $(jq -c .restored <<<"$explain")"
vm_json fake0 | jq -e '.guest_deflate_events == 1 and .foreign_target_bytes == null' >/dev/null ||
  fail "deflate count lost, or a foreign hold came back: $(vm_json fake0)"
ctl --json explain fake1 | jq -e '.overrides | index("min_memory=200.0 MiB")' >/dev/null ||
  fail "fake1's runtime policy lost: $(ctl --json explain fake1 | jq -c .overrides)"
vm_json fake1 | jq -e --argjson m $((200 * MIB)) '.target_bytes >= $m' >/dev/null ||
  fail "fake1 under its kept min_memory: $(vm_json fake1)"
grep -q '"MESSAGE":"fake0: state from before the restart: .*deflate hold' "$state/ballastd.log" ||
  fail "no restore line for fake0"
ok "restarted inside the hold-down: no command to fake0 in 7 ticks ($(jq -r .reason <<<"$explain"))"

# The same restart without the state file: fake0 is shrunk at once.
stop_daemon
start_daemon --config-dir "$conf" --log-format=fields --state-file none
moved() { (($(sets fake0) > after)); }
wait_for 10 moved || fail "without the state file fake0 was not shrunk either: the test proves nothing"
ok "without the state file: fake0 shrunk $(($(sets fake0) - after)) time(s) within seconds"

# A corrupt state file: ignored with one warning, replaced at the next write.
stop_daemon
printf '{"format": "ballastd-state", "version": 1, "vms": [[[[[[' >"$statefile"
start_daemon --config-dir "$conf" --log-format=fields
ctl set-policy fake1 shares=300 >/dev/null
sleep 2
n=$(grep -c 'state file .*ignored' "$state/ballastd.log" || true)
((n == 1)) || fail "$n warnings for the corrupt state file (expected 1)"
grep 'state file .*ignored' "$state/ballastd.log" | jq -r .MESSAGE
jq -e '.vms | length == 2' "$statefile" >/dev/null || fail "corrupt state file not replaced: $(head -c 200 "$statefile")"
ctl ping >/dev/null || fail "ballastd not serving"
ok "a corrupt state file: one warning, replaced"
