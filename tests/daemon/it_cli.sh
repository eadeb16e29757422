#!/usr/bin/env bash
# integration.daemon.cli: exit codes of ballastd and ballastctl, their
# --version and usage messages, config checking, the socket from
# $BALLAST_SOCKET, runtime set-policy/dry-run through the socket, and the
# control sockets' access rules: the read-write one mode 0600, other users
# refused by SO_PEERCRED; the read-only one beside it mode 0666, serving
# reads to anyone (uid 65534 through setpriv) and refusing every change with
# "permission denied: writes need root (socket PATH)"; changes logged with
# the caller's uid and pid. No guests.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"

expect_rc() { # RC CMD...
  local want=$1 rc=0; shift
  "$@" >/dev/null 2>&1 || rc=$?
  ((rc == want)) || fail "'$*' exited $rc, expected $want"
}
expect_rc 2 "$bin/ballastd"
expect_rc 2 "$bin/ballastd" --no-such-option
expect_rc 2 "$bin/ballastd" --check-config "$state/missing"
expect_rc 2 "$bin/ballastd" stray-argument --fleet "$state"
expect_rc 1 "$bin/ballastd" --fleet "$state/missing" --socket "$state/x.sock"
printf '[ballastd]\ntick_interval_ms = 1000\n' >"$conf/ballastd.conf"
expect_rc 0 "$bin/ballastd" --check-config --config-dir "$conf"
expect_rc 0 "$bin/ballastd" --check-config "$conf"
expect_rc 0 "$bin/ballastd" --check-config="$conf"
bad=$(mktemp -d "${TMPDIR:-/tmp}/ballast-daemon-bad-XXXXXX")
printf '[ballastd]\ntick_interval_ms = soon\n' >"$bad/ballastd.conf"
expect_rc 2 "$bin/ballastd" --check-config --config-dir "$bad"
expect_rc 2 "$bin/ballastd" --check-config "$bad"
expect_rc 2 "$bin/ballastd" --check-config "$conf" --config-dir "$bad" # which one?
for p in ballastd ballastctl ballast-fleet ballast-agent-host; do
  v=$("$bin/$p" --version) || fail "$p --version failed"
  [[ $v == "${p%-host} "[0-9]*.[0-9]*.[0-9]* ]] || fail "$p --version printed '$v'"
done
# At start a bad file is reported with file:line, once, but the daemon runs
# (the VMs it covers in safe mode: never shrunk, still grown) rather than
# abandoning every guest. The socket comes from $BALLAST_SOCKET, which
# ballastctl reads too.
BALLAST_SOCKET=$state/x.sock "$bin/ballastd" --fleet "$state" --config-dir "$bad" \
  >"$state/bad-config.log" 2>&1 &
bad_pid=$!
extra_pids+=("$bad_pid")
BALLAST_SOCKET=$state/x.sock wait_for 10 "$bin/ballastctl" ping ||
  fail "ballastd with a bad config file did not start on \$BALLAST_SOCKET"
n=$(grep -c "ballastd.conf:2: .*(the VMs it covers run in safe mode)" "$state/bad-config.log" || true)
((n == 1)) || fail "bad config reported $n times, not once with file:line: $(cat "$state/bad-config.log")"
kill "$bad_pid"
wait "$bad_pid" || true
rm -rf "$bad"
# ballastd does not link libvirt: --libvirt loads build/lib/ballast-libvirt.so.
# A missing or foreign module is a clear start-up error, not a crash.
! ldd "$bin/ballastd" | grep -q libvirt || fail "ballastd links libvirt: $(ldd "$bin/ballastd" | grep libvirt)"
BALLAST_LIBVIRT_MODULE=$state/none.so "$bin/ballastd" --libvirt --socket "$state/y.sock" \
  >"$state/module.log" 2>&1 && fail "ballastd --libvirt ran without its module"
grep -q "libvirt module: .*none.so" "$state/module.log" ||
  fail "missing module not reported: $(cat "$state/module.log")"
BALLAST_LIBVIRT_MODULE=$(ldd "$bin/ballastd" | awk '/libz\.so/ {print $3}') \
  "$bin/ballastd" --libvirt --socket "$state/y.sock" >"$state/module.log" 2>&1 &&
  fail "ballastd --libvirt ran with a foreign module"
grep -q "not a module of this ballastd build" "$state/module.log" ||
  fail "foreign module not reported: $(cat "$state/module.log")"
