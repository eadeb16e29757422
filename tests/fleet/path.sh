#!/usr/bin/env bash
# integration.fleet.path: `ballast-fleet path` prints the layout's paths
# (what scripts use instead of spelling DIR/vm0/qmp.sock), refuses what makes
# no sense with exit 2, and a socket path over the unix limit with exit 1.
# Boots nothing and touches no file.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[[ -x $fleet ]] || fail "$fleet not built"

# expect WANT ARGS...: prints exactly WANT, exit 0.
expect() {
  local want=$1 got
  shift
  got=$("$fleet" path "$@") || fail "path $*: exit $?"
  [[ $got == "$want" ]] || fail "path $*: '$got', want '$want'"
  echo "ok: path $* -> $got"
}

# expect_rc RC WANT_IN_STDERR ARGS...
expect_rc() {
  local want_rc=$1 want=$2 rc=0 err
  shift 2
  err=$("$fleet" path "$@" 2>&1 >/dev/null) || rc=$?
  ((rc == want_rc)) || fail "path $*: exit $rc, want $want_rc ($err)"
  grep -qF -- "$want" <<<"$err" || fail "path $*: message lacks '$want': $err"
  echo "ok (exit $rc): path $* -> $(head -n1 <<<"$err")"
}

expect /s/vm0 --state /s vm0 dir
expect /s/vm0/qmp.sock --state /s vm0 qmp
expect /s/vm0/qmp-admin.sock --state /s vm0 qmp-admin
expect /s/vm0/agent.sock --state /s vm0 agent
expect /s/vm0/pid --state /s vm0 pid
expect /s/vm0/console.log --state /s vm0 console
expect /s/vm0/qemu.log --state /s vm0 qemu-log
expect /s/vm0/disk.raw --state /s vm0 disk
expect /s/fleet.json --state /s state
expect /s/.lock --state /s lock
expect rel/web-1/pid --state rel web-1 pid # as given: not made absolute
expect console.log console                 # for "$state"/*/"$(ballast-fleet path console)"
expect "/a b/vm0/pid" --state "/a b" vm0 pid

expect_rc 2 "which FILE" --state /s
expect_rc 2 "unknown FILE" --state /s vm0 qmp.sock
expect_rc 2 "NAME" --state /s qmp
expect_rc 2 "no NAME" --state /s vm0 state
expect_rc 2 "not a guest name" --state /s ../etc pid
expect_rc 2 "--state" vm0 pid
deep=/$(printf 'd%.0s' {1..92}) # 93 bytes: DIR/vm0/agent.sock is 108, one too many
expect "$deep/vm0/qmp.sock" --state "$deep" vm0 qmp
expect_rc 1 "unix socket" --state "$deep" vm0 agent
echo "PASS"
