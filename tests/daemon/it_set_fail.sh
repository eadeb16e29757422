#!/usr/bin/env bash
# integration.daemon.set_fail: a balloon command that fails or times out is
# not recorded as applied; it is rolled back, retried with back-off, counted,
# and its error shown (docs/policy.md, "Failed commands"). Two fake guests
# (tools/fake_fleet.c) of 256 MiB, idle at 64 MiB, so ballastd shrinks both.
# fake0's QMP server answers every `balloon` with QEMU's DeviceNotActive
# error: fake1 is shrunk and counted in balloon_changes, fake0 is not; its
# status shows the failures, the error and its age; explain shows no target
# in force; the command is retried, fewer times than there are ticks (the
# back-off doubles from 1 s). Once fake0's `balloon` works again, the next
# retry shrinks it and the log says commands work again. Then fake0's
# `balloon` hangs (no reply) while its guest needs memory: the growth times
# out after FLEET_QMP_TIMEOUT_MS (3 s), is retried, and goes through once
# the fake answers again. On the code before this test every failure was
# counted as applied and never retried: each check below fails there.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
fake=$build/tests/fake-fleet
[[ -x $fake ]] || skip "fake-fleet not built"

printf '[ballastd]\ntick_interval_ms = 1000\ngrow_hold_ms = 0\nksm_mode = observe\n' >"$conf/ballastd.conf"
start_fake 2 --memory 256 --used 64

fake_cmd balloon fake0 fail >/dev/null
start_daemon --config-dir "$conf" --log-format=fields

# --- a refused command, retried with back-off -------------------------------------------------
failed() { vm_json fake0 | jq -e '.balloon_set_failures >= 1'; }
wait_for 20 failed || fail "no failed balloon command counted for fake0: $(vm_json fake0)"
s0=$(sets fake0)
sleep 10
s1=$(sets fake0)
# Ten ticks: a command every 2 s (the shrink gap) without a back-off; with
# it, 1 s, 2 s, 4 s, ... after each failure.
((s1 > s0)) || fail "fake0's command was not retried in 10 s ($s0 -> $s1)"
((s1 - s0 <= 4)) || fail "fake0's command retried $((s1 - s0)) times in 10 s: no back-off"
ok "retried $((s1 - s0)) times in 10 s (back-off)"

shrunk1() { (($(actual_mib fake1) <= 200)); }
wait_for 30 shrunk1 || fail "fake1 was not shrunk: $(fake_cmd counts)"
row=$(vm_json fake0)
jq -e '.last_set_error | test("DeviceNotActive: No balloon device")' <<<"$row" >/dev/null ||
  fail "fake0's last error not shown: $(jq -c '{last_set_error}' <<<"$row")"
jq -e '.last_set_error_age_ms >= 0 and .last_set_error_age_ms < 60000' <<<"$row" >/dev/null ||
  fail "fake0's error age: $(jq -c '{last_set_error_age_ms}' <<<"$row")"
(($(actual_mib fake0) == 256)) || fail "fake0's balloon moved although every command failed"
explain=$(ctl --json explain fake0)
jq -e '.target_set_bytes == 0 and .balloon_set_failures >= 2 and (.last_set_error | test("No balloon device"))' \
  <<<"$explain" >/dev/null ||
  fail "explain: a failed target kept as in force: $(jq -c '{target_set_bytes, balloon_set_failures, last_set_error}' <<<"$explain")"
# balloon_changes counts what QEMU took: fake1's commands, none of fake0's.
changes=$(status_json | jq '.host.balloon_changes')
f1_sets=$(vm_json fake1 | jq '.balloon_sets')
((changes == f1_sets)) || fail "balloon_changes $changes, fake1's commands $f1_sets: fake0's failures counted as applied"
ctl explain fake0 | grep -q 'balloon commands failed: ' || fail "ballastctl explain does not show the failures"
ctl status | grep -q '^fake0: [0-9]* balloon command(s) failed, last [0-9]* s ago: .*No balloon device' ||
  fail "ballastctl status does not show fake0's failures: $(ctl status)"
# Later failures are debug lines (not written without G_MESSAGES_DEBUG): one WARNING in all.
n_warn=$(jq -R 'fromjson? | select(.MESSAGE | test("^fake0: balloon command \\(target")) | .PRIORITY' \
  "$state/ballastd.log" | sort | uniq -c | tr -s ' ')
[[ $n_warn == ' 1 "4"' ]] || fail "not exactly one WARNING for fake0's failures: $n_warn"
ok "refused: counted, shown ($(jq -r .last_set_error <<<"$row")), no target kept, one warning, fake1 unaffected"

# --- works again ------------------------------------------------------------------------------
fake_cmd balloon fake0 ok >/dev/null
shrunk0() { (($(actual_mib fake0) <= 200)); }
wait_for 40 shrunk0 || fail "fake0 not shrunk after its balloon command works again: $(vm_json fake0)"
grep -q '"MESSAGE":"fake0: balloon commands work again after' "$state/ballastd.log" ||
  fail "no line saying fake0's commands work again"
vm_json fake0 | jq -e '.last_set_error | test("No balloon device")' >/dev/null ||
  fail "the last error is no longer shown after the recovery"
ok "fake0 shrunk to $(actual_mib fake0) MiB once its commands worked"

# --- a command that times out, on a growth ----------------------------------------------------
fake_cmd balloon fake0 hang >/dev/null
before=$(actual_mib fake0)
s0=$(sets fake0)
fake_cmd used fake0 200 >/dev/null
fake_cmd pressure fake0 >/dev/null
timed_out() { vm_json fake0 | jq -e '.last_set_error | test("within the timeout")'; }
wait_for 15 timed_out || fail "fake0's growth did not time out: $(vm_json fake0)"
(($(actual_mib fake0) == before)) || fail "fake0's balloon moved although its command hung"
sleep 6 # a growth is retried within SET_RETRY_GROW_MAX_MS (5 s)
(($(sets fake0) >= s0 + 2)) || fail "the hung growth was not retried ($s0 -> $(sets fake0))"
fake_cmd balloon fake0 ok >/dev/null
grown() { (($(actual_mib fake0) > before)); }
wait_for 15 grown || fail "fake0 not grown once its commands answer: $(vm_json fake0)"
ok "timed-out growth retried, grown $before -> $(actual_mib fake0) MiB once answered"
ctl ping >/dev/null || fail "ballastd not serving"
