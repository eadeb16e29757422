/*
 * /proc/meminfo reader: the fields ballast decides on, in bytes. Used by the
 * guest agent for its reports and by ballastd for the host's own state.
 * Hostile content is tolerated: a missing or garbled field is left out of
 * `valid`, never guessed; contradictions are clamped and flagged.
 */
#ifndef BALLAST_MEMINFO_H
#define BALLAST_MEMINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Bit numbers in meminfo.valid. The first eleven are numbered like the
 * protocol's REPORT fields (v1); the rest split the guest's used memory by
 * kind (REPORT v2, docs/protocol.md).
 */
enum meminfo_field {
    MEMINFO_TOTAL,
    MEMINFO_FREE,
    MEMINFO_AVAILABLE,
    MEMINFO_CACHED,
    MEMINFO_BUFFERS,
    MEMINFO_SWAP_TOTAL,
    MEMINFO_SWAP_FREE,
    MEMINFO_ACTIVE_FILE,
    MEMINFO_INACTIVE_FILE,
    MEMINFO_ACTIVE_ANON,
    MEMINFO_INACTIVE_ANON,
    MEMINFO_SHMEM,              /* Shmem: tmpfs (a tmpfs root), shared memory */
    MEMINFO_SLAB_RECLAIMABLE,   /* SReclaimable */
    MEMINFO_SLAB_UNRECLAIMABLE, /* SUnreclaim */
    MEMINFO_KERNEL_STACK,       /* KernelStack */
    MEMINFO_PAGE_TABLES,        /* PageTables */
    MEMINFO_VMALLOC_USED,       /* VmallocUsed (0 on Linux 4.4 to 5.2: not counted) */
    MEMINFO_FIELD_COUNT
};
#define MEMINFO_HAS(mi, field) (((mi)->valid >> (field)) & 1u)

struct meminfo {
    /* Indexed by enum meminfo_field. MemTotal shrinks while a balloon is inflated. */
    uint64_t bytes[MEMINFO_FIELD_COUNT];
    uint32_t valid;
    bool clamped; /* MemFree or MemAvailable exceeded MemTotal and was cut to it */
};

/* Parses meminfo text. Returns 0, or -ENODATA when no field was found. */
int meminfo_parse(const char *text, size_t len, struct meminfo *out);

/* Reads an open /proc/meminfo again (from offset 0). Returns 0 or -errno. */
int meminfo_read_fd(int fd, struct meminfo *out);

/* Reads PROC_ROOT/meminfo. Returns 0 or -errno (-ENODATA: nothing usable). */
int meminfo_read(const char *proc_root, struct meminfo *out);

#endif
