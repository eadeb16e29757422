#!/usr/bin/env python3
"""thp_held.py PID RAM_KIB: what a QEMU's guest RAM really holds of host memory.

Rss undercounts a THP-backed guest after ballooning: inflating a 4 KiB page
inside a huge page unmaps it (the PMD is split into PTEs) but the 2 MiB
compound page stays allocated, on the deferred-split queue, until the kernel
splits it under memory pressure. This walks /proc/PID/pagemap over the
anonymous read-write mappings of RAM_KIB to RAM_KIB + 2 MiB (the guest RAM;
not TCG's code buffer, which is executable) and /proc/kpageflags
for each present page (root only), and counts what is held:
  a page of a THP holds its whole 2 MiB compound page (counted once),
  any other present page holds 4 KiB, the shared zero page holds nothing.
Prints one line: mapped_kib thp_pages held_kib
"""
import struct
import sys

PAGE = 4096
KPF_THP = 1 << 22
KPF_ZERO_PAGE = 1 << 24
PM_PRESENT = 1 << 63
PFN_MASK = (1 << 55) - 1
THP_PAGES = 512


def ram_ranges(pid, ram_kib):
    """Yield (start, end) of the anonymous rw mappings the size of guest RAM."""
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            path = fields[5] if len(fields) > 5 else ""
            size_kib = (end - start) // 1024
            if path == "" and fields[1].startswith("rw-") and ram_kib <= size_kib <= ram_kib + 2048:
                yield start, end


def held(pid, ram_kib):
    mapped = 0
    small = 0
    heads = set()
    with open(f"/proc/{pid}/pagemap", "rb") as pm, open("/proc/kpageflags", "rb") as kf:
        for start, end in ram_ranges(pid, ram_kib):
            pm.seek(start // PAGE * 8)
            data = pm.read((end - start) // PAGE * 8)
            for (entry,) in struct.iter_unpack("<Q", data):
                if not entry & PM_PRESENT:
                    continue
                pfn = entry & PFN_MASK
                if pfn == 0:
                    sys.exit("thp_held: PFNs are hidden (run as root)")
                kf.seek(pfn * 8)
                (flags,) = struct.unpack("<Q", kf.read(8))
                if flags & KPF_ZERO_PAGE:
                    continue
                mapped += 1
                if flags & KPF_THP:
                    heads.add(pfn - pfn % THP_PAGES)
                else:
                    small += 1
    return mapped * 4, len(heads), small * 4 + len(heads) * THP_PAGES * 4


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: thp_held.py PID RAM_KIB")
    mapped_kib, thps, held_kib = held(int(sys.argv[1]), int(sys.argv[2]))
    print(mapped_kib, thps, held_kib)


if __name__ == "__main__":
    main()
