#!/usr/bin/env bash
# integration.fleet.boot: the launcher boots 2 real guests to their ready
# marker, each answers query-balloon on its qmp.sock with its configured size,
# status sees them, and stop leaves no QEMU, socket or pid file behind.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_tools

state=$(mktemp -d /tmp/ballast-fleet-boot.XXXXXX)
trap 'kill_leftovers "$state"; rm -rf "$state"' EXIT
vm0_pid_file=$(fleet_path --state "$state" vm0 pid)
vm0_console=$(fleet_path --state "$state" vm0 console)
vm1_pid_file=$(fleet_path --state "$state" vm1 pid)
vm1_qmp=$(fleet_path --state "$state" vm1 qmp)

"$fleet" start --count 2 --memory 128M --state "$state" --wait --timeout 240 ||
  { tail -n 20 "$state"/vm*/"$(fleet_path console)" >&2 || true; fail "start --wait failed"; }

for vm in vm0 vm1; do
  console=$(fleet_path --state "$state" "$vm" console)
  pid_file=$(fleet_path --state "$state" "$vm" pid)
  grep -q '^ballast-guest: ready' "$console" || fail "$vm: no ready marker"
  for f in qmp agent; do
    sock=$(fleet_path --state "$state" "$vm" "$f")
    [[ -S $sock ]] || fail "$vm: $sock is not a socket"
  done
  pid=$(cat "$pid_file")
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qx -- "$pid_file" ||
    fail "$vm: pid $pid is not this guest's QEMU"
  actual=$(balloon_actual "$state" "$vm")
  [[ $actual == $((128 << 20)) ]] || fail "$vm: query-balloon actual=$actual, want $((128 << 20))"
  # THP is off for the QEMU process unless --thp.
  grep -q '^THP_enabled:[[:space:]]*0' "/proc/$pid/status" || fail "$vm: THP not disabled"
  echo "$vm: pid $pid ready, balloon actual $actual"
done

status=$("$fleet" status --state "$state" --json)
alive=$(python3 -c 'import json,sys; g=json.load(sys.stdin)["guests"]; print(sum(x["alive"] and x["merge"] for x in g), len(g))' <<<"$status")
[[ $alive == "2 2" ]] || fail "status --json: want 2 alive merging guests of 2, got '$alive'"
"$fleet" status --state "$state" | grep -Eq '^vm1 +[0-9]+ +yes +128M +(tcg|kvm) +on ' ||
  fail "status text line for vm1 is wrong"

# A guest that died (SIGKILL: QEMU leaves its pid file and sockets) shows as
# not alive; a guest that does not react to SIGTERM (stopped) gets SIGKILL.
pid1=$(cat "$vm1_pid_file")
kill -KILL "$pid1"
while [[ -e /proc/$pid1 ]] && ! grep -q '^State:.*Z' "/proc/$pid1/status" 2>/dev/null; do sleep 0.1; done
[[ -e $vm1_pid_file && -S $vm1_qmp ]] || fail "expected stale files of the killed vm1"
"$fleet" status --state "$state" | grep -Eq '^vm1 +[0-9]+ +no ' || fail "status: killed vm1 not shown dead"
"$fleet" status --state "$state" | grep -Eq '^vm0 +[0-9]+ +yes ' || fail "status: vm0 not alive"
kill -STOP "$(cat "$vm0_pid_file")"
out=$("$fleet" stop --state "$state" --timeout 1 2>&1)
grep -q 'ignored SIGTERM' <<<"$out" || fail "stop did not report the SIGKILL: $out"
assert_clean "$state"
# Logs stay for reading.
[[ -s $vm0_console ]] || fail "$vm0_console removed by stop"
# Stop again: nothing to do, still success.
"$fleet" stop --state "$state" 2>/dev/null || fail "second stop failed"
echo "PASS"
