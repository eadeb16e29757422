#!/usr/bin/env bash
# integration.daemon.balloon_audit: a guest whose QEMU keeps the pages its
# balloon claims to have given back is flagged (docs/ballastd.md, "Host cost
# per VM": the balloon audit). Two fake guests (tools/fake_fleet.c) of
# 256 MiB whose "guest RAM" is all resident (--touch 256): ballastd shrinks
# their balloons, but the memory stays. At the first cost read after the
# shrink they are watched, not flagged; a minute later (two reads, `status
# --fresh` forcing them) each is flagged once: status shows the excess
# (balloon_unreleased_bytes), the text a note, the log one warning per VM.
# The code before had no audit.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
fake=$build/tests/fake-fleet
[[ -x $fake ]] || skip "fake-fleet not built"
MIB=1048576

printf '[ballastd]\ntick_interval_ms = 1000\nksm_mode = observe\n' >"$conf/ballastd.conf"
coproc FAKE { exec "$fake" "$state" 2 --memory 256 --used 64 --touch 256; }
extra_pids+=("$FAKE_PID")
if ! read -r -t 10 line <&"${FAKE[0]}" || [[ $line != ready ]]; then
  fail "fake fleet did not start"
fi
vm_json() { ctl --json --fresh status | jq -c --arg n "$1" '.vms[] | select(.name == $n)'; }

start_daemon --config-dir "$conf" --log-format=fields
shrunk() {
  ctl --json status | jq -e --argjson lim $((200 * MIB)) '[.vms[] | select(.actual_bytes <= $lim)] | length == 2'
}
wait_for 30 shrunk || fail "the fakes were not shrunk: $(ctl --json status | jq -c '[.vms[] | {name, actual_bytes}]')"
sleep 6 # the cost read of `--fresh` below is the first one after the shrink
for vm in fake0 fake1; do
  vm_json $vm | jq -e '.balloon_unreleased_bytes == 0 and .cost.guest_ram_resident_bytes > .actual_bytes' \
    >/dev/null || fail "$vm right after the shrink: $(vm_json $vm | jq -c '{balloon_unreleased_bytes, actual_bytes, cost}')"
done
ok "watched, not flagged at the first read: resident $(vm_json fake0 | jq '.cost.guest_ram_resident_bytes / 1048576 | floor') MiB, actual $(vm_json fake0 | jq '.actual_bytes / 1048576 | floor') MiB"

sleep 60
# A scheduled read may have come just before: --fresh reads again once it is 5 s old.
flagged() { vm_json "$1" | jq -e '.balloon_unreleased_bytes > 16777216'; }
for vm in fake0 fake1; do
  wait_for 15 flagged $vm ||
    fail "$vm not flagged after a minute: $(vm_json $vm | jq -c '{balloon_unreleased_bytes, actual_bytes}')"
done
n=$(grep -c 'does not release its balloon' "$state/ballastd.log" || true)
((n == 2)) || fail "$n audit warnings (expected 2, one per VM)"
grep 'does not release its balloon' "$state/ballastd.log" | jq -r .MESSAGE
ctl status | grep -q 'fake0: its QEMU holds .* over the balloon' || fail "status text: $(ctl status)"
sleep 3
ctl --fresh status >/dev/null
n=$(grep -c 'does not release its balloon' "$state/ballastd.log" || true)
((n == 2)) || fail "said $n times after more reads (expected once per VM)"
ok "flagged once per VM after a minute, shown in status"
