#!/usr/bin/env bash
# integration.libvirt.daemon: the real ballastd with `--libvirt URI --fleet
# EMPTY_DIR` against a private libvirtd (libvirtd-env) running two tiny
# guests made from docs/examples/, a q35 and a microvm, both with the agent
# channel and a metadata policy. Checks, through `ballastctl --json`:
#   discovery   both domains managed (source libvirt, policy from metadata),
#               the empty fleet alongside;
#   agent       both agents connected and reporting through the <channel>
#               socket QEMU (as libvirt-qemu) created;
#   balloon     idle guests shrink below nominal (`virsh dommemstat` actual),
#               never below the metadata's min_memory;
#   stats       the q35 domain had no stats period: ballastd set one;
#   metadata    a `virsh metadata --live` change is applied at once (explain
#               params, and the balloon grows to the new floor); a bad value
#               forces safe mode with the reason; a config file wins (SIGHUP);
#   hook        the installed qemu hook -> ballastctl notify -> ballastd
#               (release closes the agent, started reopens it; exits 0 at once);
#   events      `virsh destroy` of one domain drops it from status at once,
#               the other is still served;
#   names       a domain started under the name of a (stand-in) fleet guest
#               is refused with a warning; notify leaves the fleet guest alone.
# ballastd is stopped, domains destroyed and undefined and the private
# libvirtd stopped, by PID, however the test ends (trap EXIT in lib.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ballastd=$build/bin/ballastd
ballastctl=$build/bin/ballastctl
ballast_fleet=$build/bin/ballast-fleet
[[ -x $ballastd && -x $ballastctl && -x $ballast_fleet ]] ||
  skip "ballastd/ballastctl/ballast-fleet not built in $build/bin"
command -v jq >/dev/null || skip "jq not installed"
lv_setup

mib=$((1 << 20))
nominal=$((160 * mib))
q35=$tag-q35
mvm=$tag-microvm
daemon_pid=
fake_pid=
lv_cleanup_extra() {
  [[ -n ${fake_pid:-} ]] && kill "$fake_pid" 2>/dev/null
  [[ -n $daemon_pid ]] && { kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; }
  if ((fails)) && [[ -f $lvdir/ballastd.log ]]; then echo "--- ballastd log (tail)" >&2; tail -n 40 "$lvdir/ballastd.log" >&2; fi
  :
}

v define "$(lv_domain_xml ballast-q35 "$q35" none)" >/dev/null
v define "$(lv_domain_xml ballast-microvm "$mvm" 1)" >/dev/null
t0=$SECONDS
v start "$q35" >/dev/null
v start "$mvm" >/dev/null

conf=$lvdir/conf
fleet=$lvdir/fleet
mkdir -p "$conf" "$fleet"
printf '[ballastd]\ntick_interval_ms = 1000\n' >"$conf/ballastd.conf"
sock=$lvdir/ctl.sock
status() { ctl --json status; }
explain() { ctl --json explain "$1"; }
actual_kib() { v dommemstat "$1" | awk '$1 == "actual" {print $2}'; }

"$ballastd" --libvirt "$uri" --fleet "$fleet" --socket "$sock" --config-dir "$conf" \
  >"$lvdir/ballastd.log" 2>&1 &
daemon_pid=$!
wait_for 10 ctl ping || { fail "ballastd did not answer"; exit 1; }

# --- discovery --------------------------------------------------------------------------------
both_managed() {
  status | jq -e --arg a "$q35" --arg b "$mvm" '[.vms[] | select((.name == $a or .name == $b)
    and .source == "libvirt" and .policy_source == "metadata")] | length == 2'
}
if wait_for 20 both_managed; then
  ok "discovery: $q35 and $mvm managed, policy from metadata"
else
  fail "domains not managed: $(status | jq -c '[.vms[] | {name, source, policy_source}]')"
fi
if grep -q "managing fleet $fleet libvirt $uri" "$lvdir/ballastd.log"; then
  ok "discovery: --libvirt combined with --fleet"
else
  fail "startup line does not name both sources"
fi
if [[ $(explain "$q35" | jq -r .metadata.machine) == pc-q35* ]] &&
  [[ $(explain "$mvm" | jq -r .metadata.machine) == microvm ]]; then
  ok "discovery: machine types q35 and microvm"
else
  fail "machine types: $(explain "$q35" | jq -c .metadata)"
fi

# --- agents over the libvirt <channel> --------------------------------------------------------
agents_fresh() {
  for d in "$q35" "$mvm"; do
    explain "$d" | jq -e '.agent.state == "connected" and .agent.report_valid
      and .agent.age_ms < 3000 and .agent.mem_available_bytes > 0' || return 1
  done
}
if wait_for 90 agents_fresh; then
  ok "agent: both agents connected and reporting $((SECONDS - t0)) s after start"
else
  fail "agents: $(status | jq -c '[.vms[] | {name, agent, agent_frames}]')"
