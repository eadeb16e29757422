#!/usr/bin/env bash
# integration.fleet.vmem: one guest started with --actuator virtio-mem (q35,
# 128 MiB at boot, 256 MiB nominal) loads virtio_mem and plugs up to its
# nominal size; a workload touches and frees 150 MiB (so the plugged blocks
# are resident in QEMU); unplugging all 128 MiB over QMP reaches size 0 and
# gives at least half of it back to the host (QEMU's RSS); plugging it back
# reaches 128 MiB within 1 s. The guest is stopped even when a check fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_tools
resize=$(dirname "$0")/vmem_resize.py

state=$(mktemp -d /tmp/ballast-fleet-vmem.XXXXXX)
trap 'kill_leftovers "$state"; rm -rf "$state"' EXIT
console=$(fleet_path --state "$state" vm0 console)
pid_file=$(fleet_path --state "$state" vm0 pid)
qmp=$(fleet_path --state "$state" vm0 qmp-admin)
plugged=$((128 << 20))

"$fleet" start --count 1 --memory 256M --actuator virtio-mem --state "$state" --wait \
  --timeout 240 --workload spike:peak=150M,after=1s,hold=3s ||
  { tail -n 30 "$console" >&2 || true; fail "start --wait failed"; }
pid=$(cat "$pid_file")
tr '\0' '\n' <"/proc/$pid/cmdline" | grep -q '^virtio-mem-pci,id=vmem0,' ||
  fail "QEMU $pid has no virtio-mem-pci device"
grep -q 'virtio_mem virtio[0-9]*: requested size: 0x8000000' "$console" ||
  fail "the guest did not load virtio_mem (no 'requested size' line on its console)"
"$fleet" status --state "$state" --json | python3 -c '
import json, sys
g = json.load(sys.stdin)["guests"][0]
assert g["actuator"] == "virtio-mem", g
assert g["boot_memory_bytes"] == 128 << 20 and g["max_memory_bytes"] == 256 << 20, g
' || fail "status --json does not say virtio-mem with its sizes"

# The workload's 150 MiB came (mostly) out of the plugged, movable memory;
# wait until it freed them: then the blocks are free in the guest, resident
# in QEMU (virtio-mem has no free page reporting).
for _ in $(seq 300); do
  grep -q '^ballast-workload: .*target 0 MiB (holding 150)' "$console" && break
  sleep 0.1
done
grep -q '^ballast-workload: .*target 0 MiB (holding 150)' "$console" ||
  fail "the workload never freed its 150 MiB"
sleep 1

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])" <<<"$2"; }

out=$("$resize" "$qmp" "$pid" 0 60) || fail "unplug to 0 did not complete: $out"
echo "unplug: $out"
[[ $(json_field size_before_bytes "$out") == "$plugged" ]] ||
  fail "before the unplug the device held $(json_field size_before_bytes "$out"), want $plugged"
dropped=$(($(json_field rss_before_bytes "$out") - $(json_field rss_settled_bytes "$out")))
((dropped >= plugged / 2)) ||
  fail "QEMU's RSS dropped by $((dropped >> 20)) MiB, want at least $((plugged >> 21)) MiB"

out=$("$resize" "$qmp" "$pid" "$plugged" 10) || fail "plug back to 128 MiB did not complete: $out"
echo "plug: $out"
python3 -c 'import json,sys; sys.exit(json.loads(sys.argv[1])["elapsed_s"] >= 1.0)' "$out" ||
  fail "plugging 128 MiB took 1 s or more"

"$fleet" stop --state "$state" >/dev/null || fail "stop failed"
assert_clean "$state"
echo "PASS (RSS -$((dropped >> 20)) MiB on unplug)"
