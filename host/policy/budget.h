/*
 * A fleet memory budget (`memory_budget`, `memory_cgroup` in ballastd.conf),
 * as pure arithmetic: no I/O, no clock, no globals, no allocation.
 *
 * The budget adds no second policy. It becomes a *virtual host* that the
 * engine's existing host-pressure loop (policy.c: host_avail_low/high_pct,
 * idle guests give first, pressured guests are fed first, shares between
 * equals) keeps the fleet inside:
 *
 *   virtual MemTotal     = budget
 *   virtual MemAvailable = budget - fleet cost            (saturating at 0)
 *
 * and the engine sees the tighter of that and the real host (or the
 * cgroup standing in for the host). The feedback loop: the fleet cost
 * rises -> virtual MemAvailable falls under host_avail_high_pct of the
 * budget -> host pressure level > 0 -> headrooms tighten and the deficit
 * is shared out -> balloons inflate -> the fleet cost falls -> the level
 * falls back. The loop closes on the actuator itself (today the fleet cost
 * is the sum of the balloons' actual sizes), so it needs no host figure to
 * settle; the real host still counts through the tighter-of rule and its
 * PSI.
 *
 * When the guests' floors (working set + the tightest headroom, or
 * min_memory) add up to more than the budget, no balloon setting can meet
 * it: budget_vm_floor and budget_unmet_next say so, and the engine still
 * never goes below a floor (growth is never refused), so a budget can
 * never cost a guest an OOM kill.
 */
#ifndef BALLAST_BUDGET_H
#define BALLAST_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* Whose figures the engine sees as "the host". */
enum budget_source {
    BUDGET_SOURCE_HOST = 0, /* /proc/meminfo and /proc/pressure/memory */
    BUDGET_SOURCE_BUDGET,   /* the virtual host: memory_budget - fleet cost */
    BUDGET_SOURCE_CGROUP,   /* memory_cgroup's memory.current, max/high, pressure */
};

/* "host", "budget", "cgroup". */
const char *budget_source_name(enum budget_source s);

/* A cgroup's figures as the daemon read them (common/cgroup_mem.h). */
struct budget_cgroup {
    bool valid;             /* read this tick; false: none configured, or unreadable */
    uint64_t current_bytes; /* memory.current */
    uint64_t limit_bytes;   /* the lower of memory.max and memory.high; UINT64_MAX: none */
    bool psi_valid;
    double psi_some_avg10_pct;
    double psi_full_avg10_pct;
};

struct budget_in {
    struct policy_host host;     /* the real host, always */
    struct budget_cgroup cgroup; /* stands in for the host when valid */
    uint64_t budget_bytes;       /* memory_budget in bytes (budget_resolve_bytes); 0 = none */
    /*
     * What the fleet costs the host now. Today the sum of the balloons'
     * actual sizes, the one figure every VM source has; a better per-guest
     * host-cost measurement (RSS less KSM savings, say) can be passed here
     * instead without changing anything else.
     */
    uint64_t fleet_cost_bytes;
};

struct budget_view {
    struct policy_host host;   /* what policy_evaluate gets as snap->host */
    enum budget_source source; /* whose figures host holds */
    uint64_t budget_bytes;     /* the budget in force: clamped to host RAM; 0 = none */
    bool clamped;              /* memory_budget was above host RAM and was cut to it */
    /* What the guests' floors must fit in: the budget, or the cgroup's
     * limit when that is lower; 0 when neither limits the fleet. */
    uint64_t capacity_bytes;
};

/*
 * memory_budget in bytes: pct > 0 is a percentage of host MemTotal
 * ("40%"), else bytes ("6G"); 0 when neither (no budget).
 */
uint64_t budget_resolve_bytes(uint64_t bytes, double pct, uint64_t host_total_bytes);

/*
 * The host the engine sees. Starts from the real host, or the cgroup when
 * in->cgroup.valid (its limit, capped at host RAM, is MemTotal; MemTotal -
 * memory.current, never more than the host's MemAvailable, is MemAvailable;
 * its PSI replaces the host's). Then, with a budget (clamped to host RAM
 * first), the virtual host replaces that when it is tighter: a smaller
 * share available, which is what the engine's pressure level reads. PSI
 * stays the measured one: real stalls count whatever the budget says.
 */
void budget_view_compute(const struct budget_in *in, struct budget_view *out);

/* One VM, for its floor. */
struct budget_vm {
    struct policy_vm_params params; /* as the engine got them */
    bool need_known;                /* the engine had guest data at its last call */
    uint64_t need_bytes;            /* the engine's working set (policy_vm_state.need_bytes) */
    uint64_t current_bytes;         /* target in force (else actual) */
};

/*
 * The least the engine would ever leave this VM, whatever the host
 * pressure: its working set plus the headroom at full pressure (the
 * growth trigger - the tight headroom, never under the guest's pressure
 * floor plus a deadband - plus a deadband, as policy.c's view_sizes),
 * rounded up to a MiB and held in [min, max]; min_memory
 * when the working set is not known yet; the fixed size in mode fixed;
 * and in observe and safe mode, where nothing is ever shrunk, at least
 * the current size. unit.policy.budget holds the engine to it.
 */
uint64_t budget_vm_floor(const struct policy_tunables *t, const struct budget_vm *vm);

/*
 * Whether the floors do not fit the capacity, given whether they did not
 * last time: starts when floors > capacity, ends only when they are back
 * a margin under it (max(1% of capacity, 16 MiB)), so a working set
 * wobbling at the edge does not flip the state and its log line at every
 * tick. Never unmet without a capacity (0).
 */
bool budget_unmet_next(bool was_unmet, uint64_t capacity_bytes, uint64_t floors_bytes);

/* "budget 2048 MiB < working sets 2300 MiB: stop or move a guest"; inside
 * the margin, "budget 2048 MiB barely holds working sets 2040 MiB: ..." */
void budget_unmet_text(char *buf, size_t len, uint64_t capacity_bytes, uint64_t floors_bytes);

/*
 * memory_budget below the sum of the VMs' min_memory can never be met, not
 * even by balloons at their minimum: a configuration error. where is the
 * memory_budget key's "file:line". Writes the message and returns true when
 * budget_bytes < min_sum_bytes; false (buf untouched) otherwise or without
 * a budget.
 */
bool budget_min_error(char *buf, size_t len, const char *where, uint64_t budget_bytes,
                      uint64_t min_sum_bytes);

#endif
