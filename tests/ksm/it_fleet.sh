#!/usr/bin/env bash
# integration.ksm.fleet: 8 tiny guests (vm7 started with mem-merge=off and
# `ksm = false` in its policy), ballastd with the KSM tuner in auto mode and a
# small CPU budget. Checks, through `ballastctl status --json`:
#   - every merge-enabled guest shows KSM savings (sharing > 0), vm7 none and
#     ksm_mergeable = false;
#   - the host figures agree with /sys/kernel/mm/ksm, and the per-VM figures
#     of our guests add up to no more than the host's (other helpers' guests
#     may be merged too: per-VM figures are compared, never absolute totals);
#   - ksmd's CPU, measured here from its /proc stat over the steady part of the
#     run, stays within the budget plus a tolerance (see BUDGET_TOL below);
#   - the tuner's changes are logged with reasons and shown by `explain`.
# The host's KSM settings are saved first and restored on any exit.
set -euo pipefail
build=${BALLAST_BUILD_DIR:?run under ctest (BALLAST_BUILD_DIR)}
src=${BALLAST_SOURCE_DIR:?run under ctest (BALLAST_SOURCE_DIR)}
bin=$build/bin
ksm=/sys/kernel/mm/ksm
BUDGET=5       # ksm_cpu_budget_pct given to ballastd
INTERVAL_MS=3000
# Tolerance on ksmd's average CPU over the steady part of the run: the loop
# aims at 80% of the budget and holds anywhere in [60%, 90%]; a second over
# budget is cut back by the slice guard (a reading a second), and a
# reading over 90% at the next decision, but what produced it is already spent, and the cost per page moves as merging progresses (fresh
# pages merge, then mostly unique ones are rescanned). One such interval at up
# to twice the budget in a ~10-interval window adds ~10% of the budget; clock
# ticks (10 ms) add ~0.1%. 1.5x the budget leaves room for both, and still
# fails a tuner that ignores its budget (the first tick alone runs ksmd at
# 25,000 pages/s, several times the budget).
BUDGET_TOL=1.5

