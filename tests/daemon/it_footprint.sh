#!/usr/bin/env bash
# integration.daemon.footprint: ballastd's own memory, earlyoom-style. One
# ballastd on an empty fleet, one managing 64 fake guests (tests/daemon
# tools/fake_fleet.c: real QMP and agent sockets, a REPORT per guest per second,
# no QEMU), both with a 1 s tick. Once the 64 are managed (QMP and agent
# connected, decided at least once) and five more ticks ran, the private
# anonymous memory of each (smaps_rollup "Anonymous": heap, stacks and the
# relocated data of its libraries, i.e. what the process itself dirtied) is
# read three times. Fails when a guest costs more than PER_VM_KIB or the
# whole passes MAX_KIB. Anonymous rather than Private_Clean + Private_Dirty:
# clean library pages count as "private" only while no other process maps
# them, and a freshly linked binary's page-cache pages are dirty until
# written back - neither is ballastd's doing. USS is printed too.
#
# Then the metrics phase: metrics_listen is set and a SIGHUP starts the
# Prometheus listener; /metrics is scraped once a second (a scrape interval
# far tighter than Prometheus' default 15 s) while the same memory is read
# again and must hold the same bounds. ballastd's CPU per tick (utime +
# stime over 10 ticks, /proc/PID/stat) is printed for both phases.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
fake=$build/tests/fake-fleet
[[ -x $fake ]] || skip "fake-fleet not built"
# ASan's shadow memory and quarantine make a sanitizer build's figures meaningless.
if grep -q __asan_init "$bin/ballastd" 2>/dev/null; then
  skip "ballastd is built with AddressSanitizer: its memory says nothing about ballastd's"
fi
n=64
per_vm_kib=${PER_VM_KIB:-16}
max_kib=${MAX_KIB:-2048} # the target: 64 guests in about 2 MiB

printf '[ballastd]\ntick_interval_ms = 1000\nksm_mode = observe\n' >"$conf/ballastd.conf"
mkdir -p "$state/empty" "$state/fleet"

anon_kib() { awk '/^Anonymous:/ {print $2}' "/proc/$1/smaps_rollup"; }
uss_kib() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$1/smaps_rollup"; }
ticks() { "$bin/ballastctl" --socket "$1" --json status | jq '.host.ticks'; }
# The largest of three samples a second apart: a reading between two frees
# is not a leak, but the test should see the worst of the steady state.
sample() {
  local best=0 v
  for _ in 1 2 3; do
    v=$(anon_kib "$1")
    ((v > best)) && best=$v
    sleep 1
  done
  echo "$best"
}

"$bin/ballastd" --fleet "$state/empty" --socket "$state/empty.sock" --config-dir "$conf" \
  >"$state/empty.log" 2>&1 &
empty_pid=$!
extra_pids+=("$empty_pid")
wait_for 10 "$bin/ballastctl" --socket "$state/empty.sock" ping || fail "empty ballastd did not start"

coproc FAKE { exec "$fake" "$state/fleet" "$n" --memory 256 --used 64 --report-ms 1000; }
extra_pids+=("$FAKE_PID")
if ! read -r -t 10 line <&"${FAKE[0]}" || [[ $line != ready ]]; then
  fail "fake fleet did not start"
fi
"$bin/ballastd" --fleet "$state/fleet" --socket "$state/ctl.sock" --config-dir "$conf" \
  >"$state/ballastd.log" 2>&1 &
daemon_pid=$!
wait_for 10 ctl ping || fail "ballastd did not answer on its control socket"

managed() {
  status_json | jq -e --argjson n "$n" '
    [.vms[] | select(.qmp == "connected" and .agent == "connected" and .mode == "managed")]
    | length == $n'
}
wait_for 60 managed || { status_json | jq -c '.vms[0]' >&2; fail "the $n fake guests were not all managed"; }
t0=$(ticks "$state/ctl.sock")
ticked() { (($(ticks "$state/ctl.sock") >= t0 + 5)); }
wait_for 30 ticked || fail "ballastd does not tick"

base=$(sample "$empty_pid")
full=$(sample "$daemon_pid")
per_vm=$(((full - base) / n))
echo "ballastd anonymous memory: $base KiB with no guest, $full KiB with $n (${per_vm} KiB a guest)"
echo "  USS (Private_Clean + Private_Dirty): $(uss_kib "$daemon_pid") KiB, threads $(awk '/^Threads:/ {print $2}' "/proc/$daemon_pid/status")"
awk '/^[0-9a-f]+-[0-9a-f]+ / {m = $6 ? $6 : "[anon]"} /^Anonymous:/ {a[m] += $2}
     END {for (k in a) if (a[k] >= 32) printf "  %6d KiB %s\n", a[k], k}' \
  "/proc/$daemon_pid/smaps" | sort -rn | head -8
((per_vm <= per_vm_kib)) || fail "a guest costs ballastd $per_vm KiB (> $per_vm_kib KiB)"
((full <= max_kib)) || fail "ballastd with $n guests uses $full KiB (> $max_kib KiB)"
ok "footprint: $full KiB with $n guests (<= $max_kib), $per_vm KiB a guest (<= $per_vm_kib)"

# CPU ms per tick over 10 ticks: utime + stime (clock ticks) of /proc/PID/stat.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_tick_ms() { # PID SOCKET [SCRAPE_URL]
  local c0 t0 c1 t1 hz
  hz=$(getconf CLK_TCK)
  c0=$(cpu_ticks "$1")
  t0=$(ticks "$2")
  for _ in $(seq 10); do
    [[ -n ${3:-} ]] && { curl -sf -o /dev/null "$3" || fail "scrape of $3 failed"; }
    sleep 1
  done
  c1=$(cpu_ticks "$1")
  t1=$(ticks "$2")
  awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v hz="$hz" 'BEGIN {printf "%.2f", t ? c * 1000 / hz / t : 0}'
}
off_ms=$(per_tick_ms "$daemon_pid" "$state/ctl.sock")
echo "ballastd CPU, metrics off: $off_ms ms a tick ($n guests reporting every second)"

# The metrics phase: the listener started by a SIGHUP, scraped every second.
command -v curl >/dev/null || skip "curl not installed: the metrics phase was not run (the figures above passed)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '[ballastd]\ntick_interval_ms = 1000\nksm_mode = observe\nmetrics_listen = 127.0.0.1:%s\n' \
  "$port" >"$conf/ballastd.conf"
kill -HUP "$daemon_pid"
wait_for 10 grep -q "metrics: serving http://127.0.0.1:$port/metrics" "$state/ballastd.log" ||
  fail "SIGHUP did not start the metrics listener"
on_ms=$(per_tick_ms "$daemon_pid" "$state/ctl.sock" "http://127.0.0.1:$port/metrics")
echo "ballastd CPU, metrics on and scraped every second: $on_ms ms a tick"
for _ in 1 2 3; do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"; done
full_on=$(sample "$daemon_pid")
echo "ballastd anonymous memory with metrics on: $full_on KiB with $n guests (metrics off: $full KiB)"
echo "  USS (Private_Clean + Private_Dirty): $(uss_kib "$daemon_pid") KiB"
per_vm_on=$(((full_on - base) / n))
((per_vm_on <= per_vm_kib)) || fail "with metrics on a guest costs ballastd $per_vm_on KiB (> $per_vm_kib KiB)"
((full_on <= max_kib)) || fail "ballastd with metrics on uses $full_on KiB (> $max_kib KiB)"
ok "footprint with metrics on: $full_on KiB (<= $max_kib), $per_vm_on KiB a guest; CPU $off_ms -> $on_ms ms a tick"
