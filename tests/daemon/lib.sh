# Shared by the ballastd integration tests: a private state dir, a fleet, a
# ballastd, and a trap that stops all of them (by PID) however the test ends.
# shellcheck shell=bash
set -euo pipefail
build=${BALLAST_BUILD_DIR:?run under ctest (BALLAST_BUILD_DIR)}
src=${BALLAST_SOURCE_DIR:?run under ctest (BALLAST_SOURCE_DIR)}
bin=$build/bin
state=$(mktemp -d "${TMPDIR:-/tmp}/ballast-daemon-XXXXXX")
conf=$(mktemp -d "${TMPDIR:-/tmp}/ballast-daemon-conf-XXXXXX")
daemon_pid=
fleet_started=
extra_pids=()

cleanup() {
  local rc=$?
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -CONT "$daemon_pid" 2>/dev/null || true # a test may have frozen it
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  for p in "${extra_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$state"/fake*
  if [[ -n $fleet_started ]]; then
    BALLAST_BUILD_DIR=$build "$src/scripts/fleet" stop --state "$state" >/dev/null 2>&1 || true
  fi
  if ((rc != 0 && rc != 77)) && [[ -f $state/ballastd.log ]]; then
    echo "--- last lines of ballastd's log" >&2
    tail -40 "$state/ballastd.log" >&2
  fi
  rm -rf "$state" "$conf"
  exit "$rc"
}
trap cleanup EXIT

skip() { echo "SKIPPED: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
ctl() { "$bin/ballastctl" --socket "$state/ctl.sock" "$@"; }
status_json() { ctl --json status; }
# fleet_path [--state DIR] [NAME] FILE: where a file of a fleet is; the layout
# is the launcher's (docs/fleet.md, path), never spelled here.
fleet_path() { "$bin/ballast-fleet" path "$@"; }

# wait_for SECONDS CMD...: polls CMD every 0.5 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

need_guests() {
  command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
  [[ -x $bin/ballast-fleet ]] || skip "ballast-fleet not built"
  [[ -f $build/guest/vmlinuz ]] || skip "no guest image in $build/guest (scripts/guest-image)"
  command -v jq >/dev/null || skip "jq not installed"
}

start_fleet() { # COUNT MEMORY
  fleet_started=1
  BALLAST_BUILD_DIR=$build "$src/scripts/fleet" start --count "$1" --memory "$2" \
    --state "$state" --wait --timeout 120 >"$state/fleet.log" 2>&1 ||
    { cat "$state/fleet.log" >&2; fail "fleet did not start"; }
}

# A 1 s tick so tests see decisions quickly; everything else is the default policy.
fast_config() {
  printf '[ballastd]\ntick_interval_ms = 1000\n' >"$conf/ballastd.conf"
}

start_daemon() { # extra ballastd args...
  "$bin/ballastd" --fleet "$state" --socket "$state/ctl.sock" "$@" >"$state/ballastd.log" 2>&1 &
  daemon_pid=$!
  wait_for 10 ctl ping || fail "ballastd did not answer on its control socket"
}

# The fake fleet (tools/fake_fleet.c) as a coprocess: start_fake ARGS...
# starts it on $state (stopped by the trap) and waits for its "ready".
start_fake() {
  coproc FAKE { exec "$build/tests/fake-fleet" "$state" "$@"; }
  extra_pids+=("$FAKE_PID")
  local line
  if ! read -r -t 10 line <&"${FAKE[0]}" || [[ $line != ready ]]; then
    fail "fake fleet did not start"
  fi
}
fake_cmd() { # CMD...: one command to the fakes; prints their answer
  echo "$*" >&"${FAKE[1]}"
  local line
  while read -r -t 5 line <&"${FAKE[0]}" && [[ $line != end ]]; do echo "$line"; done
}
# A pipeline's subshell has no coproc descriptors: the answer goes through a variable.
count_of() { # NAME COLUMN: one column of NAME's "counts" line
  local c
  c=$(fake_cmd counts)
  awk -v n="$1" -v k="$2" '$1 == n {print $k}' <<<"$c"
}
sets() { count_of "$1" 4; }       # balloon commands to NAME
actual_mib() { count_of "$1" 5; } # NAME's balloon, MiB
vm_json() { status_json | jq -c --arg n "$1" '.vms[] | select(.name == $n)'; }
