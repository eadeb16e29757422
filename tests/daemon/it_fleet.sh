#!/usr/bin/env bash
# integration.daemon.fleet: ballastd manages 2 real guests; status --json
# shows both with actual sizes from QMP; a fake guest whose agent socket sends
# garbage is disconnected and counted while the real guests are served;
# killing one guest's QEMU leaves ballastd serving the other; SIGTERM exits 0
# and removes the control socket.
source "$(dirname "$0")/lib.sh"
need_guests
mib=$((1024 * 1024))

start_fleet 2 160M
fast_config
start_daemon --config-dir "$conf"

both_have_actual() {
  status_json | jq -e --argjson n $((160 * mib)) '
    [.vms[] | select((.name == "vm0" or .name == "vm1") and .qmp == "connected"
                     and .nominal_bytes == $n and .actual_bytes != null
                     and .actual_bytes > 0 and .actual_bytes <= $n)] | length == 2'
}
wait_for 30 both_have_actual >/dev/null || { status_json >&2; fail "vm0/vm1 not both shown with QMP sizes"; }
ok "status --json shows vm0 and vm1 with nominal and actual from QMP"
ctl status | grep -q '^vm0 ' || fail "status table lacks vm0"
ctl explain vm0 | grep -q 'reason:' || fail "explain vm0 gives no reason"

# The hostile guest appears after ballastd started: inotify must pick it up.
fake0=$(fleet_path --state "$state" fake0 dir)
fake0_agent=$(fleet_path --state "$state" fake0 agent)
fake0_qmp=$(fleet_path --state "$state" fake0 qmp)
t0=$(date +%s%N)
mkdir "$fake0"
python3 "$src/tests/daemon/fake_agent.py" "$fake0_agent" "$fake0_qmp" \
  >"$state/fake.log" 2>&1 &
extra_pids+=($!)
rejected() {
  status_json | jq -e '(.vms[] | select(.name == "fake0") | .agent_rejects >= 1)
                       and .host.agent_rejects >= 1'
}
wait_for 20 rejected || { status_json >&2; fail "garbage agent not disconnected/counted"; }
echo "fake0 seen and its agent rejected $((($(date +%s%N) - t0) / 1000000)) ms after mkdir"
kill -0 "$daemon_pid" || fail "ballastd died on garbage"
grep -q 'agent fake0: disconnected, misbehaving guest' "$state/ballastd.log" ||
  fail "no log line for the rejected agent"
both_have_actual >/dev/null || fail "real guests not served after the garbage agent"
ok "garbage agent disconnected and counted; vm0 and vm1 still served"

# Kill one guest's QEMU outright.
vm1_pid_file=$(fleet_path --state "$state" vm1 pid)
t0=$(date +%s%N)
kill -9 "$(cat "$vm1_pid_file")"
vm1_gone() { status_json | jq -e '[.vms[].name] | index("vm1") == null'; }
wait_for 15 vm1_gone || { status_json >&2; fail "killed vm1 still listed"; }
echo "vm1 dropped $((($(date +%s%N) - t0) / 1000000)) ms after kill -9 (0.5 s polling)"
kill -0 "$daemon_pid" || fail "ballastd died with vm1"
actual_before=$(status_json | jq '.vms[] | select(.name == "vm0") | .actual_bytes')
[[ $actual_before != null ]] || fail "vm0 lost its QMP figures"
# vm0 is still actuated/observed: its tick count moves and QMP stays up.
ticks0=$(status_json | jq .host.ticks)
sleep 2.5
ticks1=$(status_json | jq .host.ticks)
((ticks1 > ticks0)) || fail "ballastd stopped ticking after vm1 died"
status_json | jq -e '.vms[] | select(.name == "vm0") | .qmp == "connected"' >/dev/null ||
  fail "vm0 QMP down after vm1 died"
ok "vm1 killed: dropped from status, vm0 still served"

kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=
((rc == 0)) || fail "ballastd exited $rc on SIGTERM"
[[ ! -e $state/ctl.sock ]] || fail "control socket left behind"
ok "SIGTERM: exit 0, control socket removed"
