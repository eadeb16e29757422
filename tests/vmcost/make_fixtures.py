#!/usr/bin/env python3
"""Writes the synthetic /proc trees of tests/fixtures/vmcost-* (run from the source root).

    tests/vmcost/make_fixtures.py

The smaps text is laid out as the kernel prints it (fs/proc/task_mmu.c):
the header padded to column 73 before a path, 16-column keys and 8-column
values, in the field order of 5.15 (no KSM line) or 6.18 (KSM, Pss_Dirty).
tests/fixtures/vmcost-qemu/proc/4100 is not made here: it is a real QEMU's
smaps and status (a TCG microvm fleet guest, -m 256M, mem-merge=on, on a
6.18 host, eight guests sharing through KSM), captured once, its one
host path rewritten. test_read.c holds the figures each tree must give.
"""
import pathlib

KB = 1024

FIELDS_618 = ["Size", "KernelPageSize", "MMUPageSize", "Rss", "Pss", "Pss_Dirty",
              "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "Referenced",
              "Anonymous", "KSM", "LazyFree", "AnonHugePages", "ShmemPmdMapped",
              "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb", "Swap", "SwapPss", "Locked"]
FIELDS_515 = [f for f in FIELDS_618 if f not in ("KSM", "Pss_Dirty")]


class Maps:
    """Mappings laid out upward from a base address, as one smaps text."""

    def __init__(self, kernel="6.18", base=0x7F0000000000):
        self.fields = FIELDS_618 if kernel == "6.18" else FIELDS_515
        self.addr = base
        self.lines = []

    def map(self, size_kb, perms="rw-p", path="", rss=0, pss=None, anon=None, ksm=0, ahp=0,
            swap=0, flags="rd wr mr mw me ac", offset=0, dev="00:00", inode=0):
        start, end = self.addr, self.addr + size_kb * KB
        self.addr = end + 4 * KB  # a hole: the kernel would merge neighbours
        head = f"{start:x}-{end:x} {perms} {offset:08x} {dev} {inode} "
        self.lines.append(head.ljust(73) + path if path else head)
        pss = rss - ksm + ksm // 8 if pss is None else pss
        anon = (rss if not path or path.startswith("[") else 0) if anon is None else anon
        v = {"Size": size_kb, "KernelPageSize": 4, "MMUPageSize": 4, "Rss": rss, "Pss": pss,
             "Pss_Dirty": pss, "Shared_Dirty": ksm, "Private_Dirty": rss - ksm,
             "Referenced": rss, "Anonymous": anon, "KSM": ksm, "AnonHugePages": ahp,
             "Swap": swap}
        for f in self.fields:
            self.lines.append(f"{f + ':':<16}{v.get(f, 0):>8} kB")
        self.lines.append(f"{'THPeligible:':<16}{1 if 'hg' in flags else 0:>8}")
        self.lines.append(f"VmFlags: {flags} ")
        return self

    def qemu_common(self):
        """The binary, heap, a glibc arena, a thread stack, libc, the stack."""
        exe = "/usr/bin/qemu-system-x86_64"
        self.map(4124, "r--p", exe, rss=1272, pss=164, flags="rd mr mw me", dev="fe:00",
                 inode=10977370)
        self.map(5724, "r-xp", exe, rss=5012, pss=688, flags="rd ex mr mw me", offset=0x407000,
                 dev="fe:00", inode=10977370)
        self.map(3748, "rw-p", exe, rss=1216, pss=1212, offset=0xde3000, dev="fe:00",
                 inode=10977370)
        self.map(10344, "rw-p", "[heap]", rss=4292, pss=4292)
        self.map(4904, "rw-p", rss=4132, flags="rd wr mr mw me nr")
        self.map(60632, "---p", flags="mr mw me nr")
        self.map(8192, "rw-p", rss=20, flags="rd wr mr mw me ac nh")
        libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
        self.map(1620, "r-xp", libc, rss=1004, pss=49, flags="rd ex mr mw me", dev="fe:00",
                 inode=332835)
        self.map(132, "rw-p", "[stack]", rss=44, pss=44, flags="rd wr mr mw me gd ac")
        return self

    def text(self):
        return "\n".join(self.lines) + "\n"


def status(vm_rss_kb, vm_pte_kb, extra=""):
    return (f"Name:\tqemu-system-x86\nUmask:\t0027\nState:\tS (sleeping)\n"
            f"VmPeak:\t  636428 kB\nVmSize:\t  581260 kB\nVmRSS:\t{vm_rss_kb:>8} kB\n"
            f"RssAnon:\t  124612 kB\nVmPTE:\t{vm_pte_kb:>8} kB\nVmSwap:\t       0 kB\n"
            f"Threads:\t4\n{extra}")


def write(root, pid, smaps, status_text):
    d = pathlib.Path(root) / "proc" / str(pid)
    d.mkdir(parents=True, exist_ok=True)
    (d / "smaps").write_bytes(smaps.encode() if isinstance(smaps, str) else smaps)
    if status_text is not None:
        (d / "status").write_text(status_text)


