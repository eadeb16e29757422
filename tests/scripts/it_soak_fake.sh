#!/usr/bin/env bash
# integration.soak.fake: the chaos soak's machinery against a real ballastd,
# without a guest: 3 fake guests (tools/fake_fleet.c), ballastd with a 1 s
# tick, and scripts/soak_checks.py's sampler on its control socket. Two of
# the soak's faults are injected as scripts/soak does: the hostile agent
# (scripts/soak_faults.py, QMP by a second fake-fleet) for 20 s, then kill -9
# and restart of ballastd. Then:
#   - the sampler's samples carry what the checks need (modes, targets within
#     params, report ages, ballastd's pid and VmRSS) from the real documents;
#   - the hostile guest was seen, managed for a while, and its misdeeds
#     counted (agent_violations or agent_rejects) while ballastd lived on;
#   - the restarted ballastd read its state file;
#   - `soak_checks.py check` over the run passes: every fake guest managed
#     within 10 s of each fault, no target outside [min, max];
#   - and it fails, naming the guest, once one fake guest's reports stop
#     (`reports off`) before a third fault: the verdict can fail.
source "$(dirname "${BASH_SOURCE[0]}")/../daemon/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
fake=$build/tests/fake-fleet
[[ -x $fake ]] || skip "fake-fleet not built"
checks=$src/scripts/soak_checks.py
faults=$src/scripts/soak_faults.py
work=$state/soak
mkdir -p "$work"
events=$work/events.jsonl
samples=$work/samples.jsonl
now() { local t=${EPOCHREALTIME/,/.}; echo "$t"; }
emit() { jq -nc '$ARGS.named' "$@" >>"$events"; }

# ksm_mode = observe: a fake fleet must not start or tune the host's ksmd.
printf '[ballastd]\ntick_interval_ms = 1000\nksm_mode = observe\n' >"$conf/ballastd.conf"
start_fake 3 --memory 256 --used 64
start_daemon --config-dir "$conf"
echo "$daemon_pid" >"$work/ballastd.pid"
python3 "$checks" sample --socket "$state/ctl.sock" --pid-file "$work/ballastd.pid" \
  --out "$samples" --events "$events" 2>"$work/live.txt" &
extra_pids+=($!)
managed() { status_json | jq -e '[.vms[] | select(.mode == "managed" and .agent == "connected")] | length == 3'; }
wait_for 20 managed || { status_json >&2; fail "the fake guests were not managed"; }
emit --argjson t "$(now)" --arg event start --argjson guests '["fake0","fake1","fake2"]'
sleep 3

# The hostile guest, as scripts/soak injects it.
hdir=$(fleet_path --state "$state" hostile0 dir)
hfake=$work/hostile-fake
mkdir "$hdir"
t=$(now)
python3 "$faults" hostile-agent --fake-fleet "$fake" --agent "$(fleet_path --state "$state" hostile0 agent)" \
  --qmp "$(fleet_path --state "$state" hostile0 qmp)" --pid "$(fleet_path --state "$state" hostile0 pid)" \
  --fake-dir "$hfake" --fake-qmp "$(fleet_path --state "$hfake" fake0 qmp)" \
  --fake-pid "$(fleet_path --state "$hfake" fake0 pid)" >"$work/hostile.out" 2>&1 &
hostile_pid=$!
extra_pids+=("$hostile_pid")
wait_for 10 grep -q '^ready' "$work/hostile.out" || fail "hostile agent: $(cat "$work/hostile.out")"
emit --argjson t "$(now)" --arg event hostile-up --arg name hostile0
emit --argjson t "$t" --argjson t_done "$(now)" --arg event fault --arg kind hostile-agent \
  --arg detail "20 s" --argjson victims '[]'
hostile_seen() { vm_json hostile0 | jq -e '.mode == "managed" and .qmp == "connected"'; }
wait_for 15 hostile_seen || { status_json >&2; fail "the hostile guest was never managed"; }
ok "the hostile guest is managed (its QMP by fake-fleet)"
sleep 18
misdeeds=$(vm_json hostile0 | jq '.agent_violations + .agent_rejects')
((misdeeds > 0)) || fail "no violation or reject counted for the hostile agent: $(vm_json hostile0)"
ok "hostile agent: $(vm_json hostile0 | jq -c '{agent_violations, agent_rejects, guest_log_suppressed}')"
kill "$hostile_pid"
wait "$hostile_pid" || fail "the hostile agent exited $? on SIGTERM"
rm -rf "$hdir"
emit --argjson t "$(now)" --arg event hostile-gone --arg name hostile0
emit --argjson t "$(now)" --arg event fault-end --arg kind hostile-agent
kill -0 "$daemon_pid" || fail "ballastd died under the hostile agent"
sleep 12

# kill -9 and restart, as scripts/soak does.
[[ -f $state/ctl.state.json ]] || fail "no state file before the kill"
t=$(now)
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
start_daemon --config-dir "$conf"
echo "$daemon_pid" >"$work/ballastd.pid"
emit --argjson t "$t" --argjson t_done "$(now)" --arg event fault --arg kind kill-ballastd \
  --arg detail "restarted" --argjson victims '[]'
wait_for 5 grep -q 'state of [1-9][0-9]* VMs read' "$state/ballastd.log" ||
  fail "the restarted ballastd did not read its state file: $(grep 'state file' "$state/ballastd.log")"
ok "restarted ballastd read its state file"
sleep 13
emit --argjson t "$(now)" --arg event end
sleep 1.5
pids=$(jq -r 'select(.ok and .pid != null) | .pid' "$samples" | sort -u | wc -l)
((pids == 2)) || fail "samples name $pids ballastd pids, not 2"
full=$(jq -s '[.[] | select(.ok and .rss_kib > 0 and (.vms.fake0 | .min_bytes > 0
  and .max_bytes >= .min_bytes and .age_ms != null and .qmp == "connected"))] | length' "$samples")
((full > 40)) || fail "only $full samples carry the checks' fields: $(tail -1 "$samples")"
ok "$full samples with ballastd's RSS and fake0's mode, bounds and report age"
rc=0
python3 "$checks" check --samples "$samples" --events "$events" --summary "$work/summary.json" \
  >"$work/check.txt" || rc=$?
cat "$work/check.txt"
((rc == 0)) || fail "the check found violations on a healthy fake run (live: $(cat "$work/live.txt"))"
jq -e '[.recoveries[] | select(.recovered_s != null)] | length == 3' "$work/summary.json" >/dev/null ||
  fail "recoveries: $(jq -c .recoveries "$work/summary.json")"
ok "check passed: $(jq -c '[.recoveries[] | {check, recovered_s}]' "$work/summary.json")"

# One guest stops reporting, then a fault: the verdict must fail and name it.
fake_cmd reports off >/dev/null
t=$(now)
emit --argjson t "$t" --argjson t_done "$t" --arg event fault --arg kind foreign-balloon \
  --arg detail "nothing (a test)" --argjson victims '[]'
sleep 12
emit --argjson t "$(now)" --arg event end
sleep 1.5
rc=0
python3 "$checks" check --samples "$samples" --events "$events" >"$work/check2.txt" || rc=$?
((rc == 1)) || fail "check exited $rc with silent agents: $(cat "$work/check2.txt")"
grep -q 'recovery fake0: not managed with a fresh agent report within 10 s after foreign-balloon' \
  "$work/check2.txt" || fail "the silent guest is not named: $(cat "$work/check2.txt")"
ok "silent agents after a fault: $(grep -c VIOLATION "$work/check2.txt") violation(s), fake0 named"
