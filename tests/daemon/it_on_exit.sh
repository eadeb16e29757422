#!/usr/bin/env bash
# integration.daemon.on_exit: what SIGTERM does to the balloons. Three fake
# guests (tools/fake_fleet.c) of 256 MiB whose balloons a previous run left
# at 128 MiB; a 60 s tick, so ballastd itself moves nothing meanwhile.
# on_exit = keep (the default): SIGTERM sends no balloon command. on_exit =
# release: fake0 (a runtime max_memory of 200M) gets 200 MiB back, fake2 its
# full 256 MiB, fake1 (mode observe: hands-off) nothing; each release is one
# log line, and the fakes' balloons are there when ballastd has exited.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
fake=$build/tests/fake-fleet
[[ -x $fake ]] || skip "fake-fleet not built"

start_fake 3 --memory 256 --actual 128 --used 64
connected() {
  status_json | jq -e '[.vms[] | select(.qmp == "connected" and .actual_bytes == 134217728)]
    | length == 3'
}
stop_daemon() {
  kill -TERM "$daemon_pid"
  wait "$daemon_pid" || fail "ballastd exited $? on SIGTERM"
  daemon_pid=
}

printf '[ballastd]\ntick_interval_ms = 60000\nksm_mode = observe\n' >"$conf/ballastd.conf"
start_daemon --config-dir "$conf" --log-format=fields --state-file none
wait_for 20 connected || fail "the fakes were not all connected: $(status_json | jq -c '[.vms[].qmp]')"
before=$(fake_cmd counts)
stop_daemon
after=$(fake_cmd counts)
[[ $(awk '{print $1, $4, $5}' <<<"$before") == $(awk '{print $1, $4, $5}' <<<"$after") ]] ||
  fail "on_exit = keep moved a balloon: before ${before//$'\n'/; }, after ${after//$'\n'/; }"
ok "on_exit = keep: no balloon command at SIGTERM, all at 128 MiB"

printf '[ballastd]\ntick_interval_ms = 60000\nksm_mode = observe\non_exit = release\n' \
  >"$conf/ballastd.conf"
start_daemon --config-dir "$conf" --log-format=fields --state-file none
wait_for 20 connected || fail "the fakes were not all connected"
ctl set-policy fake0 max_memory=200M >/dev/null
ctl set-policy fake1 mode=observe >/dev/null
stop_daemon
for want in "fake0 200" "fake1 128" "fake2 256"; do
  read -r name mib <<<"$want"
  got=$(count_of "$name" 5)
  ((got == mib)) || fail "$name at $got MiB after on_exit = release (expected $mib)"
done
n=$(jq -s '[.[] | select(.ACTION == "release")] | length' "$state/ballastd.log")
((n == 2)) || fail "$n release records (expected 2: fake0, fake2)"
grep -q 'on_exit = release: 2 balloon(s) released, 2 reached their size' "$state/ballastd.log" ||
  fail "no summary line: $(grep on_exit "$state/ballastd.log")"
ok "on_exit = release: fake0 200 MiB (its max_memory), fake2 256 MiB, fake1 (observe) untouched"