fi
owner=$(stat -c %U "$lvdir/guests/$mvm.agent.sock" 2>/dev/null || echo none)
if [[ $owner == libvirt-qemu ]]; then
  ok "agent: channel socket made by QEMU as $owner"
else
  fail "agent socket owner '$owner'"
fi

# --- balloon: idle guests shrink, never below the metadata floor ------------------------------
q35_min=$((96 * mib))
shrunk() {
  local a b
  a=$(actual_kib "$q35") b=$(actual_kib "$mvm")
  ((a * 1024 <= nominal - 24 * mib && b * 1024 <= nominal - 24 * mib))
}
t1=$SECONDS
if wait_for 120 shrunk; then
  ok "balloon: idle guests shrunk after $((SECONDS - t1)) s: $q35 $(actual_kib "$q35") KiB, $mvm $(actual_kib "$mvm") KiB of $((nominal / 1024))"
else
  fail "not shrunk: $q35 $(actual_kib "$q35") KiB, $mvm $(actual_kib "$mvm") KiB; $(status | jq -c '[.vms[] | {name, target_bytes, last_reason}]')"
fi
a=$(actual_kib "$q35")
if ((a * 1024 >= q35_min)); then
  ok "balloon: $q35 kept at or above its metadata min_memory 96M"
else
  fail "$q35 actual $a KiB below min_memory 96M"
fi
status | jq -e --arg a "$q35" --argjson min $q35_min \
  '.vms[] | select(.name == $a) | .target_bytes >= $min' >/dev/null || fail "$q35 target below min"
if explain "$q35" | jq -e --argjson min $q35_min '.params.min_bytes == $min' >/dev/null; then
  ok "balloon: explain shows min 96M from metadata"
else
  fail "q35 params: $(explain "$q35" | jq -c .params)"
fi

# --- stats ------------------------------------------------------------------------------------
period=$(v dumpxml "$q35" | sed -n "s/.*<stats period='\([0-9]*\)'.*/\1/p")
if [[ -n $period && $period -gt 0 ]]; then
  ok "stats: ballastd set a stats period (${period} s) on $q35"
else
  fail "no stats period on $q35"
fi
if explain "$q35" | jq -e '.guest_stats.valid and .guest_stats.available_bytes > 0' >/dev/null; then
  ok "stats: balloon guest statistics read for $q35"
else
  fail "no guest stats for $q35: $(explain "$q35" | jq -c .guest_stats)"
fi

# --- metadata: a live change is applied at once -----------------------------------------------
ns=https://ballast.dev/xmlns/policy/1
v metadata "$mvm" $ns --live --key ballast \
  --set "<policy><min_memory>144M</min_memory><mode>managed</mode></policy>" >/dev/null
new_min() { explain "$mvm" | jq -e --argjson m $((144 * mib)) '.params.min_bytes == $m and .metadata.keys == 2'; }
if wait_for 3 new_min; then
  ok "metadata: live change seen in explain (min 144M)"
else
  fail "metadata change not applied: $(explain "$mvm" | jq -c '{params, metadata}')"
fi
grown() { (($(actual_kib "$mvm") >= 144 * 1024)); }
t1=$SECONDS
if wait_for 20 grown; then
  ok "metadata: balloon grew to the new floor in $((SECONDS - t1)) s ($(actual_kib "$mvm") KiB)"
else
  fail "$mvm actual $(actual_kib "$mvm") KiB after min 144M"
fi
v metadata "$mvm" $ns --live --key ballast --set "<policy><shares>lots</shares></policy>" >/dev/null
bad_meta() {
  explain "$mvm" | jq -e '.mode == "safe" and (.config_error | startswith("metadata: <shares>"))
    and .metadata.errors == 1'
}
if wait_for 5 bad_meta; then
  ok "metadata: bad value -> safe mode, reason in explain"
else
  fail "bad metadata: $(explain "$mvm" | jq -c '{mode, config_error, metadata}')"
fi
v metadata "$mvm" $ns --live --remove >/dev/null
meta_removed() { explain "$mvm" | jq -e '.policy_source == "defaults" and .config_error == null'; }
if wait_for 5 meta_removed; then
  ok "metadata: removed -> [defaults]"
else
  fail "metadata removal: $(explain "$mvm" | jq -c .metadata)"
fi
printf '[vm]\nmin_memory = 112M\n' >"$conf/$q35.conf"
kill -HUP "$daemon_pid"
file_wins() {
  explain "$q35" | jq -e --argjson m $((112 * mib)) '.policy_source == "file" and .params.min_bytes == $m
    and .metadata.present'
}
if wait_for 5 file_wins; then
  ok "metadata: a config file wins over metadata (after SIGHUP)"
else
  fail "config file precedence: $(explain "$q35" | jq -c '{policy_source, params, metadata}')"
fi

