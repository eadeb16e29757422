/*
 * ballastd's fleet memory budget: the daemon side of host/policy/budget.h.
 * At each tick (and before an event decision) the manager gives it the
 * host's figures and the fleet's cost; it reads `memory_cgroup`'s files
 * (common/cgroup_mem.h) and works out the host the engine sees
 * (budget_view_compute). After the engine's call it is told the sum of the
 * guests' floors and says whether the budget can be met.
 *
 * What it says, it says once: a cgroup it cannot read (the host's figures
 * are used instead), a budget above host RAM (cut to it), a budget under
 * the VMs' min_memory in all (a configuration error: every VM in safe
 * mode), and floors that no longer fit (unmet) - one log line when each
 * starts and one when it ends, never one per tick; status and explain show
 * the state meanwhile.
 *
 * State lives in a struct the manager embeds; the cgroup directory comes
 * from the configuration, so the unit tests run it on fixture trees.
 */
#ifndef BALLAST_BUDGET_MONITOR_H
#define BALLAST_BUDGET_MONITOR_H

#include "budget.h"
#include "cgroup_mem.h"
#include "config.h"
#include "control.h"
#include "json_writer.h"

#include <stdbool.h>
#include <stdint.h>

/* cgroup_rc before the first read. */
#define BUDGET_MONITOR_NOT_READ 1

struct budget_monitor {
    /* Configuration (budget_monitor_configure). */
    struct config_budget cfg;
    char *where; /* memory_budget's "file:line", NULL when not given */

    /* The cgroup: its last read, and whether its failure was said. */
    int cgroup_rc; /* 0, -errno, or BUDGET_MONITOR_NOT_READ */
    struct cgroup_mem cg;

    /* The last update: what went in and what the engine sees. */
    struct budget_in in;
    struct budget_view view;
    uint64_t configured_bytes; /* memory_budget resolved, before the clamp; 0 none */
    bool clamp_said;

    /* The guests' floors against the capacity (budget_monitor_fit). */
    bool fit_known;
    uint64_t floors_bytes;
    bool unmet;

    /* memory_budget under the VMs' min_memory in all: the error, or NULL. */
    char *min_error;
};

void budget_monitor_init(struct budget_monitor *b);
/* Takes memory_budget and memory_cgroup from c (start, reload): what was
 * said about the old configuration may be said again. */
void budget_monitor_configure(struct budget_monitor *b, const struct config *c);
void budget_monitor_clear(struct budget_monitor *b);

/* Whether memory_budget or memory_cgroup is set at all. */
bool budget_monitor_active(const struct budget_monitor *b);

/*
 * Reads the cgroup (when configured) and computes the host the engine sees
 * from the real host and the fleet's cost now. A cgroup that cannot be read
 * is logged once, and its figures are not used until it can be read again
 * (logged once too).
 */
void budget_monitor_update(struct budget_monitor *b, const struct policy_host *host,
                           uint64_t fleet_cost_bytes);

/* The host the engine sees (the last update's). */
const struct policy_host *budget_monitor_host(const struct budget_monitor *b);

/*
 * The rule between memory_budget and the VMs' min_memory (min_sum_bytes:
 * their sum over the VMs of known size). Returns true when the error
 * appeared, changed or went away: the caller resolves the VMs' policies
 * again (budget_monitor_fleet_error forces safe mode).
 */
bool budget_monitor_check_min(struct budget_monitor *b, uint64_t min_sum_bytes);

/* The configuration error of the whole fleet, for vm_policy_in.fleet_error;
 * NULL when there is none. */
const char *budget_monitor_fleet_error(const struct budget_monitor *b);

/* After the engine's call: the sum of the guests' floors (budget_vm_floor);
 * logs when the budget becomes unmet and when it is met again. */
void budget_monitor_fit(struct budget_monitor *b, uint64_t floors_bytes);

/* The status document's "budget" object. */
void budget_monitor_status(const struct budget_monitor *b, struct ctl_budget_status *out);

/* explain: "budget" (as in status), this VM's floor and, while the budget
 * is unmet, the reason ("budget 2048 MiB < working sets 2300 MiB: ..."). */
void budget_monitor_explain(const struct budget_monitor *b, int64_t vm_floor_bytes,
                            struct json_writer *w);

#endif
