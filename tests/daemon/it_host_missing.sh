#!/usr/bin/env bash
# integration.daemon.host_missing: a guest under pressure is grown while the
# host's memory figures cannot be read; nothing is shrunk meanwhile
# (docs/policy.md, "Host figures missing"). ballastd runs with --proc-root on
# a private copy of /proc/meminfo and /proc/pressure/memory, and two fake
# guests (tools/fake_fleet.c) of 256 MiB, idle at 64 MiB, which it shrinks.
# Then the copy of meminfo disappears: one warning; fake0 needs memory (a
# PRESSURE frame, its working set at 200 MiB) and is grown at once; fake1
# uses less still, and is not shrunk while the figures are missing. When
# meminfo is back, fake1 is shrunk again and the log says so. On the code
# before this test no decision at all was made without the host's figures:
# fake0 was not grown.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
fake=$build/tests/fake-fleet
[[ -x $fake ]] || skip "fake-fleet not built"
[[ -r /proc/meminfo ]] || skip "no /proc/meminfo to copy"

proc=$state/proc
mkdir -p "$proc/pressure"
cp /proc/meminfo "$proc/meminfo"
cp /proc/pressure/memory "$proc/pressure/memory" 2>/dev/null || true # PSI may be off: optional

printf '[ballastd]\ntick_interval_ms = 1000\ngrow_hold_ms = 0\nksm_mode = observe\n' >"$conf/ballastd.conf"
start_fake 2 --memory 256 --used 64

# The fleet's rest (PIDs, ksmd, boot id) is not under the copy: cost and KSM
# figures are unknown, and no state file is kept.
start_daemon --config-dir "$conf" --log-format=fields --proc-root "$proc" --state-file none
shrunk() { (($(actual_mib fake0) <= 200 && $(actual_mib fake1) <= 200)); }
wait_for 30 shrunk || fail "the fakes were not shrunk with host figures: $(fake_cmd counts)"
status_json | jq -e '.host.mem_total_bytes > 0' >/dev/null || fail "no host figures from the copy"
ok "both fakes shrunk: fake0 $(actual_mib fake0) MiB, fake1 $(actual_mib fake1) MiB"

rm "$proc/meminfo"
warned() { grep -q 'cannot read host memory under .*guests under pressure are still grown' "$state/ballastd.log"; }
wait_for 5 warned || fail "no warning when meminfo disappeared"
status_json | jq -e '.host.mem_total_bytes == null' >/dev/null || fail "status still shows host figures"
sleep 1.5 # settled: every VM's last decision made without host figures
fake_cmd used fake1 16 >/dev/null # fake1 could give more back: it must not, now
s1=$(sets fake1)

before=$(actual_mib fake0)
fake_cmd used fake0 200 >/dev/null
fake_cmd pressure fake0 >/dev/null
grown() { (($(actual_mib fake0) > before)); }
wait_for 5 grown || fail "fake0 under pressure not grown without host figures: $(vm_json fake0)"
ok "fake0 grown $before -> $(actual_mib fake0) MiB without host figures"

sleep 5
(($(sets fake1) == s1)) || fail "fake1 got $(($(sets fake1) - s1)) balloon command(s) without host figures"
vm_json fake1 | jq -e '.last_reason | test("host memory figures unreadable")' >/dev/null ||
  fail "fake1's reason does not say why it waits: $(vm_json fake1 | jq -c .last_reason)"
n=$(grep -c 'cannot read host memory under' "$state/ballastd.log" || true)
((n == 1)) || fail "$n warnings for the missing meminfo (expected 1)"
ok "fake1 not shrunk in 5 s without host figures; one warning"

cp /proc/meminfo "$proc/meminfo"
moved() { (($(sets fake1) > s1)); }
wait_for 15 moved || fail "fake1 not shrunk once meminfo is back: $(vm_json fake1)"
grep -q 'host memory readable again' "$state/ballastd.log" || fail "no line saying the figures are back"
ok "meminfo back: fake1 shrunk again ($(actual_mib fake1) MiB)"
