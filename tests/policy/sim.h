/*
 * A tiny guest model for policy tests and ballast-sim: a guest with a fixed
 * kernel overhead, an anonymous working set and page cache, behind a balloon
 * that follows its target (optionally slowly, or stuck at a floor), and an
 * agent that reports what such a guest's /proc/meminfo would say.
 */
#ifndef BALLAST_TEST_POLICY_SIM_H
#define BALLAST_TEST_POLICY_SIM_H

#include <stdint.h>
#include <string.h>

#include "policy.h"

#define SIM_MIB (1ULL << 20)

struct sim_guest {
    uint64_t nominal_bytes;
    uint64_t overhead_bytes;         /* kernel, reserved: nominal - MemTotal at full size */
    uint64_t used_bytes;             /* anonymous working set */
    uint64_t cache_bytes;            /* page cache (part of MemAvailable) */
    uint64_t actual_bytes;           /* balloon actual */
    uint64_t target_bytes;           /* balloon target as set */
    uint64_t stuck_at_bytes;         /* balloon cannot go below this (0 = no limit) */
    uint64_t inflate_bytes_per_tick; /* 0 = reaches the target at once */
    bool in_total;   /* deflate-on-oom: the balloon stays inside MemTotal, as used */
    bool cold_cache; /* the cache is reported as Inactive(file) (idle reclaim) */
    double psi_some_pct;
};

static inline void sim_guest_init(struct sim_guest *g, uint64_t nominal_mib, uint64_t used_mib,
                                  uint64_t cache_mib)
{
    memset(g, 0, sizeof(*g));
    g->nominal_bytes = nominal_mib * SIM_MIB;
    g->overhead_bytes = nominal_mib * SIM_MIB / 8; /* ~ 128M -> 112M MemTotal */
    g->used_bytes = used_mib * SIM_MIB;
    g->cache_bytes = cache_mib * SIM_MIB;
    g->actual_bytes = g->nominal_bytes;
    g->target_bytes = g->nominal_bytes;
}

/* The agent report such a guest sends. The balloon takes free memory first,
 * then cache; what is left of MemTotal after used + cache is free. */
static inline void sim_guest_report(const struct sim_guest *g, struct policy_agent_report *r)
{
    memset(r, 0, sizeof(*r));
    uint64_t total = g->actual_bytes > g->overhead_bytes ? g->actual_bytes - g->overhead_bytes : 0;
    uint64_t used = g->used_bytes < total ? g->used_bytes : total;
    uint64_t cache = g->cache_bytes < total - used ? g->cache_bytes : total - used;
    r->valid = true;
    r->age_ms = 500;
    r->mem_total_bytes = total;
    r->mem_available_bytes = total - used;
    r->mem_free_bytes = total - used - cache;
    r->cached_bytes = cache;
    r->inactive_file_bytes = g->cold_cache ? cache : 0;
    r->psi_some_avg10_pct = g->psi_some_pct;
    if (g->in_total) /* the balloon's pages are allocated inside MemTotal */
        r->mem_total_bytes = g->nominal_bytes - g->overhead_bytes;
}

/* Applies a decision to the model: the balloon moves toward the target. */
static inline void sim_guest_apply(struct sim_guest *g, const struct policy_vm_out *o)
{
    if (o->actuate)
        g->target_bytes = o->target_bytes;
    uint64_t want = g->target_bytes;
    if (g->stuck_at_bytes && want < g->stuck_at_bytes)
        want = g->stuck_at_bytes;
    if (want < g->actual_bytes && g->inflate_bytes_per_tick &&
        g->actual_bytes - want > g->inflate_bytes_per_tick)
        want = g->actual_bytes - g->inflate_bytes_per_tick;
    g->actual_bytes = want;
}

/* A policy input for the model (managed, default params for its size). */
static inline void sim_guest_input(const struct sim_guest *g, const char *name,
                                   struct policy_vm_in *in)
{
    memset(in, 0, sizeof(*in));
    in->name = name;
    policy_vm_params_default(&in->params, g->nominal_bytes);
    in->actual_bytes = g->actual_bytes;
    in->nominal_bytes = g->nominal_bytes;
    in->target_bytes = g->target_bytes;
    sim_guest_report(g, &in->agent);
    in->agent.balloon_actual_bytes = g->actual_bytes; /* as ballastd passes it */
}

#endif
