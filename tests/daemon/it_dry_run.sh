#!/usr/bin/env bash
# integration.daemon.dry_run: with --dry-run ballastd computes and logs the
# targets it would set but no balloon moves; `ballastctl dry-run off` then
# lets it act, and balloons do move (so the first half could have failed).
source "$(dirname "$0")/lib.sh"
need_guests
mib=$((1024 * 1024))

start_fleet 2 160M
fast_config
start_daemon --config-dir "$conf" --dry-run

wants_shrink() {
  status_json | jq -e '.host.dry_run and
    ([.vms[] | select(.target_bytes != null and .nominal_bytes != null
                      and .target_bytes < .nominal_bytes)] | length >= 1)'
}
wait_for 60 wants_shrink || { status_json >&2; fail "no shrink decision computed in 60 s"; }
grep -q 'dry-run: would move target' "$state/ballastd.log" || fail "no dry-run decision logged"
sleep 3 # give a wrongly sent balloon command time to show
status_json | jq -e --argjson n $((160 * mib)) '
  .host.balloon_changes == 0 and
  ([.vms[] | select(.actual_bytes == $n)] | length == 2)' >/dev/null ||
  { status_json >&2; fail "a balloon moved in dry-run"; }
ctl status | grep -q 'DRY RUN' || fail "status table does not say DRY RUN"
ok "dry-run: shrink computed and logged, both balloons still at 160 MiB"

ctl dry-run off | grep -q 'dry run off' || fail "dry-run off refused"
moved() {
  status_json | jq -e --argjson n $((160 * mib)) '
    .host.balloon_changes >= 1 and ([.vms[] | select(.actual_bytes < $n)] | length >= 1)'
}
wait_for 60 moved || { status_json >&2; fail "no balloon moved after dry-run off"; }
grep -q 'moving target' "$state/ballastd.log" || fail "no log line for a real move"
ok "dry-run off: balloons move"