def qemu_trees():
    root = "tests/fixtures/vmcost-qemu"
    # 4200: 5.15 (no KSM line), TCG pc guest of 160 MiB, mem-merge=off: a
    # 1 GiB rwx code buffer and the 16 MiB VGA RAM around the guest RAM.
    m = Maps("5.15").qemu_common()
    m.map(1048576, "rwxp", rss=30000, flags="rd wr ex mr mw me ac hg")  # TCG code_gen_buffer
    m.map(163840, "rw-p", rss=120000, ahp=40960, swap=2048, flags="rd wr mr mw me dc ac hg")
    m.map(16384, "rw-p", rss=900, flags="rd wr mr mw me dc ac")  # vga.vram
    m.map(256, "rw-p", rss=256, flags="rd wr mr mw me dc ac")  # pc.bios
    write(root, 4200, m.text(), status(168148, 620))
    # 4300: a 1 GiB guest, TCG: two anonymous 1 GiB rw mappings; the
    # mergeable one is guest RAM although the other has more resident.
    m = Maps().qemu_common()
    m.map(1048576, "rwxp", rss=50000, flags="rd wr ex mr mw me ac hg")
    m.map(1048576, "rw-p", rss=500000, flags="rd wr mr mw me ac nr")  # decoy
    m.map(1048576, "rw-p", rss=300000, ksm=100000, flags="rd wr mr mw me dc ac hg mg")
    write(root, 4300, m.text(), status(880000, 1900))
    # 4400: 160 MiB on two NUMA nodes (two backends, both mergeable), and a
    # 120000 kB anonymous decoy that would fill the sum first.
    m = Maps().qemu_common()
    m.map(120000, "rw-p", rss=60000, flags="rd wr mr mw me ac")
    m.map(81920, "rw-p", rss=40000, ksm=8000, flags="rd wr mr mw me dc ac hg mg")
    m.map(81920, "rw-p", rss=30000, ksm=2000, flags="rd wr mr mw me dc ac hg mg")
    m.map(16384, "rw-p", rss=900, flags="rd wr mr mw me dc ac")
    write(root, 4400, m.text(), status(150000, 700))
    # 4450: the same two nodes with mem-merge=off (no "mg"), no decoy: the
    # two biggest sum to the RAM; the VGA RAM is not taken.
    m = Maps().qemu_common()
    m.map(81920, "rw-p", rss=40000, flags="rd wr mr mw me dc ac hg")
    m.map(16384, "rw-p", rss=900, flags="rd wr mr mw me dc ac")
    m.map(81920, "rw-p", rss=30000, flags="rd wr mr mw me dc ac hg")
    write(root, 4450, m.text(), status(90000, 500))


def hostile_trees():
    root = "tests/fixtures/vmcost-hostile"
    # 5100: one good guest RAM mapping among garbage of every kind.
    good = Maps().map(163840, "rw-p", rss=1000, ksm=0, flags="rd wr mr mw me mg").lines
    lines = [
        "Rss:                 400 kB",  # a field before any header (1), a block without Size (3)
        "this is not smaps at all",  # garbage (2)
        "",  # blank: ignored
    ] + good + [
        "7f1000000000-7f1000400000 rw-p 00000000 00:00 0 ",
        "Size:                4096 kB",
        "Rss:     99999999999999999999 kB",  # over 64 bits (4)
        "Pss:    18014398509481984 kB",  # fits in kB, not in bytes (5)
        "Anonymous:            12",  # no unit (6)
        "Swap:                 12 MB",  # wrong unit (7)
        "AnonHugePages:       -4 kB",  # negative (8)
        "Future_Field:    whatever",  # unknown key: ignored
        "VmFlags: rd wr mr mw me ",
        "7f2000000000-zzzz rw-p 00000000 00:00 0 ",  # malformed header (9), own block
        "Size:                 512 kB",
        "Rss:                  512 kB",
        "7f3000000000-7f3000100000 rw-p 00000000 00:00 0 ",
        "Size:                1024 kB",
        "Rss:                   64 kB",
        "Size:              163840 kB",  # a second Size: a header was lost (10)
        "Rss:                 8192 kB",
        "Odd\x00Key:            1 kB",  # a NUL in a key (11)
        "7f4000000000-7f4000200000 rw-p 00000000 00:00 0 ",
        "Size:                2048 kB",
        "Rss:                   12",  # cut in the middle: no unit (12), no newline
    ]
    write(root, 5100, "\n".join(lines), "VmRSS:\t lots kB\nVmPTE:\t      24 kB\n")  # (13)
    # 5200: a header longer than the line buffer (skipped whole by the
    # scanner) before the guest RAM's fields: those are found by their second
    # Size, counted, and never taken for guest RAM.
    long_path = "/" + "x" * 9000
    m = Maps().map(163840, "rw-p", rss=2000, flags="rd wr mr mw me mg")
    m.lines[0] = m.lines[0].ljust(73) + long_path
    pre = Maps(base=0x7E0000000000).map(100, "rw-p", rss=100).lines
    write(root, 5200, "\n".join(pre + m.lines) + "\n", status(2100, 8))
    # 5300: an empty smaps (a kernel thread, a zombie) and no status.
    write(root, 5300, "", None)
    # 5400: the process directory without smaps (a kernel without
    # CONFIG_PROC_PAGE_MONITOR).
    (pathlib.Path(root) / "proc" / "5400").mkdir(parents=True, exist_ok=True)
    (pathlib.Path(root) / "proc" / "5400" / "status").write_text(status(10, 4))


if __name__ == "__main__":
    qemu_trees()
    hostile_trees()
