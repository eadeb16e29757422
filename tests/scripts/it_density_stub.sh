#!/usr/bin/env bash
# integration.scripts.density_stub: scripts/bench-density itself, its main
# phase end to end, without a guest or a QEMU: --build-dir is a stand-in
# whose ballast-fleet starts `sleep` processes with made-up consoles (two
# bursts of the workload each), whose ballastd only makes its socket, and
# whose ballastctl answers status and explain from the fleet's arguments
# (a virtio-mem device at 6 of 8 MiB with --actuator, 4 MiB of THP per VM
# with --thp, and cost figures only when asked with --fresh). KSM sysfs,
# the lock and qemu-system-x86_64 are stand-ins too. Strategy (g), 2
# guests, --no-pack: the fleet must be started --actuator both --thp under
# a managing ballastd (the default config), and the row and the report must
# carry the plugged MiB, the THP-backed MiB, the growths and the fleet's
# arguments; nothing may be left behind. What it cannot cover: real
# guests, ballastd's real answers and the packing test.
set -euo pipefail
src=${BALLAST_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
[[ $(id -u) -eq 0 ]] || { echo "SKIPPED: scripts/bench-density runs as root only" >&2; exit 77; }
for t in jq python3 numfmt flock pgrep setsid; do
  command -v "$t" >/dev/null || { echo "SKIPPED: $t not installed" >&2; exit 77; }
done
tmp=$(mktemp -d /tmp/ballast-density-stub-XXXXXX)
export STUB_TMP=$tmp
# A stand-in the script failed to stop is found by the unique temp path in
# its command line (each is started `exec -a $tmp/...`) and stopped by PID.
stop_left() { local p; for p in $(pgrep -f -- "$tmp/"); do kill -9 "$p" 2>/dev/null || true; done; }
trap 'stop_left; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
stub=$tmp/build
mkdir -p "$stub/bin" "$stub/guest" "$tmp/path" "$tmp/ksm"
touch "$stub/guest/vmlinuz"
echo 'modules_on_demand_virtio_mem=virtio_mem.ko' >"$stub/guest/manifest"
for f in run pages_to_scan sleep_millisecs use_zero_pages pages_sharing ksm_zero_pages; do
  echo 7 >"$tmp/ksm/$f"
done
echo 'none [conservative] scan-time' >"$tmp/ksm/advisor_mode"

cat >"$tmp/path/qemu-system-x86_64" <<'EOF'
#!/usr/bin/env bash
echo "QEMU emulator version 0.0.0-stub"
EOF

cat >"$stub/bin/ballast-fleet" <<'EOF'
#!/usr/bin/env bash
# start: one `sleep` a guest, its console holding two finished bursts.
cmd=$1
shift
case $cmd in
--help) echo "  --actuator A  balloon, virtio-mem or both" ;;
path) case $1 in console) echo console.log ;; state) echo fleet.json ;; esac ;;
start)
  echo "$*" >>"$STUB_TMP/fleet-starts"
  state= prefix=vm count=0 args=()
  while (($#)); do
    case $1 in
    --state) state=$2; shift 2 ;;
    --name-prefix) prefix=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --memory | --workload | --timeout) shift 2 ;;
    --wait) shift ;;
    *) args+=("$1"); shift ;;
    esac
  done
  mkdir -p "$state"
  jq -n --arg args "${args[*]}" '{accel: "stub", args: $args}
    + if ($args | test("--actuator")) then {actuator: "both", boot_memory_bytes: 134217728} else {} end' \
    >"$state/fleet.json"
  for ((i = 0; i < count; i++)); do
    d=$state/$prefix$i
    mkdir -p "$d"
    printf '%s\n' "ballast-workload: t=20000 ms target 144 MiB (holding 16)" \
      "ballast-workload: t=21000 ms holding 144 MiB" "ballast-workload: t=50000 ms target 16 MiB (holding 144)" \
      "ballast-workload: t=350000 ms target 144 MiB (holding 16)" "ballast-workload: t=351200 ms holding 144 MiB" \
      "ballast-workload: t=380000 ms target 16 MiB (holding 144)" >"$d/console.log"
    setsid bash -c 'echo $$ >"$1/pid"; exec -a "$1/stub-guest" sleep 600' _ "$d" </dev/null >/dev/null 2>&1 &
    for _ in $(seq 50); do [[ -s $d/pid ]] && break; sleep 0.1; done
  done
  ;;
