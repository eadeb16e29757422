/* The host cost as text (see cost_text.h). */
#include "cost_text.h"

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

static void explain_guest(GString *out, const struct ctl_guest_mem *g)
{
    if (g->used_bytes < 0 || g->cache_bytes < 0 || g->anon_bytes < 0 || g->kernel_other_bytes < 0) {
        g_string_append(out, "  guest memory: unknown (no agent report with the LRU figures)\n");
        return;
    }
    uint64_t bytes[3] = {(uint64_t)g->cache_bytes, (uint64_t)g->anon_bytes,
                         (uint64_t)g->kernel_other_bytes};
    uint64_t m[3];
    uint64_t total = cost_text_mib_parts(bytes, 3, m);
    /* A guest's figures need not add up (it is untrusted): say "=" only when they do. */
    bool adds_up = (uint64_t)g->used_bytes == bytes[0] + bytes[1] + bytes[2];
    g_string_append_printf(out,
                           "  guest memory: used %" PRIu64 " MiB %s cache %" PRIu64
                           " + anon %" PRIu64 " + kernel+other %" PRIu64,
                           adds_up ? total : mib(g->used_bytes), adds_up ? "=" : "of which", m[0],
                           m[1], m[2]);
    if (g->age_ms >= 0)
        g_string_append_printf(out, " (report %" PRId64 " s ago)", g->age_ms / 1000);
    g_string_append_c(out, '\n');
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
