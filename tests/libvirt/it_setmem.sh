#!/usr/bin/env bash
# integration.libvirt.setmem: an admin's `virsh setmem DOM SIZE --live` on a
# domain ballastd manages is someone else's target, not a deflate on OOM
# (docs/policy.md, "Other balloon controllers"). A private libvirtd
# (libvirtd-env) runs one tiny q35 guest from docs/examples/ (autodeflate
# on); ballastd --libvirt shrinks it while idle. Then:
#   rise     `virsh setmem` to 150 MiB (over ballastd's target, the guest
#            calm): status shows the foreign target "by libvirt", no
#            deflate is counted, ballastd sends nothing for 8 ticks and the
#            balloon stays at the admin's value; one warning in the log;
#   fall     `virsh setmem` to 100 MiB (under ballastd's target): held there;
#   resume   `ballastctl resume DOM`: ballastd's again (its target moves);
#   autodeflate  the example domain's balloon has deflate-on-oom: status
#            says so (deflate_on_oom true) and there is no warning.
# On the code before, the rise was a deflate on OOM: a WARNING, a growth
# past 150 MiB, a 300 s hold, then a shrink back.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_daemon
lv_setup

mib=$((1 << 20))
nominal=$((160 * mib))
dom=$tag-q35
daemon_pid=
lv_cleanup_extra() {
  [[ -n $daemon_pid ]] && { kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; }
  if ((fails)) && [[ -f $lvdir/ballastd.log ]]; then echo "--- ballastd log (tail)" >&2; tail -n 40 "$lvdir/ballastd.log" >&2; fi
  :
}

v define "$(lv_domain_xml ballast-q35 "$dom" 1)" >/dev/null
v start "$dom" >/dev/null

conf=$lvdir/conf
fleet=$lvdir/fleet
mkdir -p "$conf" "$fleet"
printf '[ballastd]\ntick_interval_ms = 1000\ngrow_hold_ms = 0\n' >"$conf/ballastd.conf"
sock=$lvdir/ctl.sock
vm_json() { ctl --json status | jq -c --arg n "$dom" '.vms[] | select(.name == $n)'; }
actual_kib() { v dommemstat "$dom" | awk '$1 == "actual" {print $2}'; }
sets() { vm_json | jq -r .balloon_sets; }

"$ballastd" --libvirt "$uri" --fleet "$fleet" --socket "$sock" --config-dir "$conf" \
  --log-format=fields >"$lvdir/ballastd.log" 2>&1 &
daemon_pid=$!
wait_for 10 ctl ping || { fail "ballastd did not answer"; exit 1; }

reporting() { ctl --json explain "$dom" | jq -e '.agent.report_valid and .agent.age_ms < 3000'; }
wait_for 120 reporting || { fail "agent not reporting: $(vm_json)"; exit 1; }
shrunk() { (($(actual_kib) * 1024 <= nominal - 24 * mib)); }
if wait_for 120 shrunk; then
  ok "idle guest shrunk to $(actual_kib) KiB"
else
  fail "not shrunk: $(vm_json)"
  exit 1
fi

# --- autodeflate ---------------------------------------------------------------------------------
if vm_json | jq -e '.deflate_on_oom == true' >/dev/null &&
  ! grep -q 'has no deflate-on-oom' "$lvdir/ballastd.log"; then
  ok "autodeflate: the example domain's balloon deflates on OOM, no warning"
else
  fail "autodeflate: $(vm_json | jq -c '{deflate_on_oom}')"
fi

# --- rise: setmem over ballastd's target ---------------------------------------------------------
v setmem "$dom" 150M --live
held_at() { vm_json | jq -e --argjson b $(($1 * mib)) '.foreign_target_bytes != null
  and (.foreign_target_bytes - $b | fabs) <= 1048576 and (.foreign_by | test("libvirt"))'; }
if wait_for 15 held_at 150; then
  ok "rise: held at the admin's 150 MiB ($(vm_json | jq -r .foreign_by))"
else
  fail "rise: not held: $(vm_json | jq -c '{foreign_target_bytes, foreign_by, target_bytes, actual_bytes}')"
fi
before=$(sets)
sleep 8
after=$(sets)
a=$(actual_kib)
if ((after == before)) && ((a * 1024 >= 149 * mib && a * 1024 <= 151 * mib)); then
  ok "rise: no balloon command in 8 ticks, actual $a KiB"
else
  fail "rise: $((after - before)) command(s), actual $a KiB"
fi
vm_json | jq -e '.guest_deflate_events == 0' >/dev/null || fail "rise counted as a deflate on OOM"
n=$(grep -c 'not by ballastd and not by the guest' "$lvdir/ballastd.log" || true)
((n == 1)) || fail "$n foreign-change warnings (expected 1)"
ctl status | grep -q "$dom: foreign target" || fail "status text does not show the hold"

# --- fall: setmem under ballastd's target --------------------------------------------------------
v setmem "$dom" 100M --live
if wait_for 15 held_at 100; then
  ok "fall: held at the admin's 100 MiB"
else
  fail "fall: $(vm_json | jq -c '{foreign_target_bytes, target_bytes, actual_bytes}')"
fi
before=$(sets)
sleep 5
(($(sets) == before)) || fail "fall: ballastd sent $(($(sets) - before)) command(s) while held"

# --- resume ----------------------------------------------------------------------------------------
if [[ $(ctl resume "$dom") == "$dom: handed back to ballastd" ]]; then
  ok "resume: handed back"
else
  fail "resume did not hand it back"
fi
vm_json | jq -e '.foreign_target_bytes == null' >/dev/null || fail "still held after resume"
moved() { (($(sets) > before)); }
if wait_for 30 moved; then
  ok "resume: ballastd moves the balloon again ($(actual_kib) KiB)"
else
  fail "resume: no command in 30 s: $(vm_json | jq -c '{target_bytes, actual_bytes, last_reason}')"
fi

kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=
((rc == 0)) || fail "ballastd exit status $rc"
v destroy "$dom" >/dev/null || :
((fails == 0)) || { log "$fails check(s) failed"; exit 1; }
log "all checks passed"