# --- the hook through the real ballastctl and ballastd ----------------------------------------
hooks=$lvdir/hooks
"$src/scripts/libvirt-hook" install --hooks-dir "$hooks" --ballastctl "$ballastctl" --socket "$sock" >/dev/null
hook=$hooks/qemu.d/ballast
run_hook() { # DOMAIN OP -> ms in $ms
  local t rc=0
  t=$(date +%s%N)
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$hook" "$1" "$2" begin - </dev/null >/dev/null 2>&1 || rc=$?
  ms=$((($(date +%s%N) - t) / 1000000))
  return $rc
}
hook_rc=0
run_hook "$q35" release || hook_rc=$?
((hook_rc == 0 && ms < 1000)) || fail "hook release: rc $hook_rc, $ms ms"
if wait_for 3 grep -q "$q35: notify release (managed): agent-closed" "$lvdir/ballastd.log"; then
  ok "hook: release -> ballastd closed the agent ($ms ms in the hook)"
else
  fail "release notify not handled"
fi
explain "$q35" | jq -e '.agent.state == "down"' >/dev/null || fail "agent not closed after release"
run_hook "$q35" started || fail "hook started: rc $?"
if wait_for 3 grep -q "$q35: notify started (managed): rescan" "$lvdir/ballastd.log"; then
  ok "hook: started -> rescan"
else
  fail "started notify not handled"
fi
agent_back() { explain "$q35" | jq -e '.agent.state == "connected"'; }
if wait_for 15 agent_back; then
  ok "hook: agent reopened after started"
else
  fail "agent not back after started"
fi
if out=$(ctl notify "no-such-$tag" prepare) && [[ $out == *": none" ]]; then
  ok "hook: notify for an unmanaged domain answers (none)"
else
  fail "notify unmanaged: '$out'"
fi

# --- events: destroy drops one domain at once, the other is still served ----------------------
# QEMU takes a second or two to exit on SIGTERM: the clock starts when virsh
# returns, i.e. when libvirt itself considers the domain stopped.
ticks0=$(status | jq .host.ticks)
t_destroy=$(date +%s%N)
v destroy "$mvm" >/dev/null
t_stop=$(date +%s%N)
gone() { status | jq -e --arg n "$mvm" '[.vms[] | select(.name == $n)] | length == 0'; }
if wait_for 5 gone; then
  ms=$((($(date +%s%N) - t_stop) / 1000000))
  if ((ms < 1000)); then
    ok "events: destroyed $mvm left status $ms ms after virsh destroy returned ($((($(date +%s%N) - t_destroy) / 1000000)) ms after it began)"
  else
    fail "destroyed $mvm left status only $ms ms after virsh destroy returned"
  fi
else
  fail "destroyed $mvm still in status"
fi
sleep 2.5
if status | jq -e --arg n "$q35" --argjson t "$ticks0" '.host.ticks > $t and
  ([.vms[] | select(.name == $n and .qmp == "connected" and .agent == "connected")] | length == 1)' \
  >/dev/null; then
  ok "events: $q35 still served"
else
  fail "$q35 after the destroy: $(status | jq -c .)"
fi

# --- names: a fleet guest and a libvirt domain of the same name --------------------------------
# A stand-in fleet guest named like the (now stopped) microvm: a directory
# with a listening qmp.sock is a live guest to the fleet source.
mvm_dir=$("$ballast_fleet" path --state "$fleet" "$mvm" dir)
mvm_qmp=$("$ballast_fleet" path --state "$fleet" "$mvm" qmp)
mkdir "$mvm_dir"
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); time.sleep(120)' \
  "$mvm_qmp" &
fake_pid=$!
fleet_has() { status | jq -e --arg n "$mvm" '[.vms[] | select(.name == $n and .source == "fleet")] | length == 1'; }
wait_for 10 fleet_has || fail "fleet stand-in $mvm not managed"
v start "$mvm" >/dev/null
if wait_for 10 grep -q "$mvm: a fleet VM of this name is managed already: the libvirt VM is not managed" \
  "$lvdir/ballastd.log"; then
  ok "names: libvirt domain clashing with a fleet guest refused with a warning"
else
  fail "no warning for the name clash"
fi
status | jq -e --arg n "$mvm" '[.vms[] | select(.name == $n)] | (length == 1 and .[0].source == "fleet")' \
  >/dev/null || fail "after the clash: $(status | jq -c --arg n "$mvm" '[.vms[] | select(.name == $n) | {name, source}]')"
if [[ $(ctl --json notify "$mvm" release | jq -r '.managed') == false ]]; then
  ok "names: notify never touches the fleet guest of that name"
else
  fail "notify reached the fleet guest"
fi
kill "$fake_pid" 2>/dev/null
wait "$fake_pid" 2>/dev/null || :
fake_pid=
rm -rf "${mvm_dir:?}"
v destroy "$mvm" >/dev/null

kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=
if ((rc == 0)); then
  ok "ballastd exited 0 on SIGTERM"
else
  fail "ballastd exit status $rc"
fi
grep -E 'CRITICAL|runtime error|Sanitizer' "$lvdir/ballastd.log" && fail "ballastd log has errors"
((fails == 0)) || { log "$fails check(s) failed"; exit 1; }
log "all checks passed"
