#!/usr/bin/env bash
# integration.libvirt.stall: a real libvirtd stops answering on an open
# connection (SIGSTOP), with a domain ballastd manages (docs/libvirt.md,
# "When libvirtd hangs"). integration.daemon.libvirt_stall covers a
# virConnectOpen that hangs against a fake libvirtd; this one covers the
# other half, a call in flight on a connection that was working:
#   stall     `set-policy DOM min_memory=150M` while libvirtd is stopped: the
#             balloon set hangs on the libvirt worker; `ballastctl status`
#             answers within 1 s every time and says `libvirt: stalled: call
#             ... pending`; the guest's agent (its own socket, not through
#             libvirtd) still reports;
#   keepalive within 15 s the call fails (libvirt's keepalive, 2 s x 2) and
#             the source reconnects, its virConnectOpen now the stalled call;
#   resume    SIGCONT: the source is connected again within 30 s and the
#             target it could not send arrives (the balloon >= 150 MiB);
#             ballastd never stopped and exits 0 on SIGTERM.
# The cleanup continues a stopped libvirtd before it stops it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_daemon
lv_setup

mib=$((1 << 20))
nominal=$((160 * mib))
dom=$tag-q35
daemon_pid=
lvd_pid=
lv_cleanup_extra() {
  [[ -n $lvd_pid ]] && kill -CONT "$lvd_pid" 2>/dev/null
  [[ -n $daemon_pid ]] && { kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; }
  if ((fails)) && [[ -f $lvdir/ballastd.log ]]; then echo "--- ballastd log (tail)" >&2; tail -n 40 "$lvdir/ballastd.log" >&2; fi
  :
}

v define "$(lv_domain_xml ballast-q35 "$dom" 1)" >/dev/null
v start "$dom" >/dev/null
lvd_pid=$(tr -dc 0-9 <"$lvdir/run/libvirt/libvirtd.pid")
[[ -n $lvd_pid && -r /proc/$lvd_pid/cmdline ]] || { fail "no libvirtd pid in $lvdir/run/libvirt/libvirtd.pid"; exit 1; }

conf=$lvdir/conf
fleet=$lvdir/fleet
mkdir -p "$conf" "$fleet"
printf '[ballastd]\ntick_interval_ms = 1000\ngrow_hold_ms = 0\n' >"$conf/ballastd.conf"
sock=$lvdir/ctl.sock
vm_json() { ctl --json status | jq -c --arg n "$dom" '.vms[] | select(.name == $n)'; }
host_libvirt() { ctl --json status | jq -r .host.libvirt; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }
actual_bytes() { vm_json | jq -r .actual_bytes; }

"$ballastd" --libvirt "$uri" --fleet "$fleet" --socket "$sock" --config-dir "$conf" \
  --log-format=fields >"$lvdir/ballastd.log" 2>&1 &
daemon_pid=$!
wait_for 10 ctl ping || { fail "ballastd did not answer"; exit 1; }

reporting() { ctl --json explain "$dom" | jq -e '.agent.report_valid and .agent.age_ms < 3000'; }
wait_for 120 reporting || { fail "agent not reporting: $(vm_json)"; exit 1; }
shrunk() { (($(actual_bytes) <= nominal - 24 * mib)); }
wait_for 120 shrunk || { fail "not shrunk: $(vm_json)"; exit 1; }
ok "managed: idle guest shrunk to $(($(actual_bytes) / mib)) MiB; libvirt: $(host_libvirt)"

# --- stall: libvirtd stopped with a balloon set to send -------------------------------------------
frames() { ctl --json explain "$dom" | jq -e '.agent.frames'; }
frames_before=$(frames)
kill -STOP "$lvd_pid"
log "libvirtd $lvd_pid stopped"
ctl set-policy "$dom" min_memory=150M >/dev/null || fail "set-policy failed while libvirtd is stopped"
stalled() { host_libvirt | grep -Eq '^stalled: call [A-Za-z]+ pending for [0-9]+ s'; }
# 20 s: keepalive (2 s x 2) can cut the balloon call before it counts as
# stalled (LV_CALL_STALL_MS, 5 s); the reconnect's virConnectOpen then
# needs its own 5 s. CI once saw "connecting" at a 12 s deadline.
if wait_for 20 stalled; then
  ok "stall: $(host_libvirt)"
else
  fail "status does not show a stalled call: $(host_libvirt)"
fi
worst=0
for _ in 1 2 3 4 5; do
  t0=$(ms_now)
  ctl status >/dev/null || fail "ballastctl status failed while libvirtd is stopped"
  took=$(($(ms_now) - t0))
  ((took > worst)) && worst=$took
  sleep 0.2
done
if ((worst < 1000)); then
  ok "stall: ballastctl status answered in $worst ms at worst"
else
  fail "stall: ballastctl status took $worst ms"
fi
# A quiet agent holds its reports and is polled when half stale, so count
# frames rather than ask for a young report.
more_frames() {
  ctl --json explain "$dom" | jq -e --argjson f0 "$frames_before" \
    '.agent.report_valid and .agent.frames > $f0' >/dev/null
}
if wait_for 10 more_frames; then
  ok "stall: the agent still reports, $(($(frames) - frames_before)) frames since the stop (its socket does not go through libvirtd)"
else
  fail "stall: the agent stopped reporting: $(ctl --json explain "$dom" | jq -c .agent)"
fi

# --- keepalive: the call on the open connection fails, the source reconnects ------------------------
reconnecting() { host_libvirt | grep -q '^stalled: call virConnectOpen pending'; }
if wait_for 15 reconnecting; then
  ok "keepalive: the stuck call failed; reconnecting: $(host_libvirt)"
else
  fail "keepalive: no reconnect within 15 s: $(host_libvirt)"
fi
grep -Eq 'keepalive timeout|libvirt: .*(closed|down)' "$lvdir/ballastd.log" ||
  fail "keepalive: the lost connection was not logged"

# --- resume ------------------------------------------------------------------------------------------
kill -CONT "$lvd_pid"
log "libvirtd $lvd_pid continued"
connected() { host_libvirt | grep -q '^connected' && vm_json | jq -e '.qmp == "connected"'; }
if wait_for 30 connected; then
  ok "resume: $(host_libvirt)"
else
  fail "resume: not connected again within 30 s: $(host_libvirt) $(vm_json | jq -c '{qmp}')"
fi
grown() { (($(actual_bytes) >= 150 * mib)); }
if wait_for 30 grown; then
  ok "resume: the target sent after the stall: actual $(($(actual_bytes) / mib)) MiB"
else
  fail "resume: actual $(($(actual_bytes) / mib)) MiB, min_memory 150M not applied: $(vm_json | jq -c '{target_bytes, actual_bytes, last_reason}')"
fi

kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=
((rc == 0)) || fail "ballastd exit status $rc"
v destroy "$dom" >/dev/null || :
((fails == 0)) || { log "$fails check(s) failed"; exit 1; }
log "all checks passed"