stop)
  for p in "$2"/*/pid; do [[ -f $p ]] && kill -9 "$(cat "$p")" 2>/dev/null; rm -f "$p"; done
  ;;
esac
exit 0
EOF

cat >"$stub/bin/ballastd" <<'EOF'
#!/usr/bin/env bash
# --check-config: fine. Otherwise: the socket (a plain file), which fleet
# and config dir it was given, and where its log goes; then nothing.
fleet= sock= conf= check=0
while (($#)); do
  case $1 in
  --check-config) check=1; shift ;;
  --fleet) fleet=$2; shift 2 ;;
  --socket) sock=$2; shift 2 ;;
  --config-dir) conf=$2; shift 2 ;;
  *) shift ;;
  esac
done
((check)) && exit 0
echo "$fleet" >"$sock.fleet"
readlink "/proc/$$/fd/1" >"$sock.log"
echo "$(basename "$conf")" >>"$STUB_TMP/ballastd-configs"
: >"$sock"
exec -a "$STUB_TMP/stub-ballastd" sleep 600
EOF

cat >"$stub/bin/ballastctl" <<'EOF'
#!/usr/bin/env bash
# ping, status, explain VM from the fleet's arguments; each explain logs one
# growth reached after 40 ms into ballastd's log, as ballastd would.
sock= fresh=false
while [[ $1 == --* ]]; do
  case $1 in
  --socket) sock=$2; shift 2 ;;
  --json) shift ;;
  --fresh) fresh=true; shift ;;
  *) exit 2 ;;
  esac
done
[[ -e $sock ]] || exit 1
fleet=$(cat "$sock.fleet")
args=$(jq -r .args "$fleet/fleet.json")
thp=0; [[ " $args " == *" --thp "* ]] && thp=4194304
case $1 in
ping) echo pong ;;
status)
  for p in "$fleet"/*/pid; do [[ -f $p ]] && basename "$(dirname "$p")"; done |
    jq -R --argjson fresh "$fresh" --argjson thp "$thp" '{name: ., actual_bytes: 134217728,
      guest_deflate_events: 0, cost: (if $fresh then {error: null, thp_bytes: $thp}
      else {error: "not read yet", thp_bytes: null} end)}' | jq -s '{vms: .}'
  ;;
explain)
  printf '%s\n' "{\"VM\":\"$2\",\"DECISION\":\"grow\",\"ACTION\":\"move\"}" \
    "{\"VM\":\"$2\",\"LATENCY_MS\":\"40\"}" >>"$(cat "$sock.log")"
  jq -n --arg vm "$2" --arg args "$args" '{vm: $vm, agent: {state: "connected", age_ms: 100,
    oom_kill_count: 0}, actuator: (if ($args | test("--actuator")) then {kind: "both",
    vmem_size_bytes: 6291456, vmem_requested_bytes: 8388608, vmem_max_bytes: 134217728,
    vmem_block_bytes: 2097152, vmem_state: "converged"} else null end)}'
  ;;
*) exit 2 ;;
esac
EOF
cat >"$stub/bin/ballast-ksm-drive" <<'EOF'
#!/usr/bin/env bash
exec -a "$STUB_TMP/stub-drive" sleep 600
EOF
chmod 755 "$stub/bin/"* "$tmp/path/"*

