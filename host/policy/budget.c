/*
 * The fleet memory budget's arithmetic; see budget.h for the loop it feeds.
 */
#include "budget.h"

#include "size.h"

#include <stdio.h>

#define MIB     (1ULL << 20)
#define MIBS(b) ((unsigned long long)(((b) + MIB / 2) / MIB))
/* unmet ends only this far under the capacity: max(1%, 16 MiB) */
#define UNMET_MARGIN_PCT   1.0
#define UNMET_MARGIN_BYTES (16 * MIB)

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* pct% of bytes, saturating; the engine's own rounding (policy.c pct_of). */
static uint64_t pct_of(uint64_t bytes, double pct)
{
    if (!(pct > 0.0))
        return 0;
    double v = (double)bytes * pct / 100.0;
    return v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
}

static uint64_t round_up_mib(uint64_t b)
{
    if (b > UINT64_MAX - (MIB - 1))
        return UINT64_MAX & ~(MIB - 1);
    return (b + MIB - 1) & ~(MIB - 1);
}

static const char *const source_names[] = {
    [BUDGET_SOURCE_HOST] = "host",
    [BUDGET_SOURCE_BUDGET] = "budget",
    [BUDGET_SOURCE_CGROUP] = "cgroup",
};

const char *budget_source_name(enum budget_source s)
{
    return (size_t)s < sizeof(source_names) / sizeof(source_names[0]) ? source_names[s] : "?";
}

uint64_t budget_resolve_bytes(uint64_t bytes, double pct, uint64_t host_total_bytes)
{
    if (pct > 0.0)
        return pct_of(host_total_bytes, pct);
    return bytes;
}

/* The cgroup as a host: its limit (capped at the host's RAM) is the total,
 * what it has not charged yet is available - never more than the host
 * really has available, since the limit may promise memory the host lacks. */
static void cgroup_host(const struct budget_in *in, struct policy_host *h)
{
    const struct budget_cgroup *c = &in->cgroup;
    uint64_t total = min_u64(in->host.mem_total_bytes, c->limit_bytes);
    *h = in->host;
    h->mem_total_bytes = total;
    h->mem_available_bytes =
        min_u64(in->host.mem_available_bytes, sub_sat(total, c->current_bytes));
    h->psi_valid = c->psi_valid;
    h->psi_some_avg10_pct = c->psi_valid ? c->psi_some_avg10_pct : 0.0;
    h->psi_full_avg10_pct = c->psi_valid ? c->psi_full_avg10_pct : 0.0;
}

/* Whether a leaves a smaller share of its total available than b: the
 * engine's pressure level is a function of that share alone (for the same
 * watermarks), so the smaller share is the tighter host. */
static bool tighter(const struct policy_host *a, const struct policy_host *b)
{
    if (b->mem_total_bytes == 0)
        return a->mem_total_bytes != 0;
    if (a->mem_total_bytes == 0)
        return false;
    return (double)a->mem_available_bytes * (double)b->mem_total_bytes <
           (double)b->mem_available_bytes * (double)a->mem_total_bytes;
}

void budget_view_compute(const struct budget_in *in, struct budget_view *out)
{
    *out = (struct budget_view){.host = in->host, .source = BUDGET_SOURCE_HOST};
    if (in->cgroup.valid) {
        cgroup_host(in, &out->host);
        out->source = BUDGET_SOURCE_CGROUP;
        if (in->cgroup.limit_bytes < in->host.mem_total_bytes)
            out->capacity_bytes = in->cgroup.limit_bytes;
    }
    if (in->budget_bytes == 0)
        return;
    uint64_t budget = in->budget_bytes;
    if (in->host.mem_total_bytes && budget > in->host.mem_total_bytes) {
        budget = in->host.mem_total_bytes;
        out->clamped = true;
    }
    out->budget_bytes = budget;
    out->capacity_bytes = out->capacity_bytes ? min_u64(out->capacity_bytes, budget) : budget;
    struct policy_host virt = out->host; /* PSI stays the measured one */
    virt.mem_total_bytes = budget;
    virt.mem_available_bytes = sub_sat(budget, in->fleet_cost_bytes);
    if (tighter(&virt, &out->host)) {
        out->host = virt;
        out->source = BUDGET_SOURCE_BUDGET;
    }
}

/* The headroom the engine keeps at full host pressure: its growth trigger
 * (the tight headroom, never under the guest's pressure floor plus a
 * deadband) plus a deadband, so a guest at its floor is not inside the
 * trigger (policy.c, view_sizes, at level 1). */
static uint64_t tightest_headroom(const struct policy_tunables *t, uint64_t max_bytes)
{
    uint64_t floor =
        max_u64(pct_of(max_bytes, t->guest_avail_floor_pct), t->guest_avail_floor_bytes);
    uint64_t deadband = max_u64(pct_of(max_bytes, t->deadband_pct), t->deadband_bytes);
    uint64_t tight =
        max_u64(pct_of(max_bytes, t->pressure_headroom_pct), t->pressure_headroom_bytes);
    return add_sat(max_u64(tight, add_sat(floor, deadband)), deadband);
}

uint64_t budget_vm_floor(const struct policy_tunables *t, const struct budget_vm *vm)
{
    const struct policy_vm_params *p = &vm->params;
    uint64_t lo = min_u64(p->min_bytes, p->max_bytes);
    uint64_t floor;
    if (p->mode == POLICY_MODE_FIXED)
        floor = clamp_u64(p->fixed_bytes ? p->fixed_bytes : p->max_bytes, lo, p->max_bytes);
    else if (!vm->need_known)
        floor = lo;
    else
        floor = clamp_u64(round_up_mib(add_sat(vm->need_bytes, tightest_headroom(t, p->max_bytes))),
                          lo, p->max_bytes);
    /* Never shrunk by ballastd: what it holds now is its floor. */
    if (p->mode == POLICY_MODE_OBSERVE || p->mode == POLICY_MODE_SAFE)
        floor = max_u64(floor, vm->current_bytes);
    return floor;
}

bool budget_unmet_next(bool was_unmet, uint64_t capacity_bytes, uint64_t floors_bytes)
{
    if (capacity_bytes == 0)
        return false;
    if (floors_bytes > capacity_bytes)
        return true;
    if (!was_unmet)
        return false;
    uint64_t margin = max_u64(pct_of(capacity_bytes, UNMET_MARGIN_PCT), UNMET_MARGIN_BYTES);
    return floors_bytes > sub_sat(capacity_bytes, margin);
}

void budget_unmet_text(char *buf, size_t len, uint64_t capacity_bytes, uint64_t floors_bytes)
{
    /* Inside the margin (unmet, not yet met again) "<" would not be true. */
    snprintf(buf, len, "budget %llu MiB %s working sets %llu MiB: stop or move a guest",
             MIBS(capacity_bytes), floors_bytes > capacity_bytes ? "<" : "barely holds",
             MIBS(floors_bytes));
}

bool budget_min_error(char *buf, size_t len, const char *where, uint64_t budget_bytes,
                      uint64_t min_sum_bytes)
{
    if (budget_bytes == 0 || budget_bytes >= min_sum_bytes)
        return false;
    char b[32], m[32];
    snprintf(buf, len,
             "%s: memory_budget %s < the VMs' min_memory %s in all: it can never be met; "
             "raise it or lower min_memory",
             where ? where : "ballastd.conf", size_format(budget_bytes, b, sizeof(b)),
             size_format(min_sum_bytes, m, sizeof(m)));
    return true;
}
