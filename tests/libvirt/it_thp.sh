#!/usr/bin/env bash
# integration.libvirt.thp: ballast-qemu, the <emulator> wrapper that starts
# QEMU with transparent huge pages disabled, against a private libvirtd.
# Two q35 guests from docs/examples/ballast-q35.xml: one with libvirt's
# default emulator, one with <emulator> = ballast-qemu. Checks:
#   wrapper   the wrapped QEMU runs with THP_enabled 0 (/proc/PID/status),
#             holds no AnonHugePages, and libvirt manages it like any other
#             (it booted; `virsh setmem` moves its balloon);
#   plain     on a host whose THP mode is not "never", the default QEMU has
#             THP_enabled 1 (QEMU madvises guest RAM for huge pages);
#   returned  after both balloons are inflated to half, the wrapped QEMU's
#             resident memory is lower than the plain one's by at least a
#             quarter of the guest's RAM when the plain one holds huge pages:
#             a ballooned 4 KiB page inside a huge page returns nothing.
# The numbers are logged; docs/libvirt.md quotes a measured run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lv_setup

wrapper=$build/bin/ballast-qemu
[[ -x $wrapper ]] || skip "$wrapper not built"
install -o libvirt-qemu -m 755 "$wrapper" "$lvdir/images/ballast-qemu"
thp_mode=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true)
log "host THP mode: ${thp_mode:-unknown}"

plain=$tag-plain
wrapped=$tag-wrapped
v define "$(lv_domain_xml ballast-q35 "$plain" 1)" >/dev/null
xml=$(lv_domain_xml ballast-q35 "$wrapped" 1)
sed -i "s|<devices>|<devices>\n    <emulator>$lvdir/images/ballast-qemu</emulator>|" "$xml"
v define "$xml" >/dev/null

lv_cleanup_extra() {
  v destroy "$plain" >/dev/null 2>&1
  v destroy "$wrapped" >/dev/null 2>&1
}

qemu_pid() { pgrep -f "guest=$1," | head -n 1; }
status_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
rollup_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/smaps_rollup"; }

v start "$plain" >/dev/null
v start "$wrapped" >/dev/null
wait_ready "$plain" 120 || fail "plain guest never printed its ready marker"
wait_ready "$wrapped" 120 || fail "wrapped guest never printed its ready marker"
ppid=$(qemu_pid "$plain")
wpid=$(qemu_pid "$wrapped")
[[ -n $ppid && -n $wpid ]] || { fail "QEMU pids not found (plain '$ppid', wrapped '$wpid')"; exit 1; }
[[ $(tr '\0' '\n' <"/proc/$wpid/cmdline" | head -n 1) == */ballast-qemu || \
   $(readlink "/proc/$wpid/exe") == *qemu-system* ]] || fail "wrapped guest's process is not QEMU"

wthp=$(status_field "$wpid" THP_enabled)
pthp=$(status_field "$ppid" THP_enabled)
if [[ $wthp == 0 ]]; then ok "wrapper: THP_enabled $wthp"; else fail "wrapper: THP_enabled '$wthp', expected 0"; fi
if [[ -n $thp_mode && $thp_mode != never ]]; then
  if [[ $pthp == 1 ]]; then ok "plain: THP_enabled $pthp"; else fail "plain: THP_enabled '$pthp', expected 1"; fi
else
  echo "SKIP (part): host THP mode '${thp_mode:-unknown}': the plain guest cannot show huge pages" >&2
fi

# Inflate both balloons to half and let the guests give the pages.
mem_kib=$(v dominfo "$plain" | awk '/^Max memory/ {print $3}')
half_kib=$((mem_kib / 2))
v setmem "$plain" "$half_kib" --live
v setmem "$wrapped" "$half_kib" --live
for _ in $(seq 1 60); do
  pa=$(v dommemstat "$plain" | awk '$1 == "actual" {print $2}')
  wa=$(v dommemstat "$wrapped" | awk '$1 == "actual" {print $2}')
  ((pa <= half_kib + 1024 && wa <= half_kib + 1024)) && break
  sleep 1
done
if ((wa <= half_kib + 1024)); then
  ok "wrapper: balloon at ${wa} KiB (asked $half_kib)"
else
  fail "wrapper: balloon stuck at ${wa} KiB (asked $half_kib)"
fi
sleep 3
prss=$(rollup_kib "$ppid" Rss)
wrss=$(rollup_kib "$wpid" Rss)
pahp=$(rollup_kib "$ppid" AnonHugePages)
wahp=$(rollup_kib "$wpid" AnonHugePages)
log "guest RAM ${mem_kib} KiB, balloon $half_kib KiB: plain Rss $prss KiB (AnonHugePages $pahp), wrapped Rss $wrss KiB (AnonHugePages $wahp)"
log "vmstat: $(grep -E '^thp_(split_pmd|deferred_split_page|split_page) ' /proc/vmstat | tr '\n' ' ')"
if [[ $wahp == 0 ]]; then ok "wrapper: no AnonHugePages"; else fail "wrapper: AnonHugePages $wahp KiB"; fi
if ((pahp > mem_kib / 4)); then
  if ((prss - wrss >= mem_kib / 4)); then
    ok "returned: wrapped QEMU holds $(((prss - wrss) / 1024)) MiB less than plain"
  else
    fail "returned: wrapped Rss $wrss KiB vs plain $prss KiB: the wrapper returned no more"
  fi
else
  echo "SKIP (part): the plain QEMU holds only $pahp KiB of huge pages: nothing to compare" >&2
fi

((fails == 0)) || exit 1