skip() { echo "SKIPPED: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

[[ -w $ksm/run ]] || skip "$ksm/run is not writable (no KSM, or not root)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
command -v jq >/dev/null || skip "jq not installed"
[[ -x $bin/ballast-fleet && -x $bin/ballastd ]] || skip "ballast-fleet/ballastd not built"
[[ -f $build/guest/vmlinuz ]] || skip "no guest image in $build/guest (scripts/guest-image)"

# One KSM driver at a time on this host (this test, scripts/bench-ksm).
exec 9>/tmp/ballast-ksm.lock
flock -w 600 9 || fail "another KSM test or benchmark holds /tmp/ballast-ksm.lock"

state=$(mktemp -d /tmp/ballast-ksm-XXXXXX)
conf=$state/conf
mkdir "$conf"
daemon_pid=
fleet_started=

# Saved before anything is touched; restored in this order on exit: stop,
# retune, advisor, then run as it was.
saved_run=$(cat $ksm/run)
saved_pages=$(cat $ksm/pages_to_scan)
saved_sleep=$(cat $ksm/sleep_millisecs)
saved_zero=$(cat $ksm/use_zero_pages 2>/dev/null || echo)
saved_advisor=$(sed -n 's/.*\[\(.*\)\].*/\1/p' $ksm/advisor_mode 2>/dev/null || echo)
saved_adv_cpu=$(cat $ksm/advisor_max_cpu 2>/dev/null || echo)
restore_ksm() {
  echo 0 >$ksm/run || true
  [[ -n $saved_advisor ]] && { echo none >$ksm/advisor_mode || true; }
  echo "$saved_sleep" >$ksm/sleep_millisecs || true
  echo "$saved_pages" >$ksm/pages_to_scan || true
  [[ -n $saved_zero ]] && { echo "$saved_zero" >$ksm/use_zero_pages || true; }
  [[ -n $saved_adv_cpu ]] && { echo "$saved_adv_cpu" >$ksm/advisor_max_cpu || true; }
  [[ -n $saved_advisor ]] && { echo "$saved_advisor" >$ksm/advisor_mode || true; }
  echo "$saved_run" >$ksm/run || true
}

cleanup() {
  local rc=$?
  [[ -n ${watchdog:-} ]] && kill "$watchdog" 2>/dev/null
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  if [[ -n $fleet_started ]]; then
    BALLAST_BUILD_DIR=$build "$src/scripts/fleet" stop --state "$state" >/dev/null 2>&1 || true
  fi
  restore_ksm
  if ((rc != 0 && rc != 77)) && [[ -f $state/ballastd.log ]]; then
    echo "--- ballastd's KSM log lines" >&2
    grep -i 'ksm' "$state/ballastd.log" | tail -40 >&2
    echo "--- $ksm: run $(cat $ksm/run) pages_to_scan $(cat $ksm/pages_to_scan)" \
      "sleep $(cat $ksm/sleep_millisecs) sharing $(cat $ksm/pages_sharing)" >&2
  fi
  rm -rf "$state"
  exit "$rc"
}
trap cleanup EXIT
# ctest kills a test that outlives its TIMEOUT (300 s) with SIGKILL, which no
# trap sees: the guests would outlive it. Stop ourselves first, cleanly.
# The sleep must not hold ctest's output pipe open after we exit: the
# watchdog kills it when it is stopped itself.
(
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  sleep 280 >/dev/null 2>&1 &
  s=$!
  wait "$s"
  echo "FAIL: out of time after 280 s" >&2
  kill -TERM $$
) 9>&- &
watchdog=$!
trap 'exit 1' TERM

ctl() { "$bin/ballastctl" --socket "$state/ctl.sock" "$@"; }
status_json() { ctl --json status; }
wait_for() { # SECONDS CMD...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}
# Processes come and go while grep walks /proc: its exit status means nothing here.
ksmd_pid=$( (grep -lx ksmd /proc/[0-9]*/comm 2>/dev/null || true) | head -1 | cut -d/ -f3)
[[ -n $ksmd_pid ]] || skip "no ksmd thread in /proc"
ksmd_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$ksmd_pid/stat"; }
clk_tck=$(getconf CLK_TCK)

# The guests: vm7 opted out both ways (launcher and policy).
t0=$SECONDS
fleet_started=1
BALLAST_BUILD_DIR=$build "$src/scripts/fleet" start --count 8 --memory 128M --state "$state" \
  --no-merge vm7 --wait --timeout 150 >"$state/fleet.log" 2>&1 9>&- ||
  { cat "$state/fleet.log" >&2; fail "fleet did not start"; }
ok "8 guests booted in $((SECONDS - t0)) s"

# Balloons left alone ([defaults] observe): only KSM is under test. 8 x 128 MiB
# is ~4% of this host's RAM, so start at 1% committed.
cat >"$conf/ballastd.conf" <<EOF
[ballastd]
tick_interval_ms = 1000
ksm_mode = auto
ksm_cpu_budget_pct = $BUDGET
ksm_interval_ms = $INTERVAL_MS
ksm_start_commit_pct = 1
ksm_stop_commit_pct = 0
[defaults]
mode = observe
EOF
printf '[vm]\nksm = false\n' >"$conf/vm7.conf"
echo 0 >$ksm/run # a known start: ballastd must turn it on
ticks_start=$(ksmd_ticks)
t_start=$(date +%s.%N)
"$bin/ballastd" --fleet "$state" --socket "$state/ctl.sock" --config-dir "$conf" \
  >"$state/ballastd.log" 2>&1 9>&- &
daemon_pid=$!
wait_for 10 ctl ping || fail "ballastd did not answer on its control socket"

all_share() {
  status_json | jq -e '
    ([.vms[] | select(.name != "vm7" and (.ksm_saved_sharing_bytes // 0) > 0
                      and (.ksm_net_profit_bytes // 0) > 0)] | length) == 7'
}
wait_for 150 all_share || { status_json | jq -c '.host, (.vms[] | {name, ksm_saved_sharing_bytes,
  ksm_saved_zero_bytes, ksm_net_profit_bytes, ksm_mergeable})' >&2
  fail "not every merge-enabled guest shows KSM sharing"; }
t_share=$(($(date +%s) - ${t_start%.*}))
ok "all 7 merge-enabled guests share pages after ${t_share} s"

# Steady part: from two intervals after start (the tuner has measured and
# paced ksmd once) to 45 s later, measured here from ksmd's own /proc stat.
sleep_to=$(awk -v t="$t_start" -v i="$INTERVAL_MS" 'BEGIN { printf "%.3f", t + 2 * i / 1000 }')
now=$(date +%s.%N)
awk -v a="$now" -v b="$sleep_to" 'BEGIN { exit !(a < b) }' && sleep "$(awk -v a="$now" -v b="$sleep_to" 'BEGIN { print b - a }')"
ticks_a=$(ksmd_ticks); ta=$(date +%s.%N)
sleep 45
ticks_b=$(ksmd_ticks); tb=$(date +%s.%N)
steady=$(awk -v d=$((ticks_b - ticks_a)) -v c="$clk_tck" -v a="$ta" -v b="$tb" 'BEGIN { printf "%.2f", d / c / (b - a) * 100 }')
whole=$(awk -v d=$((ticks_b - ticks_start)) -v c="$clk_tck" -v a="$t_start" -v b="$tb" 'BEGIN { printf "%.2f", d / c / (b - a) * 100 }')
limit=$(awk -v b=$BUDGET -v t=$BUDGET_TOL 'BEGIN { printf "%.2f", b * t }')
echo "ksmd CPU: ${steady}% of a core steady (45 s), ${whole}% over the whole run; budget ${BUDGET}%"
awk -v s="$steady" -v l="$limit" 'BEGIN { exit !(s <= l) }' ||
  fail "ksmd used ${steady}% of a core, over the ${BUDGET}% budget x ${BUDGET_TOL}"
ok "ksmd within budget: ${steady}% <= ${limit}%"

# Per-VM figures and the opted-out guest.
status_json >"$state/status.json"
jq -e '.vms[] | select(.name == "vm7") |
  .ksm_mergeable == false and .ksm_allowed == false and .ksm_merging_pages == 0 and
  .ksm_saved_sharing_bytes == 0 and .ksm_saved_zero_bytes == 0' "$state/status.json" >/dev/null ||
  { jq '.vms[] | select(.name == "vm7")' "$state/status.json" >&2; fail "vm7 (opted out) is merged or shown mergeable"; }
jq -e '[.vms[] | select(.name != "vm7") | select(.ksm_mergeable == true and .ksm_allowed == true
        and .ksm_saved_sharing_bytes > 0)] | length == 7' "$state/status.json" >/dev/null ||
  fail "a merge-enabled guest lacks mergeable = true or sharing"
ok "per VM: 7 guests share, vm7 mergeable=false and saves nothing"

# Host totals: ballastd's host figures are /sys/kernel/mm/ksm's (read within a
# second of each other; counters move, so within 10%), and our guests' share
# cannot exceed the host's.
sharing_sys=$(cat $ksm/pages_sharing)
jq -e --argjson s "$sharing_sys" --argjson p "$(getconf PAGESIZE)" '
  .host.ksm_run == 1 and .host.ksm_use_zero_pages == 1 and
  (.host.ksm_pages_sharing - $s | fabs) <= 0.1 * $s + 256 and
  .host.ksm_saved_sharing_bytes == .host.ksm_pages_sharing * $p and
  ([.vms[].ksm_saved_sharing_bytes] | add) <= .host.ksm_saved_sharing_bytes * 1.1 and
  ([.vms[].ksm_saved_zero_bytes] | add) <= .host.ksm_saved_zero_bytes * 1.1 + 1048576' \
  "$state/status.json" >/dev/null ||
  { jq .host "$state/status.json" >&2; echo "sysfs pages_sharing $sharing_sys" >&2;
    fail "host KSM figures disagree with $ksm or with the per-VM sums"; }
ok "host figures match $ksm; per-VM sums within the host's"

# ballastd's own ksmd CPU average agrees with ours over the same run (+-2 points).
jq -e --argjson w "$whole" '.host.ksmd_cpu_avg_pct != null and
  (.host.ksmd_cpu_avg_pct - $w | fabs) <= 2' "$state/status.json" >/dev/null ||
  { jq .host "$state/status.json" >&2; fail "ballastd's ksmd CPU average disagrees with /proc ($whole%)"; }

# Every change explained: in the log and in explain.
grep -q 'ksm: run 0 -> 1 (guests commit' "$state/ballastd.log" || fail "start of ksmd not logged with its reason"
grep -q 'ksm: use_zero_pages 0 -> 1\|use_zero_pages' "$state/ballastd.log" || true
grep -Eq 'ksm: pages_to_scan [0-9]+ -> [0-9]+ \(' "$state/ballastd.log" || fail "no scan-rate change logged"
grep -q 'vm0: KSM saves' "$state/ballastd.log" || fail "no per-VM saving logged"
ctl explain vm0 | grep -q 'ksm tuner (auto):' || fail "explain lacks the KSM tuner line"
ctl status | grep -E '^vm7 ' | grep -qw no || fail "status table does not show vm7 unmergeable"
ctl status | grep -q '^ksm: mode auto, run on' || fail "status table lacks the KSM host line"
ok "tuner changes logged with reasons; explain and status show KSM"
jq -c '.host | {ksm_saved_bytes, ksm_saved_zero_bytes, ksm_rmap_cost_bytes, ksm_net_profit_bytes,
  ksmd_cpu_avg_pct, ksm_pages_to_scan, ksm_sleep_ms, ksm_tuner_changes}' "$state/status.json"
