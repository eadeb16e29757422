/*
 * Whether a QEMU process's guest RAM may sit in transparent huge pages: the
 * host's mode (/sys/kernel/mm/transparent_hugepage/enabled) and the
 * process's own switch (prctl PR_SET_THP_DISABLE, shown as "THP_enabled:"
 * in /proc/PID/status). QEMU madvises guest RAM MADV_HUGEPAGE, so "madvise"
 * counts as on. Why it matters: a ballooned 4 KiB page inside a 2 MiB huge
 * page returns nothing to the host until the kernel splits the page under
 * pressure (docs/virtio-mem.md), so the actuator plan (host/policy/
 * actuator.h, rule 4) keeps the balloon out of sub-block steps there.
 * Roots are parameters: tests feed fixture trees.
 */
#ifndef BALLAST_THP_MODE_H
#define BALLAST_THP_MODE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum thp_mode {
    THP_MODE_NEVER = 0,
    THP_MODE_MADVISE,
    THP_MODE_ALWAYS,
};

/* The bracketed word of "always [madvise] never"; -EINVAL when there is
 * none, more than one, or an unknown one. */
int thp_parse_mode(const char *text, size_t len, enum thp_mode *out);

/* The "THP_enabled:" line of a /proc/PID/status text: 0 or 1 into *out;
 * -ENOENT without the line (kernels before 5.0), -EINVAL for another value. */
int thp_parse_status(const char *text, size_t len, bool *out);

/* Both, read under proc_root ("/proc") and sys_root ("/sys"): *out true
 * when pid's guest RAM may be THP-backed. A kernel without the status line
 * counts as on unless the mode is never. Returns 0 or -errno. */
int thp_process_backed(const char *proc_root, const char *sys_root, pid_t pid, bool *out);

#endif
