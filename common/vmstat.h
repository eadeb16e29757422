/*
 * /proc/vmstat reader: the reclaim and fault counters a memory report needs.
 * Counters are cumulative since boot; consumers diff them between reports.
 */
#ifndef BALLAST_VMSTAT_H
#define BALLAST_VMSTAT_H

#include <stdint.h>

enum vmstat_field {
    VMSTAT_PGMAJFAULT, /* major faults: refaults from disk/swap, a thrashing sign */
    VMSTAT_PGSCAN,     /* pages scanned by reclaim: kswapd + direct + khugepaged + proactive */
    VMSTAT_PGSTEAL,    /* pages reclaimed, same sources */
    VMSTAT_OOM_KILL,   /* OOM kills */
    VMSTAT_FIELD_COUNT
};
#define VMSTAT_HAS(vs, field) (((vs)->valid >> (field)) & 1u)

struct vmstat {
    uint64_t count[VMSTAT_FIELD_COUNT];
    uint32_t valid;
};

/* Reads an open /proc/vmstat again. Returns 0, -ENODATA or -errno. */
int vmstat_read_fd(int fd, struct vmstat *out);

/* Reads PROC_ROOT/vmstat. */
int vmstat_read(const char *proc_root, struct vmstat *out);

#endif
