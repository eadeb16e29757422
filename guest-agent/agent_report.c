/* Sampling /proc into a REPORT payload; see agent.h. */
#include "agent.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t agent_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* /proc/meminfo field -> REPORT field: its valid_mask bit and its member. */
#define MEM(from, to, member)                                                                      \
    {                                                                                              \
        from, to, offsetof(struct proto_report, member)                                            \
    }
static const struct {
    uint8_t from; /* enum meminfo_field */
    uint8_t to;   /* enum proto_report_field */
    uint16_t offset;
} mem_fields[] = {
    MEM(MEMINFO_TOTAL, PROTO_R_MEM_TOTAL, mem_total_bytes),
    MEM(MEMINFO_FREE, PROTO_R_MEM_FREE, mem_free_bytes),
    MEM(MEMINFO_AVAILABLE, PROTO_R_MEM_AVAILABLE, mem_available_bytes),
    MEM(MEMINFO_CACHED, PROTO_R_CACHED, cached_bytes),
    MEM(MEMINFO_BUFFERS, PROTO_R_BUFFERS, buffers_bytes),
    MEM(MEMINFO_SWAP_TOTAL, PROTO_R_SWAP_TOTAL, swap_total_bytes),
    MEM(MEMINFO_SWAP_FREE, PROTO_R_SWAP_FREE, swap_free_bytes),
    MEM(MEMINFO_ACTIVE_FILE, PROTO_R_ACTIVE_FILE, active_file_bytes),
    MEM(MEMINFO_INACTIVE_FILE, PROTO_R_INACTIVE_FILE, inactive_file_bytes),
    MEM(MEMINFO_ACTIVE_ANON, PROTO_R_ACTIVE_ANON, active_anon_bytes),
    MEM(MEMINFO_INACTIVE_ANON, PROTO_R_INACTIVE_ANON, inactive_anon_bytes),
    /* v2: the used memory by kind */
    MEM(MEMINFO_SHMEM, PROTO_R_SHMEM, shmem_bytes),
    MEM(MEMINFO_SLAB_RECLAIMABLE, PROTO_R_SLAB_RECLAIMABLE, slab_reclaimable_bytes),
    MEM(MEMINFO_SLAB_UNRECLAIMABLE, PROTO_R_SLAB_UNRECLAIMABLE, slab_unreclaimable_bytes),
    MEM(MEMINFO_KERNEL_STACK, PROTO_R_KERNEL_STACK, kernel_stack_bytes),
    MEM(MEMINFO_PAGE_TABLES, PROTO_R_PAGE_TABLES, page_tables_bytes),
    MEM(MEMINFO_VMALLOC_USED, PROTO_R_VMALLOC_USED, vmalloc_used_bytes),
};
_Static_assert(sizeof(mem_fields) / sizeof(mem_fields[0]) == MEMINFO_FIELD_COUNT,
               "every meminfo field is reported");

void agent_fill_report(const struct meminfo *mi, const struct vmstat *vs, const struct psi *psi,
                       uint64_t timestamp_ns, uint64_t uptime_ms, struct proto_report *r)
{
    memset(r, 0, sizeof(*r));
    r->timestamp_ns = timestamp_ns;
    for (size_t i = 0; i < sizeof(mem_fields) / sizeof(mem_fields[0]); i++) {
        if (MEMINFO_HAS(mi, mem_fields[i].from)) {
            memcpy((char *)r + mem_fields[i].offset, &mi->bytes[mem_fields[i].from],
                   sizeof(uint64_t));
            r->valid_mask |= PROTO_R_BIT(mem_fields[i].to);
        }
    }
    if (psi->valid & PSI_HAS_SOME) {
        r->psi_some_avg10_bp = psi->some.avg10_bp;
        r->psi_some_avg60_bp = psi->some.avg60_bp;
        r->psi_some_total_us = psi->some.total_us;
        r->valid_mask |= PROTO_R_BIT(PROTO_R_PSI_SOME);
    }
    if (psi->valid & PSI_HAS_FULL) {
        r->psi_full_avg10_bp = psi->full.avg10_bp;
        r->psi_full_avg60_bp = psi->full.avg60_bp;
        r->psi_full_total_us = psi->full.total_us;
        r->valid_mask |= PROTO_R_BIT(PROTO_R_PSI_FULL);
    }
    static const struct {
        enum vmstat_field from;
        enum proto_report_field to;
    } counters[] = {
        {VMSTAT_PGMAJFAULT, PROTO_R_PGMAJFAULT},
        {VMSTAT_PGSCAN, PROTO_R_PGSCAN},
        {VMSTAT_PGSTEAL, PROTO_R_PGSTEAL},
        {VMSTAT_OOM_KILL, PROTO_R_OOM_KILL},
    };
    uint64_t *cdst[] = {&r->pgmajfault, &r->pgscan, &r->pgsteal, &r->oom_kill};
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        if (VMSTAT_HAS(vs, counters[i].from)) {
            *cdst[i] = vs->count[counters[i].from];
            r->valid_mask |= PROTO_R_BIT(counters[i].to);
        }
    }
    r->uptime_ms = uptime_ms;
    r->valid_mask |= PROTO_R_BIT(PROTO_R_UPTIME);
}

void agent_sample(struct agent *a, struct proto_report *out)
{
    struct meminfo mi;
    struct vmstat vs;
    struct psi psi;
    memset(&mi, 0, sizeof(mi));
    memset(&vs, 0, sizeof(vs));
    memset(&psi, 0, sizeof(psi));
    /* A failed read leaves its fields out of valid_mask: reported as unknown. */
    if (a->meminfo_fd >= 0)
        meminfo_read_fd(a->meminfo_fd, &mi);
    if (a->vmstat_fd >= 0)
        vmstat_read_fd(a->vmstat_fd, &vs);
    if (a->psi_fd >= 0)
        psi_read_fd(a->psi_fd, &psi);
    agent_fill_report(&mi, &vs, &psi, agent_now_ns(), clock_ms(CLOCK_BOOTTIME), out);
    out->report_seq = a->report_seq; /* taken (++) only when the frame is sent */
}
