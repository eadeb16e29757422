#!/usr/bin/env bash
# integration.qmp.balloon: one real tiny guest from the fleet launcher; the
# QMP library finds its balloon, reads features and guest stats, inflates
# and deflates it and sees BALLOON_CHANGE (qmp_balloon_check.c does the
# talking). The fleet is stopped on every exit path.
set -euo pipefail
build=${BALLAST_BUILD_DIR:?run under ctest (BALLAST_BUILD_DIR)}
fleet=$build/bin/ballast-fleet
check=$build/tests/qmp-balloon-check
command -v qemu-system-x86_64 >/dev/null ||
  { echo "SKIPPED: qemu-system-x86_64 not installed (scripts/setup)" >&2; exit 77; }
[[ -x $fleet ]] || { echo "FAIL: $fleet not built" >&2; exit 1; }
[[ -x $check ]] || { echo "FAIL: $check not built" >&2; exit 1; }

state=$(mktemp -d /tmp/ballast-qmp-balloon.XXXXXX)
cleanup() {
  "$fleet" stop --state "$state" --timeout 5 >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
vm0_console=$("$fleet" path --state "$state" vm0 console)
vm0_qmp=$("$fleet" path --state "$state" vm0 qmp)

"$fleet" start --count 1 --memory 256M --deflate-on-oom --state "$state" --wait --timeout 240 ||
  { tail -n 20 "$vm0_console" >&2 || true; echo "FAIL: fleet start" >&2; exit 1; }
"$check" "$vm0_qmp" 256
