#!/usr/bin/env bash
# integration.daemon.foreign: another balloon controller is recognised and
# respected (docs/policy.md, "Other balloon controllers"). Two fake guests
# (tools/fake_fleet.c) of 256 MiB, idle at 64 MiB, shrunk by ballastd; then
# "another QMP client" sets fake0's balloon to 224 MiB (a rise, the guest
# calm) and fake1's to 96 MiB (a fall under our target). Neither is taken
# for a deflate on OOM: each is logged once, shown in status and explain
# with who set it, and held - no command to either for several ticks -
# until fake1's guest comes under pressure (an urgent growth passes the
# hold) and fake0 is handed back with `ballastctl resume` (then shrunk
# again). A real deflate on OOM (PRESSURE, then the balloon's rise) is
# still counted as one, in either order (PRESSURE before or after QEMU's
# event). Last, fakes whose balloons have no deflate-on-oom:
# one warning per VM, and status says so. On the code before this test
# fake0's rise was a "deflate on OOM" and grew past the admin's value.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
[[ -x $build/tests/fake-fleet ]] || skip "fake-fleet not built"
MIB=1048576

printf '[ballastd]\ntick_interval_ms = 1000\ngrow_hold_ms = 0\nksm_mode = observe\n' >"$conf/ballastd.conf"
log_count() { grep -c "$1" "$state/ballastd.log" || true; }

start_fake 2 --memory 256 --used 64
fake_pid=$FAKE_PID
start_daemon --config-dir "$conf" --log-format=fields
shrunk() { (($(actual_mib fake0) <= 200 && $(actual_mib fake1) <= 200)); }
wait_for 30 shrunk || fail "the fakes were not shrunk: $(fake_cmd counts)"
ok "both fakes shrunk: fake0 $(actual_mib fake0) MiB, fake1 $(actual_mib fake1) MiB"

# Another QMP client: fake0 up to 224 MiB, fake1 down to 96 MiB.
fake_cmd foreign fake0 224 >/dev/null
fake_cmd foreign fake1 96 >/dev/null
held() {
  vm_json "$1" | jq -e --argjson b $(($2 * MIB)) \
    '.foreign_target_bytes == $b and (.foreign_by | test("QMP client")) and .foreign_since_s > 0'
}
wait_for 10 held fake0 224 || fail "fake0 not held at 224 MiB: $(vm_json fake0)"
wait_for 10 held fake1 96 || fail "fake1 not held at 96 MiB: $(vm_json fake1)"
before0=$(sets fake0) before1=$(sets fake1)
sleep 6 # six ticks: an idle guest at 224 MiB would be shrunk, one at 96 grown
(($(sets fake0) == before0)) || fail "fake0 got $(($(sets fake0) - before0)) command(s) while held"
(($(sets fake1) == before1)) || fail "fake1 got $(($(sets fake1) - before1)) command(s) while held"
(($(actual_mib fake0) == 224 && $(actual_mib fake1) == 96)) ||
  fail "held balloons moved: $(fake_cmd counts)"
vm_json fake0 | jq -e '.guest_deflate_events == 0' >/dev/null ||
  fail "fake0's foreign rise counted as a deflate on OOM: $(vm_json fake0)"
n=$(log_count 'by another QMP client, not by ballastd')
((n == 2)) || fail "$n foreign-change warnings (expected 2, one per VM)"
grep 'by another QMP client, not by ballastd' "$state/ballastd.log" | jq -r .MESSAGE
explain=$(ctl --json explain fake0)
jq -e --argjson b $((224 * MIB)) '.foreign.target_bytes == $b and (.reason | test("foreign target"))' \
  <<<"$explain" >/dev/null || fail "explain: $(jq -c '{foreign, reason}' <<<"$explain")"
ctl status | grep -q 'fake0: foreign target 224.* by another QMP client' ||
  fail "status text does not show the foreign target: $(ctl status)"
ok "held at the foreign targets for 6 ticks, logged once each, shown in status and explain"

# Guest pressure passes the hold: an urgent growth of fake1.
fake_cmd pressure fake1 >/dev/null
grown() { (($(actual_mib fake1) > 96)); }
wait_for 5 grown || fail "fake1 under pressure not grown past the foreign 96 MiB: $(vm_json fake1)"
ok "fake1 under pressure grown to $(actual_mib fake1) MiB past the hold"