works_before=$(find /tmp -maxdepth 1 -name 'ballast-density-??????' | sort)
rc=0
PATH=$tmp/path:$PATH BALLAST_KSM_SYSFS=$tmp/ksm BENCH_DENSITY_LOCK=$tmp/lock \
  BENCH_DENSITY_TIMES="idle=1 period=5 after=1 main_hold=1 pack_hold=1 rounds=1 gap=1" \
  "$src/scripts/bench-density" --build-dir "$stub" --only g --no-pack --guests 2 \
  --data "$tmp/data" --out "$tmp/doc/density.md" --plot "$tmp/doc/density.png" \
  >"$tmp/run.log" 2>&1 || rc=$?
cat "$tmp/run.log"
((rc == 0)) || fail "scripts/bench-density exited $rc"

# The fleet of (g), under a managing ballastd.
[[ $(cat "$tmp/fleet-starts") == *"--workload spike:"*" --actuator both --thp" ]] ||
  fail "fleet started with: $(cat "$tmp/fleet-starts")"
# The default --cache 64: every guest leaves 64 MiB of page cache on an 80 MiB disk.
[[ $(cat "$tmp/fleet-starts") == *"--workload spike:"*",cache=64M --disk 80 --actuator both --thp" ]] ||
  fail "fleet started without the page cache workload: $(cat "$tmp/fleet-starts")"
grep -q '^Fleet: 2 guests x 256 MiB; .*each guest leaves 64 MiB of page cache after every burst' \
  "$tmp/doc/density.md" || fail "report's fleet line: $(grep '^Fleet:' "$tmp/doc/density.md")"
[[ $(cat "$tmp/ballastd-configs") == conf-default ]] || fail "ballastd configs: $(cat "$tmp/ballastd-configs")"
# Its row: 2 devices at 6 of 8 MiB, 4 MiB of THP each read --fresh, 2 growths of 40 ms.
jq -e '.strategy == "g" and .main.fleet_args == "--actuator both --thp" and .main.vmem_boot_mib == 128
  and .main.idle_vmem_plugged_kib == 12288 and .main.idle_vmem_requested_kib == 16384
  and .main.idle_vmem_vms == 2 and .main.idle_thp_kib == 8192 and .main.idle_cost_vms == 2
  and .main.growths == 2 and .main.growth_latency_median_ms == 40 and (.main.host_thp | type) == "string"
  and (.pack == null)' "$tmp/data/results.jsonl" >/dev/null ||
  fail "row: $(jq -c .main "$tmp/data/results.jsonl")"
[[ $(wc -l <"$tmp/data/explain-g-idle.jsonl") -eq 2 ]] || fail "explain-g-idle.jsonl: $(cat "$tmp/data/explain-g-idle.jsonl")"
grep -q '^| (g) ballast, virtio-mem beside the balloon, THP on | q35, 128 MiB at boot + 128 MiB virtio-mem, balloon | on (host: [a-z]*) | [0-9-]* | - | 6 of 8 | 4 | 2: 40 / 40 ms |$' \
  "$tmp/doc/density.md" || fail "report: $(grep -F '| (g)' "$tmp/doc/density.md")"
echo "ok: (g) started --actuator both --thp under ballastd's default config; row and report carry its figures"

# Nothing left: no stand-in process, no work directory, KSM as it was.
if pgrep -f -- "$tmp/" >/dev/null; then fail "processes left: $(pgrep -af -- "$tmp/")"; fi
works_after=$(find /tmp -maxdepth 1 -name 'ballast-density-??????' | sort)
[[ $works_after == "$works_before" ]] || fail "work directory left: $(comm -13 <(echo "$works_before") <(echo "$works_after"))"
for f in run pages_to_scan sleep_millisecs use_zero_pages; do
  [[ $(cat "$tmp/ksm/$f") == 7 ]] || fail "ksm/$f not restored: $(cat "$tmp/ksm/$f")"
done
echo "ok: nothing left behind, KSM settings restored"
