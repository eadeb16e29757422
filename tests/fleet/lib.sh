# Shared by the fleet integration tests (sourced): where things are, and
# checks on what a fleet leaves behind.
# shellcheck shell=bash
fleet=${BALLAST_BUILD_DIR:?run under ctest (BALLAST_BUILD_DIR)}/bin/ballast-fleet
qmp_call=$(dirname "${BASH_SOURCE[0]}")/qmp_call.py

# fleet_path [--state DIR] [NAME] FILE: where a file of a fleet is; the layout
# is the launcher's (docs/fleet.md, path), never spelled here.
fleet_path() { "$fleet" path "$@"; }

fail() { echo "FAIL: $*" >&2; exit 1; }

require_tools() {
  command -v qemu-system-x86_64 >/dev/null ||
    { echo "SKIPPED: qemu-system-x86_64 not installed (scripts/setup)" >&2; exit 77; }
  command -v python3 >/dev/null ||
    { echo "SKIPPED: python3 not installed (scripts/setup)" >&2; exit 77; }
  [[ -x $fleet ]] || fail "$fleet not built"
}

# Pids of processes whose command line mentions dir/ (any QEMU of that fleet).
pids_in() {
  local dir=$1 p
  for p in /proc/[0-9]*; do
    [[ -r $p/cmdline ]] || continue
    if tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qF -- "$dir/"; then
      echo "${p#/proc/}"
    fi
  done
}

# Kills whatever of dir a failed test left running (by pid, only that fleet).
kill_leftovers() {
  local dir=$1 pids
  "$fleet" stop --state "$dir" --timeout 5 >/dev/null 2>&1 || true
  mapfile -t pids < <(pids_in "$dir")
  ((${#pids[@]} == 0)) || kill -9 "${pids[@]}" 2>/dev/null || true
}

# A stopped fleet leaves no QEMU and no socket, pid or state file.
assert_clean() {
  local dir=$1 left qmp agent pid state_file
  left=$(pids_in "$dir")
  [[ -z $left ]] || fail "processes of $dir still running after stop: $left"
  qmp=$(fleet_path qmp) || fail "ballast-fleet path qmp"
  agent=$(fleet_path agent) || fail "ballast-fleet path agent"
  pid=$(fleet_path pid) || fail "ballast-fleet path pid"
  state_file=$(fleet_path state) || fail "ballast-fleet path state"
  left=$(find "$dir" \( -name "$qmp" -o -name "$agent" -o -name "$pid" -o -name "$state_file" \) 2>/dev/null)
  [[ -z $left ]] || fail "stale files after stop: $left"
}

# Balloon size QEMU reports for a guest, in bytes.
balloon_actual() { # DIR NAME
  local qmp
  qmp=$(fleet_path --state "$1" "$2" qmp) || return
  "$qmp_call" "$qmp" query-balloon |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["actual"])'
}
