#!/usr/bin/env bash
# integration.fleet.badinput: bad commands fail with a message and a non-zero
# exit, start nothing, and leave an already running fleet alone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_tools

live=$(mktemp -d /tmp/ballast-fleet-live.XXXXXX)
other=$(mktemp -d /tmp/ballast-fleet-other.XXXXXX)
trap 'kill_leftovers "$live"; kill_leftovers "$other"; rm -rf "$live" "$other"' EXIT
pid_file=$(fleet_path --state "$live" vm0 pid)
live_vm1=$(fleet_path --state "$live" vm1 dir)
other_state=$(fleet_path --state "$other" state)

"$fleet" start --count 1 --memory 96M --state "$live" --wait --timeout 240 >/dev/null ||
  fail "could not start the reference guest"
pid=$(cat "$pid_file")

# expect_fail WANT_IN_STDERR ARGS...: non-zero exit and a message naming the problem.
expect_fail() {
  local want=$1 rc=0 err
  shift
  err=$("$fleet" "$@" 2>&1 >/dev/null) || rc=$?
  ((rc != 0)) || fail "'$*' succeeded"
  grep -qiF -- "$want" <<<"$err" || fail "'$*': message lacks '$want': $err"
  echo "ok (exit $rc): $* -> $(head -n1 <<<"$err")"
}

s=(--state "$other")
expect_fail "--frobnicate" start --count 1 --memory 128M "${s[@]}" --frobnicate
expect_fail "--count" start --memory 128M "${s[@]}"
expect_fail "--count" start --count 0 --memory 128M "${s[@]}"
expect_fail "80 MiB" start --count 1 --memory 64M "${s[@]}"
expect_fail "not a size" start --count 1 --memory lots "${s[@]}"
expect_fail "--memory" start --count 1 "${s[@]}"
expect_fail "unknown command" restart "${s[@]}"
expect_fail "not an executable" start --count 1 --memory 128M "${s[@]}" --qemu /nonexistent/qemu
expect_fail "guest image not found" start --count 1 --memory 128M "${s[@]}" --image /nonexistent
expect_fail "--no-merge" start --count 2 --memory 128M "${s[@]}" --no-merge vm5
# A policy file with an error refuses the launch and names file:line.
badconf=$(mktemp -d /tmp/ballast-fleet-conf.XXXXXX)
printf '[vm]\nksm = perhaps\n' >"$badconf/vm0.conf"
expect_fail "vm0.conf:2:" start --count 1 --memory 128M "${s[@]}" --config-dir "$badconf"
rm -rf "$badconf"
# The live fleet's directory is in use: refused, whatever the other options.
expect_fail "already has a running fleet" start --count 1 --memory 128M --state "$live"
expect_fail "already has a running fleet" start --count 3 --memory 256M --state "$live" --no-merge all
expect_fail "no fleet" status --state "$other"
expect_fail "/nonexistent" stop --state /nonexistent/fleet

# Nothing was started by any of that...
[[ -z $(pids_in "$other") ]] || fail "a failed start left a QEMU running in $other"
[[ ! -e $other_state ]] || fail "a failed start left $other_state"
# ...and the live guest is untouched: same pid, still answering, same config.
[[ $(cat "$pid_file") == "$pid" ]] || fail "live guest's pid file changed"
tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qx -- "$pid_file" || fail "live guest died"
[[ $(balloon_actual "$live" vm0) == $((96 << 20)) ]] || fail "live guest's balloon changed"
"$fleet" status --state "$live" | grep -Eq '^vm0 +[0-9]+ +yes +96M' || fail "live status wrong"
[[ ! -e $live_vm1 ]] || fail "a refused start created $live_vm1"

"$fleet" stop --state "$live" >/dev/null
assert_clean "$live"
echo "PASS"
