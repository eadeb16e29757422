/* The host cost as text (see cost_text.h). */
#include "cost_text.h"

#include <math.h>

#include <inttypes.h>

#define MIB (1024u * 1024u)

uint64_t cost_text_mib_parts(const uint64_t *bytes, size_t n, uint64_t *mib_out)
{
    uint64_t rem[COST_TEXT_MAX_PARTS];
    unsigned __int128 total = 0;
    uint64_t floors = 0;
    n = n > COST_TEXT_MAX_PARTS ? COST_TEXT_MAX_PARTS : n;
    for (size_t i = 0; i < n; i++) {
        total += bytes[i];
        mib_out[i] = bytes[i] / MIB;
        rem[i] = bytes[i] % MIB;
        floors += mib_out[i];
    }
    uint64_t rounded = (uint64_t)((total + MIB / 2) / MIB);
    /* rounded - floors < n: each part lost less than one MiB. */
    for (uint64_t left = rounded - floors; left > 0; left--) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (rem[i] > 0 && (best == n || rem[i] > rem[best]))
                best = i;
        if (best == n)
            break;
        mib_out[best]++;
        rem[best] = 0;
    }
    return rounded;
}

static uint64_t mib(int64_t bytes)
{
    return ((uint64_t)bytes + MIB / 2) / MIB;
}

/* A figure beside the sum: whole MiB, "-" when unknown. */
static const char *beside(int64_t bytes, char *buf, size_t len)
{
    if (bytes < 0)
        return "-";
    g_snprintf(buf, len, "%" PRIu64, mib(bytes));
    return buf;
}

static void explain_cost(GString *out, const struct ctl_vm_cost *c)
{
    if (c->host_cost_bytes < 0) {
        g_string_append_printf(out, "  host cost: unknown (%s)\n",
                               c->error[0]     ? c->error
                               : c->age_ms < 0 ? "not read yet"
                                               : "no figures");
        return;
    }
    const int64_t part[] = {c->guest_unique_bytes, c->ksm_shared_charge_bytes, c->qemu_own_bytes,
                            c->page_tables_bytes};
    uint64_t bytes[4], m[4];
    for (size_t i = 0; i < 4; i++)
        bytes[i] = part[i] < 0 ? 0 : (uint64_t)part[i];
    uint64_t total = cost_text_mib_parts(bytes, 4, m);
    char a[24], b[24], d[24], e[24];
    g_string_append_printf(
        out,
        "  host cost %" PRIu64 " MiB = guest unique %" PRIu64 " + KSM share %" PRIu64
        " + QEMU own %" PRIu64 " + page tables %" PRIu64 "; KSM saved %s, zero pages %s; balloon "
        "holds %s; THP-backed %s",
        total, m[0], m[1], m[2], m[3], beside(c->ksm_saved_bytes, a, sizeof(a)),
        beside(c->zero_pages_bytes, b, sizeof(b)), beside(c->balloon_held_bytes, d, sizeof(d)),
        beside(c->thp_bytes, e, sizeof(e)));
    if (c->age_ms >= 0)
        g_string_append_printf(out, " (read %" PRId64 " s ago)", c->age_ms / 1000);
    g_string_append_c(out, '\n');
}

static uint64_t known(int64_t bytes)
{
    return bytes < 0 ? 0 : (uint64_t)bytes;
}

/* The report's age, then what the kernel kept at boot when it is known. */
static void explain_guest_tail(GString *out, const struct ctl_guest_mem *g)
{
    if (g->age_ms >= 0)
        g_string_append_printf(out, " (report %" PRId64 " s ago)", g->age_ms / 1000);
    if (g->kernel_reserved_bytes >= 0)
        g_string_append_printf(out, "; kernel reserved at boot %" PRIu64,
                               mib(g->kernel_reserved_bytes));
    g_string_append_c(out, '\n');
}

/* An agent from before protocol v2: cache + anon + kernel and the rest. */
static void explain_guest_lru(GString *out, const struct ctl_guest_mem *g)
{
    uint64_t bytes[3] = {known(g->cache_bytes), known(g->anon_bytes), known(g->kernel_other_bytes)};
    uint64_t m[3];
    uint64_t total = cost_text_mib_parts(bytes, 3, m);
    /* A guest's figures need not add up (it is untrusted): say "=" only when they do. */
    bool adds_up =
        (unsigned __int128)g->used_bytes == (unsigned __int128)bytes[0] + bytes[1] + bytes[2];
    g_string_append_printf(out,
                           "  guest memory: used %" PRIu64 " MiB %s cache %" PRIu64
                           " + anon %" PRIu64 " + kernel+other %" PRIu64,
                           adds_up ? total : mib(g->used_bytes), adds_up ? "=" : "of which", m[0],
                           m[1], m[2]);
    explain_guest_tail(out, g);
}