# Each bad ballastctl invocation: exit 2 with its own message.
expect_usage() { # MESSAGE ARGS...
  local want=$1 rc=0 out; shift
  out=$("$bin/ballastctl" --socket "$state/ctl.sock" "$@" 2>&1 >/dev/null) || rc=$?
  ((rc == 2)) || fail "'ballastctl $*' exited $rc, expected 2"
  [[ $out == *"ballastctl: $want"* ]] || fail "'ballastctl $*' said '$out', not '$want'"
}
expect_usage "no command given"
expect_usage "unknown command 'frobnicate'" frobnicate
expect_usage "set-policy: expected KEY=VALUE, not 'shares'" set-policy vm0 shares
expect_usage "set-policy: expected VM KEY=VALUE" set-policy vm0
expect_usage "status: unexpected argument 'now'" status now
expect_usage "dry-run: expected on or off, not 'maybe'" dry-run maybe
expect_usage "notify: unknown event 'boot'" notify d1 boot
expect_usage "--fresh: only status takes it" --fresh explain vm0
expect_rc 1 "$bin/ballastctl" --socket "$state/none.sock" status
ok "exit codes, --version, usage messages"

start_daemon --config-dir "$conf"
[[ $(stat -c %a "$state/ctl.sock") == 600 ]] || fail "control socket mode is not 0600"
[[ $(stat -c %a "$state/ctl.ro.sock") == 666 ]] || fail "read-only socket mode is not 0666"
# A second daemon on the same socket refuses before it reads the state file,
# takes over a balloon or touches ksmd: the socket is bound first.
second_rc=0
"$bin/ballastd" --fleet "$state" --socket "$state/ctl.sock" -v >"$state/second.log" 2>&1 ||
  second_rc=$?
((second_rc == 1)) || fail "second ballastd exited $second_rc, expected 1"
grep -q "another ballastd is listening" "$state/second.log" ||
  fail "second ballastd did not say why: $(cat "$state/second.log")"
! grep -qi "state file\|ksm\|fleet" "$state/second.log" ||
  fail "second ballastd started work before refusing: $(cat "$state/second.log")"
status_json | jq -e '.vms == [] and .host.mem_total_bytes > 0 and .host.dry_run == false' \
  >/dev/null || fail "empty fleet status wrong"
ctl dry-run on >/dev/null
status_json | jq -e '.host.dry_run' >/dev/null || fail "dry-run on not applied"
grep -q "dry run on (control socket, uid $(id -u) pid [0-9]*)" "$state/ballastd.log" ||
  fail "change not logged with uid and pid: $(grep 'dry run' "$state/ballastd.log")"
expect_rc 1 ctl set-policy vm0 min_memory=1G # no such VM
expect_rc 1 ctl explain vm0
ok "control requests on an empty fleet"

# Raw protocol: garbage and unknown commands get error replies, the daemon stays up.
reply=$(printf 'not json\n{"cmd":"reboot"}\n' | python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
buf = b""
while buf.count(b"\n") < 2:
    d = s.recv(4096)
    if not d: break
    buf += d
print(buf.decode())' "$state/ctl.sock")
grep -q '"bad-request"' <<<"$reply" || fail "garbage not answered bad-request: $reply"
grep -q '"unknown-command"' <<<"$reply" || fail "unknown command not answered: $reply"
ctl ping >/dev/null || fail "daemon gone after garbage"
ok "garbage and unknown commands answered with errors"

# The read-only socket refuses every change, even root's, naming the socket
# that takes them; it serves the reads.
out=$("$bin/ballastctl" --socket "$state/ctl.ro.sock" dry-run off 2>&1) && fail "dry-run over the read-only socket"
[[ $out == "ballastctl: permission denied: writes need root (socket $state/ctl.sock)" ]] ||
  fail "read-only refusal said '$out'"
status_json | jq -e '.host.dry_run' >/dev/null || fail "a refused change was applied"
# resume hands a held VM back to ballastd: a change too, refused before the
# VM is even looked up.
out=$("$bin/ballastctl" --socket "$state/ctl.ro.sock" resume vm0 2>&1) && fail "resume over the read-only socket"
[[ $out == "ballastctl: permission denied: writes need root (socket $state/ctl.sock)" ]] ||
  fail "read-only refusal of resume said '$out'"
"$bin/ballastctl" --socket "$state/ctl.ro.sock" --json status | jq -e '.host.dry_run' >/dev/null ||
  fail "status over the read-only socket"
m=$("$bin/ballastctl" --socket "$state/ctl.ro.sock" metrics) || fail "metrics over the read-only socket"
grep -q '^ballast_dry_run 1$' <<<"$m" || fail "metrics over the read-only socket: $m"
ok "read-only socket: reads served, changes refused with the read-write socket's path"

# Another user: the read-write socket refuses it by SO_PEERCRED even with
# the file mode opened up; ballastctl then reads through the read-only
# socket, and a change says it needs root.
if (($(id -u) == 0)) && command -v setpriv >/dev/null; then
  chmod 0755 "$state"
  as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups "$bin/ballastctl" "$@"; }
  as_nobody --socket "$state/ctl.sock" --json status | jq -e '.host.dry_run' >/dev/null ||
    fail "uid 65534 could not read status through the read-only socket"
  m=$(as_nobody --socket "$state/ctl.sock" metrics) || fail "uid 65534 could not read metrics"
  grep -q '^ballast_vms 0$' <<<"$m" || fail "uid 65534 read wrong metrics: $m"
  rc=0
  out=$(as_nobody --socket "$state/ctl.sock" set-policy vm0 shares=2 2>&1) || rc=$?
  ((rc == 1)) || fail "uid 65534 set-policy exited $rc"
  [[ $out == "ballastctl: permission denied: writes need root (socket $state/ctl.sock)" ]] ||
    fail "uid 65534 set-policy said '$out'"
  out=$(as_nobody --socket "$state/ctl.ro.sock" dry-run off 2>&1) && fail "uid 65534 changed dry-run"
  [[ $out == "ballastctl: permission denied: writes need root (socket $state/ctl.sock)" ]] ||
    fail "uid 65534 dry-run over the read-only socket said '$out'"
  chmod 0666 "$state/ctl.sock"
  rc=0
  as_nobody --socket "$state/ctl.sock" dry-run off >/dev/null 2>&1 || rc=$?
  ((rc == 1)) || fail "uid 65534 was served a change on the opened-up socket (rc $rc)"
  grep -q 'control: refused peer uid 65534' "$state/ballastd.log" || fail "refusal not logged"
  status_json | jq -e '.host.dry_run' >/dev/null || fail "uid 65534 turned dry-run off"
  ok "uid 65534: reads through the read-only socket, changes refused, peer refusal logged"
