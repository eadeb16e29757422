#!/usr/bin/env bash
# integration.daemon.top: `ballastctl top` against a real ballastd managing
# three fake guests (tools/fake_fleet.c) with 40-character names. Not a
# terminal: plain frames (no escape sequences), -n 2 draws two and exits,
# names whole when no width is known; with COLUMNS=80 every line fits, the
# names are shortened in the middle with an ellipsis ("..." in the C
# locale, "…" in a UTF-8 one) and a footer says so while `status` prints
# them whole; --sort name orders them. Each bad option is a usage error
# with its own message; no daemon is exit 1. Last, bash completion offers
# the daemon's VM names (skipped, loudly, without bash-completion).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
fake=$build/tests/fake-fleet
[[ -x $fake ]] || skip "fake-fleet not built"
n=3
prefix=customer-frontend-production-eu-west-

printf '[ballastd]\ntick_interval_ms = 1000\nksm_mode = observe\n' >"$conf/ballastd.conf"
coproc FAKE { exec "$fake" "$state" "$n" --memory 256 --used 64 --name-prefix "$prefix"; }
extra_pids+=("$FAKE_PID")
if ! read -r -t 10 line <&"${FAKE[0]}" || [[ $line != ready ]]; then
  fail "fake fleet did not start"
fi
start_daemon --config-dir "$conf"
ready() {
  status_json | jq -e --argjson n "$n" '[.vms[] | select(.agent == "connected")] | length == $n'
}
wait_for 20 ready || { status_json >&2; fail "the fake guests were not all connected"; }

# Two plain frames: each a host line, the header and one line per VM.
unset COLUMNS
start=$SECONDS
out=$(LC_ALL=C ctl top -n 2 --interval 0.5) || fail "top -n 2 failed"
((SECONDS - start < 10)) || fail "top -n 2 --interval 0.5 took $((SECONDS - start)) s"
[[ $out != *$'\e'* ]] || fail "escape sequences in top's output to a pipe"
frames=$(grep -c 'host: available' <<<"$out")
((frames == 2)) || fail "top -n 2 drew $frames frames: $out"
for i in 0 1 2; do
  c=$(grep -c "^$prefix$i " <<<"$out")
  ((c == 2)) || fail "$prefix$i not whole in both frames: $out"
done
grep -Eq '^VM +COST +ACTUAL +TARGET +AVAIL +PSI +MODE +AGENT +REASON$' <<<"$out" ||
  fail "no header line: $out"
echo "$out" | sed -n '1,5p;6q' | sed 's/^/  /'
ok "top -n 2 to a pipe: two plain frames, names whole"

for locale in C C.UTF-8; do
  ell=...
  [[ $locale == C.UTF-8 ]] && ell=…
  out=$(COLUMNS=80 LC_ALL=$locale ctl top -n 1 --sort name) || fail "top with COLUMNS=80 failed"
  while IFS= read -r l; do
    w=$(printf '%s' "$l" | LC_ALL=C.UTF-8 wc -m)
    ((w <= 80)) || fail "line of $w characters with COLUMNS=80 ($locale): '$l'"
  done <<<"$out"
  mapfile -t names < <(awk 'NR > 2 && $2 ~ /^[0-9.]+[MG]$|^-$/ {print $1}' <<<"$out")
  ((${#names[@]} == n)) || fail "$locale: expected $n VM lines: $out"
  for i in 0 1 2; do
    [[ ${names[i]} == *"$ell"*"$i" && ${names[i]} == cust* ]] ||
      fail "$locale: line $i's name '${names[i]}' not '$prefix$i' shortened with '$ell'"
  done
  grep -q "names shortened with $ell: \`ballastctl status\` shows them whole" <<<"$out" ||
    fail "$locale: no footer for the shortened names: $out"
done
for i in 0 1 2; do
  ctl status | grep -q "^$prefix$i " || fail "status does not print $prefix$i whole"
done
ok "COLUMNS=80: every line fits, names shortened in the middle and said so, whole in status"

expect_usage() { # MESSAGE ARGS...
  local want=$1 rc=0 err; shift
  err=$(ctl "$@" 2>&1 >/dev/null) || rc=$?
  ((rc == 2)) || fail "'ballastctl $*' exited $rc, expected 2"
  [[ $err == *"ballastctl: $want"* ]] || fail "'ballastctl $*' said '$err', not '$want'"
}
expect_usage "--sort: expected cost, pressure or name" top --sort size
expect_usage "--sort: only top takes it" status --sort name
expect_usage "--interval: only top takes it" status --interval 2
expect_usage "-n: only top takes it" status -n 1
expect_usage "-n: expected a count of 1 or more" top -n 0
expect_usage "--interval: expected seconds between 0.1 and 3600" top --interval 0
expect_usage "--interval: expected seconds between 0.1 and 3600" top --interval soon
expect_usage "--json: top draws a table" --json top
expect_usage "--fresh: only status takes it" --fresh top
expect_usage "top: unexpected argument 'cost'" top cost
rc=0
"$bin/ballastctl" --socket "$state/none.sock" top -n 1 >/dev/null 2>&1 || rc=$?
((rc == 1)) || fail "top without a daemon exited $rc, not 1"
ok "bad top options: exit 2 with their own message; no daemon: exit 1"

lib_bc=/usr/share/bash-completion/bash_completion
if [[ -r $lib_bc ]]; then
  got=$(
    set +eu
    # shellcheck source=/dev/null
    source "$lib_bc"
    # shellcheck source=../../dist/bash-completion/ballast
    source "$src/dist/bash-completion/ballast"
    compopt() { :; }
    COMP_WORDS=("$bin/ballastctl" --socket "$state/ctl.sock" explain cust)
    COMP_CWORD=4
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    _ballastctl ballastctl cust explain
    printf '%s\n' "${COMPREPLY[@]}" | sort
  )
  want=$(printf '%s\n' "${prefix}0" "${prefix}1" "${prefix}2")
  [[ $got == "$want" ]] || fail "completion of VM names from ballastd: '$got'"
  ok "bash completion offers ballastd's VM names"
else
  echo "SKIPPED (part): $lib_bc missing (Debian package bash-completion): VM name completion NOT checked" >&2
fi