static bool kinds_known(const struct ctl_guest_mem *g)
{
    const int64_t kinds[] = {
        g->shmem_bytes,        g->slab_reclaimable_bytes, g->slab_unreclaimable_bytes,
        g->kernel_stack_bytes, g->page_tables_bytes,      g->vmalloc_used_bytes,
        g->kernel_bytes,       g->balloon_bytes,          g->other_bytes};
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
        if (kinds[i] < 0)
            return false;
    return true;
}

/* A v2 agent: anon without its shmem, slab, kernel, the balloon, the rest. */
static void explain_guest_kinds(GString *out, const struct ctl_guest_mem *g)
{
    uint64_t anon = known(g->anon_bytes), shmem = known(g->shmem_bytes);
    uint64_t slab = known(g->slab_reclaimable_bytes) + known(g->slab_unreclaimable_bytes);
    uint64_t bytes[7] = {known(g->cache_bytes),
                         shmem,
                         anon > shmem ? anon - shmem : 0,
                         slab,
                         known(g->kernel_bytes),
                         known(g->balloon_bytes),
                         known(g->other_bytes)};
    uint64_t m[7];
    uint64_t total = cost_text_mib_parts(bytes, 7, m);
    unsigned __int128 sum = 0; /* the guest's figures: any size */
    for (size_t i = 0; i < 7; i++)
        sum += bytes[i];
    bool adds_up = (unsigned __int128)g->used_bytes == sum;
    char stacks[24], pt[24], vm[24], rec[24];
    g_string_append_printf(out,
                           "  guest memory: used %" PRIu64 " MiB %s cache %" PRIu64
                           " + shmem %" PRIu64 " + anon %" PRIu64 " + slab %" PRIu64
                           " (reclaimable %s) + kernel %" PRIu64
                           " (stacks %s, page tables %s, vmalloc %s)",
                           adds_up ? total : mib(g->used_bytes), adds_up ? "=" : "of which", m[0],
                           m[1], m[2], m[3], beside(g->slab_reclaimable_bytes, rec, sizeof(rec)),
                           m[4], beside(g->kernel_stack_bytes, stacks, sizeof(stacks)),
                           beside(g->page_tables_bytes, pt, sizeof(pt)),
                           beside(g->vmalloc_used_bytes, vm, sizeof(vm)));
    if (bytes[5] > 0)
        g_string_append_printf(out, " + balloon %" PRIu64, m[5]);
    g_string_append_printf(out, " + other %" PRIu64, m[6]);
    explain_guest_tail(out, g);
}

static void explain_guest(GString *out, const struct ctl_guest_mem *g)
{
    if (g->used_bytes < 0 || g->cache_bytes < 0 || g->anon_bytes < 0 || g->kernel_other_bytes < 0) {
        g_string_append(out, "  guest memory: unknown (no agent report with the LRU figures)\n");
        return;
    }
    if (kinds_known(g))
        explain_guest_kinds(out, g);
    else
        explain_guest_lru(out, g);
}

void cost_text_explain(GString *out, const struct ctl_vm_cost *c, const struct ctl_guest_mem *g)
{
    explain_cost(out, c);
    explain_guest(out, g);
}

const char *cost_text_compact(int64_t bytes, char *buf, size_t len)
{
    if (bytes < 0)
        return "-";
    uint64_t m = mib(bytes);
    if (m < 1000)
        g_snprintf(buf, len, "%" PRIu64 "M", m);
    else if (m < 1000 * 1024)
        g_snprintf(buf, len, "%.1fG", (double)bytes / (1024.0 * MIB));
    else
        g_snprintf(buf, len, "%.0fG", (double)bytes / (1024.0 * MIB));
    return buf;
}

void cost_text_fleet(GString *out, const struct ctl_fleet_cost *f)
{
    if (f->vms <= 0)
        return;
    const struct ctl_vm_cost *s = &f->sum;
    const int64_t part[] = {s->guest_unique_bytes, s->ksm_shared_charge_bytes, s->qemu_own_bytes,
                            s->page_tables_bytes};
    uint64_t bytes[4], m[4];
    for (size_t i = 0; i < 4; i++)
        bytes[i] = part[i] < 0 ? 0 : (uint64_t)part[i];
    uint64_t total = cost_text_mib_parts(bytes, 4, m);
    char a[24], b[24];
    g_string_append_printf(
        out,
        "cost: %" PRId64 " VMs, host cost %" PRIu64 " MiB = guest unique %" PRIu64
        " + KSM share %" PRIu64 " + QEMU own %" PRIu64 " + page tables %" PRIu64
        "; KSM saved %s, zero pages %s\n",
        f->vms, total, m[0], m[1], m[2], m[3], beside(s->ksm_saved_bytes, a, sizeof(a)),
        beside(s->zero_pages_bytes, b, sizeof(b)));
}

const char *cost_text_pct(double pct, char *buf, size_t len)
{
    if (isnan(pct))
        return "-";
    g_snprintf(buf, len, "%.2f", pct);
    return buf;
}

const char *cost_text_or_dash(const char *s)
{
    return s && *s ? s : "-";
}
