#!/usr/bin/env bash
# integration.agent.guest: boots one tiny guest whose workload allocates
# 48 MiB at 15 s and then spikes over its memory.high, and checks through
# agent.sock (tests/agent/agent_check.c) that HELLO and REPORTs arrive, the
# allocation shows, the spike brings a PRESSURE frame and RECLAIM is answered.
#   guest.sh CHECK_BINARY
set -euo pipefail
check=${1:?usage: guest.sh ballast-agent-check}
build=${BALLAST_BUILD_DIR:?run under ctest (BALLAST_BUILD_DIR)}
fleet=$build/bin/ballast-fleet
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null ||
  { echo "SKIPPED: qemu-system-x86_64 not installed (scripts/setup)" >&2; exit 77; }
[[ -x $fleet ]] || fail "$fleet not built"
[[ -x $build/bin/ballast-agent ]] ||
  { echo "SKIPPED: $build/bin/ballast-agent not built (configured with BALLAST_GUEST=OFF)" >&2; exit 77; }

state=$(mktemp -d /tmp/ballast-agent-guest.XXXXXX)
cleanup() {
  "$fleet" stop --state "$state" --timeout 5 >/dev/null 2>&1 || true
  # Anything of this fleet still alive (by pid, this state dir only).
  for p in /proc/[0-9]*; do
    tr '\0' '\n' 2>/dev/null <"$p/cmdline" | grep -qF -- "$state/" && kill -9 "${p#/proc/}" 2>/dev/null
  done
  rm -rf "$state"
}
trap cleanup EXIT
vm0_console=$("$fleet" path --state "$state" vm0 console)
vm0_agent=$("$fleet" path --state "$state" vm0 agent)

alloc_mib=48
spec="spike:base=${alloc_mib}M,peak=160M,start=15s,after=12s,hold=15s,high=96M"
"$fleet" start --count 1 --memory 256M --state "$state" --workload "$spec" --append psi=1 \
  --wait --timeout 240 || { tail -n 30 "$vm0_console" >&2 || true; fail "guest did not boot"; }

if ! "$check" --socket "$vm0_agent" --alloc-mib "$alloc_mib" --timeout-s 180; then
  echo "--- guest console (last 40 lines)" >&2
  tail -n 40 "$vm0_console" >&2 || true
  fail "agent check failed"
fi
grep -q '^ballast-agent: started' "$vm0_console" || fail "no agent start line on the console"
grep -q 'workload started' "$vm0_console" || fail "the agent did not start the workload"
"$fleet" stop --state "$state"
echo "PASS"
