#!/usr/bin/env bash
# integration.daemon.libvirt_stall: a libvirtd that hangs stalls only the
# libvirt source, never the fleet path (docs/libvirt.md, "When libvirtd
# hangs"). A fake libvirtd (a unix socket that accepts and never answers)
# behind --libvirt=qemu+unix:///system?socket=..., and two fake fleet guests
# (tools/fake_fleet.c) in the same ballastd. While virConnectOpen hangs on
# the libvirt source's worker thread: `ballastctl status` answers within 1 s
# and names the stalled call, a fleet guest's PRESSURE is answered by a
# growth within 1 s, the stall is logged once. Killing the fake libvirtd
# ends the stall (the connect fails; status says down, retrying). With a
# hung libvirtd again, SIGTERM ends ballastd within LV_STOP_WAIT_MS (2 s)
# plus a margin: the stuck thread is left behind, and the log says so.
# On the code before the worker thread, virConnectOpen ran on the main loop:
# ballastd never answered its control socket at all.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
command -v python3 >/dev/null || skip "python3 not installed (the fake libvirtd)"
[[ -x $build/tests/fake-fleet ]] || skip "fake-fleet not built"
[[ -f $build/lib/ballast-libvirt.so ]] || skip "ballast-libvirt.so not built (libvirt-dev missing?)"

sock=$state/fake-libvirtd.sock
lv_pid=
# The fake libvirtd: accepts every connection, holds it open, never writes a byte.
start_fake_libvirtd() {
  rm -f "$sock"
  python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(16)
print("ready", flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' "$sock" >"$state/fake-libvirtd.out" 2>&1 &
  lv_pid=$!
  extra_pids+=("$lv_pid")
  wait_for 5 grep -q ready "$state/fake-libvirtd.out" || fail "fake libvirtd did not start"
}
ms_now() { echo $(($(date +%s%N) / 1000000)); }

printf '[ballastd]\ntick_interval_ms = 2000\nksm_mode = observe\n' >"$conf/ballastd.conf"
start_fake_libvirtd
start_fake 2 --memory 256 --actual 128 --used 64
start_daemon --config-dir "$conf" --log-format=fields --libvirt="qemu+unix:///system?socket=$sock"

ready() {
  status_json | jq -e '[.vms[] | select(.qmp == "connected" and .agent == "connected"
    and .actual_bytes == 134217728)] | length == 2'
}
wait_for 20 ready || fail "the fake guests were not connected while libvirtd hangs: $(status_json | jq -c .vms)"
stalled() { status_json | jq -e '.host.libvirt | test("^stalled: call virConnectOpen pending for [0-9]+ s")'; }
wait_for 15 stalled || fail "status does not show the libvirt source stalled: $(status_json | jq -c .host.libvirt)"
ok "stalled: $(status_json | jq -r .host.libvirt)"

# --- the fleet path while libvirt hangs -------------------------------------------------------
worst=0
for _ in 1 2 3 4 5; do
  t0=$(ms_now)
  out=$(ctl status) || fail "ballastctl status failed while libvirt hangs"
  took=$(($(ms_now) - t0))
  ((took > worst)) && worst=$took
  sleep 0.2
done
((worst < 1000)) || fail "ballastctl status took $worst ms while libvirt hangs"
grep -q '^libvirt: stalled: call virConnectOpen pending for' <<<"$out" ||
  fail "ballastctl status does not show the stall: $out"
ok "ballastctl status answers in $worst ms at worst, and shows the stall"

t0=$(ms_now)
fake_cmd pressure fake1 >/dev/null
grown=
while (($(ms_now) - t0 < 1000)); do
  if (($(actual_mib fake1) > 128)); then grown=1; break; fi
  sleep 0.05
done
took=$(($(ms_now) - t0))
[[ -n $grown ]] || fail "fake1 not grown within 1 s of its PRESSURE while libvirt hangs ($(actual_mib fake1) MiB)"
ok "fake1's PRESSURE answered by a growth to $(actual_mib fake1) MiB in $took ms"

n_warn=$(grep -c 'libvirt: virConnectOpen pending for' "$state/ballastd.log" || true)
((n_warn == 1)) || fail "the stall was logged $n_warn times, not once"

# --- the fake libvirtd goes away: the connect fails, the stall ends ---------------------------
kill "$lv_pid"
wait "$lv_pid" 2>/dev/null || true
down() { status_json | jq -e '.host.libvirt | test("^down: .*retrying$")'; }
wait_for 10 down || fail "the stall did not end when libvirtd went away: $(status_json | jq -c .host.libvirt)"
grep -q 'libvirt: virConnectOpen answered after' "$state/ballastd.log" ||
  fail "the end of the stall was not logged"
ok "libvirtd gone: $(status_json | jq -r .host.libvirt)"

# --- SIGTERM while a connect hangs: exit within a bound ---------------------------------------
start_fake_libvirtd
wait_for 40 stalled || fail "no stall with the second fake libvirtd: $(status_json | jq -c .host.libvirt)"
t0=$(ms_now)
kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
took=$(($(ms_now) - t0))
daemon_pid=
((rc == 0)) || fail "ballastd exited $rc on SIGTERM"
((took < 5000)) || fail "ballastd took $took ms to exit on SIGTERM while libvirt hangs"
grep -q 'libvirt: virConnectOpen still pending after 2000 ms at exit: its thread is left behind' \
  "$state/ballastd.log" || fail "the abandoned connect was not logged"
ok "SIGTERM while virConnectOpen hangs: exited in $took ms, the stuck thread left behind"
