/* Sampling /proc into a REPORT payload; see agent.h. */
#include "agent.h"

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

void agent_fill_report(const struct meminfo *mi, const struct vmstat *vs, const struct psi *psi,
                       uint64_t timestamp_ns, uint64_t uptime_ms, struct proto_report *r)
{
    memset(r, 0, sizeof(*r));
    r->timestamp_ns = timestamp_ns;
    /* meminfo's first eleven fields are numbered like the protocol's. */
    _Static_assert((int)MEMINFO_INACTIVE_ANON == (int)PROTO_R_INACTIVE_ANON,
                   "meminfo/proto field order");
    uint64_t *dst[MEMINFO_INACTIVE_ANON + 1] = {
        &r->mem_total_bytes,   &r->mem_free_bytes,      &r->mem_available_bytes,
        &r->cached_bytes,      &r->buffers_bytes,       &r->swap_total_bytes,
        &r->swap_free_bytes,   &r->active_file_bytes,   &r->inactive_file_bytes,
        &r->active_anon_bytes, &r->inactive_anon_bytes,
    };
    for (int f = 0; f <= MEMINFO_INACTIVE_ANON; f++) {
        if (MEMINFO_HAS(mi, f)) {
            *dst[f] = mi->bytes[f];
            r->valid_mask |= PROTO_R_BIT(f);
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
