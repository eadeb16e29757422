#!/usr/bin/env bash
# integration.daemon.foreign_qmp: a `balloon` from a second QMP client on a
# real fleet guest is someone else's target (docs/policy.md, "Other balloon
# controllers"). One 256 MiB guest of the fleet launcher, idle, shrunk by
# ballastd (1 s tick); then a second client on the guest's second monitor
# (`ballast-fleet path NAME qmp-admin`: QEMU serves one client per monitor
# and ballastd holds qmp.sock) sends `balloon` to 200 MiB (a rise, the guest
# calm) and later to 120 MiB (a fall under ballastd's target). Neither is
# counted as a deflate on OOM; the VM is held at each for several ticks
# (no command from ballastd, the balloon where the client put it), one
# warning names "another QMP client", status and explain show it; after
# `ballastctl resume vm0` ballastd moves the balloon again. The launcher
# starts balloons with deflate-on-oom: status says so.
source "$(dirname "$0")/lib.sh"
need_guests
command -v python3 >/dev/null || skip "python3 not installed"
mib=$((1024 * 1024))
start_fleet 1 256M
fast_config
printf 'grow_hold_ms = 0\nksm_mode = observe\n' >>"$conf/ballastd.conf"
start_daemon --config-dir "$conf" --log-format=fields
admin=$(fleet_path --state "$state" vm0 qmp-admin)
[[ -S $admin ]] || fail "no second QMP monitor at $admin"
qmp() { python3 "$src/tests/fleet/qmp_call.py" "$admin" "$@"; }
vm0() { status_json | jq -c '.vms[0]'; }
qmp_actual_mib() { qmp query-balloon | jq '.actual / 1048576 | floor'; }
vm0_sets() { vm0 | jq .balloon_sets; }

shrunk() { vm0 | jq -e --argjson lim $((180 * mib)) '.agent == "connected" and .actual_bytes <= $lim'; }
wait_for 120 shrunk || fail "vm0 not shrunk under 180 MiB: $(vm0)"
vm0 | jq -e '.deflate_on_oom == true' >/dev/null || fail "status: deflate_on_oom $(vm0 | jq .deflate_on_oom)"
ok "vm0 shrunk to $(qmp_actual_mib) MiB; its balloon deflates on OOM"

held_at() { # MIB: held within a MiB of it, by another QMP client
  vm0 | jq -e --argjson b $(($1 * mib)) '.foreign_target_bytes != null
    and ((.foreign_target_bytes - $b) | fabs) <= 1048576 and (.foreign_by | test("QMP client"))'
}
check_held() { # MIB SECONDS
  local before
  before=$(vm0_sets)
  sleep "$2"
  (($(vm0_sets) == before)) || fail "ballastd sent $(($(vm0_sets) - before)) command(s) while held at $1 MiB"
  local a
  a=$(qmp_actual_mib)
  ((a >= $1 - 1 && a <= $1 + 1)) || fail "balloon at $a MiB, not the client's $1 MiB"
}

# ballastd settled first: a client's command that crosses a shrink of ours
# in flight is a race QEMU settles by order (the later command wins), and
# ballastd would then hold the VM at its own target taken for theirs.
settled() { local a; a=$(vm0_sets); sleep 3; (($(vm0_sets) == a)); }
wait_for 90 settled || fail "ballastd did not settle: $(vm0)"
qmp balloon "{\"value\": $((200 * mib))}" >/dev/null
wait_for 15 held_at 200 || fail "rise: not held at 200 MiB: $(vm0)"
check_held 200 8
vm0 | jq -e '.guest_deflate_events == 0' >/dev/null || fail "the client's rise counted as a deflate on OOM"
ctl --json explain vm0 | jq -e '.foreign.by | test("QMP client")' >/dev/null || fail "explain: no foreign"
ok "rise: held at the client's 200 MiB for 8 ticks"

qmp balloon "{\"value\": $((120 * mib))}" >/dev/null
wait_for 30 held_at 120 || fail "fall: not held at 120 MiB: $(vm0)"
check_held 120 5
ok "fall: held at the client's 120 MiB"
n=$(grep -c 'by another QMP client, not by ballastd' "$state/ballastd.log" || true)
((n == 1)) || fail "$n foreign-change warnings (expected 1)"

[[ $(ctl resume vm0) == "vm0: handed back to ballastd" ]] || fail "resume"
before=$(vm0_sets)
moved() { (($(vm0_sets) > before)); }
wait_for 30 moved || fail "no command from ballastd 30 s after resume: $(vm0)"
ok "resumed: ballastd moves vm0 again ($(qmp_actual_mib) MiB)"
