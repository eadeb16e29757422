/*
 * ballast-qemu: QEMU without transparent huge pages, for libvirt's <emulator>.
 *
 * Why: QEMU madvises guest RAM MADV_HUGEPAGE, so on a host whose THP mode is
 * "always" or "madvise" (Debian's kernels: always) guest RAM sits in 2 MiB
 * pages. A balloon inflates 4 KiB at a time; the kernel then only unmaps the
 * 4 KiB inside the huge page (thp_split_pmd) and queues the huge page for a
 * deferred split that runs under memory pressure — the host gets nothing back
 * until it is already short, and KSM cannot merge inside huge pages either.
 * The fleet launcher sets PR_SET_THP_DISABLE before it execs QEMU; libvirt has
 * no such switch, but it execs whatever <emulator> names. This program sets
 * the flag (inherited across execve and fork) and execs the real QEMU with the
 * same arguments, so libvirt's capability probing and every domain see plain
 * QEMU. docs/libvirt.md has the numbers.
 *
 * The real QEMU: $BALLAST_QEMU if set (tests; libvirt clears the environment
 * of the processes it starts, so it is not a knob for domains), else the
 * compiled-in BALLAST_REAL_QEMU (/usr/bin/qemu-system-x86_64).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef BALLAST_REAL_QEMU
#define BALLAST_REAL_QEMU "/usr/bin/qemu-system-x86_64"
#endif

int main(int argc, char **argv)
{
    (void)argc;
    const char *real = getenv("BALLAST_QEMU");
    if (!real || !real[0])
        real = BALLAST_REAL_QEMU;
    if (real[0] != '/') {
        fprintf(stderr, "ballast-qemu: BALLAST_QEMU must be an absolute path, got '%s'\n", real);
        return 127;
    }
    /* Without the flag this program would be a silent no-op: refuse to run. */
    if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) {
        fprintf(stderr, "ballast-qemu: prctl(PR_SET_THP_DISABLE): %s\n", strerror(errno));
        return 126;
    }
    argv[0] = (char *)real;
    execv(real, argv);
    fprintf(stderr, "ballast-qemu: cannot run %s: %s\n", real, strerror(errno));
    return 127;
}
