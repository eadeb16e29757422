#!/usr/bin/env bash
# integration.soak.stub: scripts/soak itself, end to end, without a guest:
# its build directory is a stand-in whose ballast-fleet starts one fake guest
# (tools/fake_fleet.c) per `start` instead of a QEMU, and whose ballastd,
# ballastctl and fake-fleet are the real ones. `--guests 3 --minutes 2 --seed
# 11` injects kill-ballastd, kill-qemu (the fake-fleet process; relaunched),
# a host hog capped at 64 MiB and the hostile agent. It must pass, with 4
# faults, 6 recovery checks all recovered, a relaunch, and leave nothing
# behind: no temp dir, no fake-fleet process. What it cannot cover: real
# guests, workloads and the foreign balloon's second QMP monitor (seed 11 has
# none), which integration.soak.short does on real guests.
set -euo pipefail
build=${BALLAST_BUILD_DIR:?run under ctest (BALLAST_BUILD_DIR)}
src=${BALLAST_SOURCE_DIR:?run under ctest (BALLAST_SOURCE_DIR)}
for b in bin/ballastd bin/ballastctl bin/ballast-fleet tests/fake-fleet; do
  [[ -x $build/$b ]] || { echo "SKIPPED: $build/$b not built" >&2; exit 77; }
done
command -v jq >/dev/null || { echo "SKIPPED: jq not installed" >&2; exit 77; }
tmp=$(mktemp -d /tmp/ballast-soak-stub-XXXXXX)
# A fake guest the soak failed to stop is found by the unique temp path in its
# command line and stopped by its PID.
stop_left() { local p; for p in $(pgrep -f -- "$tmp/"); do kill -9 "$p" 2>/dev/null; done; }
trap 'stop_left; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
stub=$tmp/build
mkdir -p "$stub/bin" "$stub/tests" "$stub/guest" "$tmp/tmp"
touch "$stub/guest/vmlinuz" "$stub/guest/initramfs.cpio.gz"
ln -s "$build/bin/ballastd" "$build/bin/ballastctl" "$stub/bin/"
ln -s "$build/tests/fake-fleet" "$stub/tests/"
# ballast-fleet's `path` is the real one; start and stop drive a fake guest.
cat >"$stub/bin/ballast-fleet" <<EOF
#!/usr/bin/env bash
cmd=\$1
shift
case \$cmd in
path) exec "$build/bin/ballast-fleet" path "\$@" ;;
start)
  state= prefix=vm
  while ((\$#)); do
    case \$1 in
    --state) state=\$2; shift 2 ;;
    --name-prefix) prefix=\$2; shift 2 ;;
    --count | --memory | --workload | --qemu | --timeout) shift 2 ;;
    *) shift ;;
    esac
  done
  mkdir -p "\$state"
  rm -f "\$state/in.fifo"
  mkfifo "\$state/in.fifo" # fake-fleet ends at EOF on stdin: it holds both ends
  setsid "$build/tests/fake-fleet" "\$state" 1 --memory 256 --used 64 0<>"\$state/in.fifo" \\
    >"\$state/fake.log" 2>&1 &
  for _ in \$(seq 50); do [[ -S \$state/fake0/agent.sock ]] && break; sleep 0.1; done
  ln -sfn fake0 "\$state/\${prefix}0"
  echo '{"accel": "stub"}' >"\$state/fleet.json"
  ;;
stop)
  state=\$2
  [[ -f \$state/fake0/pid ]] && kill -9 "\$(cat "\$state/fake0/pid")" 2>/dev/null
  rm -rf "\$state/fake0" "\$state"/*_0 "\$state/fleet.json" "\$state/in.fifo"
  ;;
esac
exit 0
EOF
chmod 755 "$stub/bin/ballast-fleet"

rc=0
TMPDIR=$tmp/tmp "$src/scripts/soak" --guests 3 --minutes 2 --seed 11 --build-dir "$stub" \
  --hog-cap-mib 64 --data "$tmp/data" --out "$tmp/summary.json" >"$tmp/soak.log" 2>&1 || rc=$?
grep -v '^ballastd-Message' "$tmp/soak.log" || true
((rc == 0)) || fail "scripts/soak exited $rc"
jq -e '.passed and (.faults | length == 4) and (.recoveries | length == 6)
  and ([.recoveries[] | select(.recovered_s != null)] | length == 6)' "$tmp/summary.json" >/dev/null ||
  fail "summary: $(jq -c '{passed, faults: [.faults[].kind], recoveries}' "$tmp/summary.json")"
jq -s -e 'any(.[]; .event == "guest-up")' "$tmp/data/events.jsonl" >/dev/null || fail "no relaunch recorded"
echo "ok: $(jq -c '[.recoveries[] | {check, recovered_s}]' "$tmp/summary.json")"
left=$(find "$tmp/tmp" -mindepth 1 | head -3)
[[ -z $left ]] || fail "left behind: $left"
if pgrep -f -- "$tmp/" >/dev/null; then fail "processes left: $(pgrep -af -- "$tmp/")"; fi
echo "ok: nothing left behind"
