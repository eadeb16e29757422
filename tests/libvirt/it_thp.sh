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
#   returned  both balloons inflated to half, what each guest's RAM holds of
#             host memory is counted page by page (thp_held.py: pagemap and
#             kpageflags; a page of a huge page holds its whole 2 MiB): when
#             the plain guest's huge pages hold at least an eighth of its RAM
#             beyond what is mapped (a ballooned 4 KiB page inside a huge page
#             returns nothing until the kernel splits it under pressure), the
#             wrapped guest must hold at least that much less. If the kernel
#             has already split them, that part is skipped loudly.
# The numbers are logged; docs/libvirt.md quotes a measured run.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
lv_setup

wrapper=$build/bin/ballast-qemu
[[ -x $wrapper ]] || skip "$wrapper not built"
install -o libvirt-qemu -m 755 "$wrapper" "$lvdir/images/ballast-qemu"
thp_mode=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true)
log "host THP mode: ${thp_mode:-unknown}"

plain=$tag-plain
wrapped=$tag-wrapped
# Free page reporting off (libvirt's default): the balloon alone must return
# what the guest does not use. With it on, the guest has already handed back
# its free 2 MiB blocks whole, and the balloon mostly lands on pages that
# hold nothing (measured: docs/libvirt.md).
fpr=${BALLAST_THP_FPR:-off}
xml=$(lv_domain_xml ballast-q35 "$plain" 1)
sed -i "s|freePageReporting='on'|freePageReporting='$fpr'|" "$xml"
v define "$xml" >/dev/null
xml=$(lv_domain_xml ballast-q35 "$wrapped" 1)
sed -i "s|<devices>|<devices>\n    <emulator>$lvdir/images/ballast-qemu</emulator>|; s|freePageReporting='on'|freePageReporting='$fpr'|" "$xml"
v define "$xml" >/dev/null
log "free page reporting: $fpr"

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

# Both balloons to half, then what each guest's RAM really holds. Not the
# process's Rss: a ballooned 4 KiB page inside a huge page leaves Rss (the
# PMD is split into PTEs, thp_split_pmd) but the huge page stays allocated on
# the deferred-split queue until the host runs short. Nor the rise of
# MemAvailable when a guest is destroyed: the other guest moves it by tens of
# MiB meanwhile.
mem_kib=$(v dominfo "$plain" | awk '/^Max memory/ {print $3}')
half_kib=$((mem_kib / 2))
actual_kib() { v dommemstat "$1" | awk '$1 == "actual" {print $2}'; }
vmstat() { awk -v k="$1" '$1 == k {print $2}' /proc/vmstat; }
split0=$(vmstat thp_deferred_split_page)
split_p0=$(vmstat thp_split_page)
v setmem "$plain" "$half_kib" --live
v setmem "$wrapped" "$half_kib" --live
for name in "$plain" "$wrapped"; do
  for _ in $(seq 1 60); do
    a=$(actual_kib "$name")
    ((a <= half_kib + 1024)) && break
    sleep 1
  done
  if ((a <= half_kib + 1024)); then ok "$name: balloon at $a KiB (asked $half_kib)"; else
    fail "$name: balloon stuck at $a KiB (asked $half_kib)"; fi
done
sleep 5
split1=$(vmstat thp_deferred_split_page)
pahp=$(rollup_kib "$ppid" AnonHugePages)
wahp=$(rollup_kib "$wpid" AnonHugePages)
prss=$(rollup_kib "$ppid" Rss)
wrss=$(rollup_kib "$wpid" Rss)
if [[ $wahp == 0 ]]; then ok "wrapper: no AnonHugePages"; else fail "wrapper: AnonHugePages $wahp KiB"; fi
read -r pmap pthps pheld < <(python3 "$here/thp_held.py" "$ppid" "$mem_kib")
read -r wmap wthps wheld < <(python3 "$here/thp_held.py" "$wpid" "$mem_kib")
log "guest RAM held, page by page: plain mapped $pmap KiB in $pthps huge pages and 4 KiB pages," \
  "holds $pheld KiB; wrapped mapped $wmap KiB in $wthps huge pages, holds $wheld KiB"
((pmap > 0 && wmap > 0)) || fail "no guest RAM mapping of $mem_kib KiB found in the QEMUs' maps"
if ((wthps == 0)); then ok "wrapper: guest RAM in no huge page"; else
  fail "wrapper: guest RAM in $wthps huge pages"; fi
split_done=$(vmstat thp_split_page)
log "guest RAM $mem_kib KiB, balloons at $half_kib KiB ($((split1 - split0)) huge pages queued" \
  "for a deferred split meanwhile, $((split_done - split_p0)) split by the kernel since the start):" \
  "plain Rss $prss KiB, AnonHugePages $pahp; wrapped Rss $wrss KiB, AnonHugePages $wahp"
if ((pheld - pmap >= mem_kib / 8)); then
  if ((pheld - wheld >= mem_kib / 8)); then
    ok "returned: the wrapped guest holds $(((pheld - wheld) / 1024)) MiB less host memory" \
      "(plain: $(((pheld - pmap) / 1024)) MiB held in huge pages beyond what is mapped)"
  else
    fail "returned: wrapped guest holds $wheld KiB, plain $pheld KiB"
  fi
else
  echo "SKIP (part): the plain QEMU's huge pages hold only $((pheld - pmap)) KiB beyond what is" \
    "mapped (the kernel split $((split_done - split_p0)) huge pages since the start): nothing to compare" >&2
fi

((fails == 0)) || exit 1