else
  echo "NOTE: not root or no setpriv: other users' access not tested" >&2
fi

# SIGHUP reloads without losing state (dry-run stays on; ticks keep counting).
kill -HUP "$daemon_pid"
wait_for 5 grep -q 'config reloaded' "$state/ballastd.log" || fail "SIGHUP did not reload"
status_json | jq -e '.host.dry_run' >/dev/null || fail "runtime dry-run lost on reload"
kill -INT "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=
((rc == 0)) || fail "SIGINT exit status $rc"
[[ ! -e $state/ctl.sock ]] || fail "control socket left after SIGINT"
[[ ! -e $state/ctl.ro.sock ]] || fail "read-only socket left after SIGINT"
ok "SIGHUP reload keeps state; SIGINT exits 0 and removes the socket"

# The fleet memory budget on an empty fleet: a bad value is a config error
# with file:line; a budget above host RAM is cut with one warning naming the
# key's line; a cgroup that is no cgroup v2 directory falls back to the
# host's figures with one warning, not one per tick; status shows it all.
printf '[ballastd]\nmemory_budget = 150%%\n' >"$conf/ballastd.conf"
out=$("$bin/ballastd" --check-config --config-dir "$conf" 2>&1) && fail "150% budget accepted"
grep -q "ballastd.conf:2: memory_budget = 150%: out of range \[1%, 100%\]" <<<"$out" ||
  fail "bad memory_budget not reported with file:line: $out"
printf '[ballastd]\ntick_interval_ms = 200\nksm_mode = observe\nmemory_budget = 64T\nmemory_cgroup = %s\n' \
  "$src/tests/fixtures/cgroup-v1" >"$conf/ballastd.conf"
start_daemon --config-dir "$conf"
sleep 1.5 # several ticks
budget_ok() {
  status_json | jq -e '.budget.clamped == true and .budget.configured == "64.0 TiB"
    and .budget.effective_bytes == .host.mem_total_bytes and .budget.source == "host"
    and (.budget.cgroup_error | test("cgroup v1")) and .budget.unmet == null'
}
wait_for 5 budget_ok || fail "budget status wrong: $(status_json | jq -c .budget)"
n=$(grep -c "ballastd.conf:4: memory_budget 64.0 TiB is above host RAM" "$state/ballastd.log" || true)
((n == 1)) || fail "clamp warned $n times: $(cat "$state/ballastd.log")"
n=$(grep -c "memory_cgroup .*cgroup v1 memory directory" "$state/ballastd.log" || true)
((n == 1)) || fail "cgroup fallback warned $n times: $(cat "$state/ballastd.log")"
ctl status | grep -q "^budget: 64.0 TiB = .* (cut to host RAM), cgroup .* (unreadable: host figures used)" ||
  fail "status table lacks the budget line: $(ctl status)"
kill "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=
ok "memory budget: bad value refused, clamp and cgroup fallback said once, shown in status"
