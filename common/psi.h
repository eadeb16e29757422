/*
 * Pressure stall information (/proc/pressure/<resource>): the averages and
 * totals, and PSI triggers, which make the kernel wake a poll() the moment
 * tasks have stalled for more than a threshold within a window. The guest
 * agent uses both for memory; ballastd reads the host's own pressure.
 */
#ifndef BALLAST_PSI_H
#define BALLAST_PSI_H

#include <stddef.h>
#include <stdint.h>

struct psi_line {
    uint32_t avg10_bp; /* basis points: 1/100 of a percent, 0..10000 */
    uint32_t avg60_bp;
    uint32_t avg300_bp;
    uint64_t total_us; /* cumulative stall time */
};

#define PSI_HAS_SOME (1u << 0)
#define PSI_HAS_FULL (1u << 1)

struct psi {
    struct psi_line some;
    struct psi_line full;
    uint32_t valid; /* PSI_HAS_* */
};

/* Parses pressure text. Returns 0, or -ENODATA when no line was valid. */
int psi_parse(const char *text, size_t len, struct psi *out);

/* Reads an open pressure file again. */
int psi_read_fd(int fd, struct psi *out);

/* Reads PROC_ROOT/pressure/RESOURCE ("memory", "cpu", "io"). */
int psi_read(const char *proc_root, const char *resource, struct psi *out);

/*
 * Opens a PSI trigger on PROC_ROOT/pressure/RESOURCE: poll() reports POLLPRI
 * once "some" (full = 0) or "full" tasks stalled threshold_us within
 * window_us. Returns the fd (O_NONBLOCK; keep it open: closing drops the
 * trigger) or -errno (-EINVAL for limits the kernel refuses, -ENOENT
 * without PSI, -EOPNOTSUPP when psi=0 on the kernel command line or the
 * file is not on procfs/cgroupfs, e.g. a test fixture). Without
 * CAP_SYS_RESOURCE the kernel wants a window that is a multiple of 2 s; the
 * window is then rounded up and the threshold scaled to keep the ratio.
 */
int psi_trigger_open(const char *proc_root, const char *resource, int full, uint32_t threshold_us,
                     uint32_t window_us);

#endif
