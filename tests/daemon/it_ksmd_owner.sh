#!/usr/bin/env bash
# integration.daemon.ksmd_owner: who owns ksmd across exits and restarts
# (docs/ksm.md, "Who owns ksmd"), on a fake KSM sysfs tree (a copy of
# tests/fixtures/ksm-6.18, --ksm-sysfs-root) and two fake guests. ballastd
# starts ksmd (ksm_start_commit_pct = 1); killed with -9 it leaves ksmd
# running, and its state file says it started it; the next ballastd takes
# it back (not "external") and stops it on SIGTERM (run=0). A ksmd started
# by someone else is left running at exit. On the code before this test
# ksmd was left running at every exit and a restarted ballastd called it
# external.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
fake=$build/tests/fake-fleet
[[ -x $fake ]] || skip "fake-fleet not built"
# ballast only observes KSM while another tuner runs on this host.
pgrep -x 'ksmtuned|momd' >/dev/null && skip "ksmtuned or momd runs on this host: ballast would only observe"

sysfs=$state/ksm
cp -r "$src/tests/fixtures/ksm-6.18/sysfs" "$sysfs"
echo 0 >"$sysfs/run"
run() { tr -d ' \n' <"$sysfs/run"; }
statefile=$state/ctl.state.json

printf '[ballastd]\ntick_interval_ms = 1000\nksm_mode = auto\nksm_interval_ms = 1000\nksm_start_commit_pct = 1\nksm_stop_commit_pct = 0\n' \
  >"$conf/ballastd.conf"
coproc FAKE { exec "$fake" "$state" 2 --memory 256 --used 64; }
extra_pids+=("$FAKE_PID")
if ! read -r -t 10 line <&"${FAKE[0]}" || [[ $line != ready ]]; then
  fail "fake fleet did not start"
fi
daemon() { start_daemon --config-dir "$conf" --log-format=fields --ksm-sysfs-root "$sysfs"; }
stop_daemon() { # SIGNAL
  kill "-$1" "$daemon_pid"
  wait "$daemon_pid" || true
  daemon_pid=
  cat "$state/ballastd.log" >>"$state/ballastd.all.log"
}
phase() { status_json | jq -r '.host.ksm_phase'; }

# --- ballastd starts ksmd; a crash leaves it running, the file says whose it is -----------
daemon
started() { [[ $(run) == 1 ]]; }
wait_for 15 started || fail "ballastd did not start ksmd: $(status_json | jq -c '.host | {ksm_mode, ksm_reason}')"
recorded() { jq -e '.version == 2 and .ksmd_started == true' "$statefile"; }
wait_for 5 recorded || fail "the state file does not say ballastd started ksmd: $(cat "$statefile" 2>/dev/null)"
ok "ksmd started by ballastd, recorded in $statefile"
stop_daemon KILL
[[ $(run) == 1 ]] || fail "ksmd stopped by a kill -9?"

# --- the next ballastd takes it back, and stops it when it exits ------------------------------
daemon
grep -q 'ballast owns it again' "$state/ballastd.log" || fail "the restarted ballastd did not take ksmd back"
decided() { [[ $(phase) != null ]]; }
wait_for 10 decided || fail "no KSM decision after the restart"
[[ $(phase) != external ]] || fail "the restarted ballastd calls its own ksmd external"
ok "restarted: ksmd is ballast's again (phase $(phase))"
stop_daemon TERM
[[ $(run) == 0 ]] || fail "ksmd still runs after ballastd's SIGTERM (run=$(run))"
grep -q 'ksm: run 1 -> 0 (ballastd exits' "$state/ballastd.all.log" || fail "the stop on exit was not logged"
jq -e '.ksmd_started == null' "$statefile" >/dev/null || fail "the state file still says ballastd started ksmd"
ok "SIGTERM: ksmd stopped (run=0), the file says it is nobody's"

# --- started by someone else: respected ------------------------------------------------------
echo 1 >"$sysfs/run"
daemon
wait_for 10 decided || fail "no KSM decision"
ext() { [[ $(phase) == external ]]; }
wait_for 5 ext || fail "a ksmd started by someone else is not external: $(phase)"
stop_daemon TERM
[[ $(run) == 1 ]] || fail "ballastd stopped a ksmd it did not start"
grep -q 'ksm: ksmd was started outside ballast: left running' "$state/ballastd.all.log" ||
  fail "leaving ksmd running was not said"
ok "someone else's ksmd: external, left running at exit"