# Handed back: fake0 is ballastd's again and shrunk.
out=$(ctl resume fake0)
[[ $out == "fake0: handed back to ballastd" ]] || fail "resume said: $out"
[[ $(ctl resume fake0) == "fake0: was not held (nothing to hand back)" ]] || fail "second resume"
grep -q "fake0: resume: handed back to ballastd (uid $(id -u) pid [0-9]*)" "$state/ballastd.log" ||
  fail "resume not logged with the caller's uid and pid: $(grep 'resume' "$state/ballastd.log")"
vm_json fake0 | jq -e '.foreign_target_bytes == null' >/dev/null || fail "still held after resume"
shrunk0() { (($(actual_mib fake0) < 224)); }
wait_for 15 shrunk0 || fail "fake0 not shrunk after resume: $(vm_json fake0)"
ok "resumed: fake0 shrunk to $(actual_mib fake0) MiB"
ctl resume nosuch 2>/dev/null && fail "resume of an unknown VM succeeded"

# A real deflate on OOM (PRESSURE, then the rise) is still the guest's.
fake_cmd deflate fake0 32 >/dev/null
deflated() { vm_json fake0 | jq -e '.guest_deflate_events == 1 and .foreign_target_bytes == null'; }
wait_for 10 deflated || fail "fake0's deflate on OOM not counted as one: $(vm_json fake0)"
ok "a deflate on OOM is counted, not taken for a foreign change"

# The other way round: QEMU's event first, the PRESSURE frame 300 ms later
# (they travel apart). On fake1 (fake0 is at its full size now), handed
# back and shrunk first: its rise is held at once but never said to be
# someone else's, since the frame follows within PLANNER_DEFLATE_PRESSURE_MS:
# it is the guest's deflate.
[[ $(ctl resume fake1) == "fake1: handed back to ballastd" ]] || fail "resume fake1"
# Shrunk and settled (no command for 3 s): a shrink landing between the
# rise and its frame would blur what this step is about.
settled1() {
  local n
  n=$(sets fake1)
  sleep 3
  (($(sets fake1) == n && $(actual_mib fake1) <= 130))
}
wait_for 30 settled1 || fail "fake1 not shrunk and settled after resume: $(vm_json fake1)"
warned=$(log_count 'not by ballastd and not by the guest')
changes=$(vm_json fake1 | jq .foreign_changes)
fake_cmd deflate-late fake1 16 >/dev/null
deflated1() { vm_json fake1 | jq -e '.guest_deflate_events == 1'; }
wait_for 10 deflated1 || fail "fake1's deflate (event before frame) not counted: $(vm_json fake1)"
sleep 6 # past the window: a rise taken for someone else's would be said by now
vm_json fake1 | jq -e --argjson c "$changes" '.foreign_target_bytes == null and .foreign_changes == $c' >/dev/null ||
  fail "fake1's late-framed deflate taken for a foreign change: $(vm_json fake1)"
(($(log_count 'not by ballastd and not by the guest') == warned)) ||
  fail "a foreign-change warning for fake1's deflate"
grep -q 'fake1: the rise to .* came with the guest.s pressure: its deflate on OOM' "$state/ballastd.log" ||
  fail "no line saying fake1's held rise was the guest's deflate"
ok "a deflate whose PRESSURE frame comes after the rise: counted, not someone else's"

# Balloons without deflate-on-oom: one warning per VM, and status says so.
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=
# bash unsets FAKE_PID once it has reaped the coprocess: keep the pid.
[[ -n ${FAKE_PID:-} ]] || fail "the fake fleet exited before its stop (status $(wait "$fake_pid"; echo $?))"
kill -TERM "$fake_pid" 2>/dev/null || true
wait "$fake_pid" 2>/dev/null || true
start_fake 2 --memory 256 --used 64 --deflate-on-oom off
start_daemon --config-dir "$conf" --log-format=fields --state-file none
nodeflate() { vm_json fake1 | jq -e '.deflate_on_oom == false'; }
wait_for 10 nodeflate || fail "status does not show fake1 without deflate-on-oom: $(vm_json fake1)"
sleep 2
n=$(log_count 'has no deflate-on-oom')
((n == 2)) || fail "$n deflate-on-oom warnings (expected 2, one per VM)"
ctl status | grep -q 'fake0: balloon without deflate-on-oom' || fail "status text: $(ctl status)"
ok "no deflate-on-oom: one warning per VM, shown in status"
