/*
 * The guest's memory split from its agent's last report (see vmcost.h):
 * page cache, anonymous and the rest of what is used, and from a v2 report
 * shmem, slab, kernel and what is left; what the guest's kernel kept at
 * boot, learned from the reports where the balloon does not hide it. Pure;
 * the report is the guest's word, so every difference saturates instead of
 * wrapping.
 */
#include "vmcost.h"

#include <errno.h>

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sub_floor(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

#define V2_KINDS                                                                                   \
    (PROTO_R_BIT(PROTO_R_SHMEM) | PROTO_R_BIT(PROTO_R_SLAB_RECLAIMABLE) |                          \
     PROTO_R_BIT(PROTO_R_SLAB_UNRECLAIMABLE) | PROTO_R_BIT(PROTO_R_KERNEL_STACK) |                 \
     PROTO_R_BIT(PROTO_R_PAGE_TABLES) | PROTO_R_BIT(PROTO_R_VMALLOC_USED))

/* kernel_other split by kind (a v2 report); see vmcost.h. */
static void split_kinds(const struct proto_report *r, uint64_t balloon_in_used_bytes,
                        struct vmcost_guest *out)
{
    out->kinds_known = true;
    out->shmem_bytes = r->shmem_bytes;
    out->slab_reclaimable_bytes = r->slab_reclaimable_bytes;
    out->slab_unreclaimable_bytes = r->slab_unreclaimable_bytes;
    out->kernel_stack_bytes = r->kernel_stack_bytes;
    out->page_tables_bytes = r->page_tables_bytes;
    out->vmalloc_used_bytes = r->vmalloc_used_bytes;
    /* vmap'd stacks are in VmallocUsed too: count them once. */
    out->kernel_bytes =
        add_sat(r->page_tables_bytes, max_u64(r->vmalloc_used_bytes, r->kernel_stack_bytes));
    out->balloon_bytes = balloon_in_used_bytes;
    uint64_t named = add_sat(add_sat(r->slab_reclaimable_bytes, r->slab_unreclaimable_bytes),
                             add_sat(out->kernel_bytes, out->balloon_bytes));
    out->other_bytes = sub_floor(out->kernel_other_bytes, named);
}

int vmcost_guest_split(const struct proto_report *r, uint64_t balloon_in_used_bytes,
                       struct vmcost_guest *out)
{
    if (!r || !out)
        return -EINVAL;
    *out = (struct vmcost_guest){0};
    const uint32_t need = PROTO_R_BIT(PROTO_R_MEM_TOTAL) | PROTO_R_BIT(PROTO_R_MEM_FREE) |
                          PROTO_R_BIT(PROTO_R_ACTIVE_FILE) | PROTO_R_BIT(PROTO_R_INACTIVE_FILE) |
                          PROTO_R_BIT(PROTO_R_ACTIVE_ANON) | PROTO_R_BIT(PROTO_R_INACTIVE_ANON);
    if ((r->valid_mask & need) != need)
        return -ENODATA;
    out->total_bytes = r->mem_total_bytes;
    out->used_bytes = sub_floor(r->mem_total_bytes, r->mem_free_bytes);
    /* The LRU lists, not Cached: Cached counts shmem, which sits on the anon
     * LRU, so cache + anon would count a tmpfs root twice. */
    out->cache_bytes = add_sat(r->active_file_bytes, r->inactive_file_bytes);
    out->anon_bytes = add_sat(r->active_anon_bytes, r->inactive_anon_bytes);
    out->kernel_other_bytes =
        sub_floor(out->used_bytes, add_sat(out->cache_bytes, out->anon_bytes));
    if ((r->valid_mask & V2_KINDS) == V2_KINDS)
        split_kinds(r, balloon_in_used_bytes, out);
    return 0;
}

/* --- what the kernel kept at boot ------------------------------------------------------- */

/* nominal - MemTotal is the reserve (not the balloon too) for this report. */
static bool reserve_visible(const struct vmcost_boot_sample *s, uint64_t total)
{
    return s->actual_bytes >= s->nominal_bytes || s->balloon_in_total ||
           (s->actual_bytes > 0 && total > s->actual_bytes);
}

void vmcost_boot_reserve_note(struct vmcost_boot_reserve *b, const struct vmcost_boot_sample *s)
{
    if (!b || !s || !s->r)
        return;
    const struct proto_report *r = s->r;
    bool has_uptime = (r->valid_mask & PROTO_R_BIT(PROTO_R_UPTIME)) != 0;
    bool rebooted = has_uptime && r->uptime_ms < b->last_uptime_ms;
    if (has_uptime)
        b->last_uptime_ms = r->uptime_ms;
    if (rebooted || (b->known && b->nominal_bytes != s->nominal_bytes)) {
        b->known = false;
        b->candidate = false;
    }
    uint64_t total = r->mem_total_bytes;
    bool usable = (r->valid_mask & PROTO_R_BIT(PROTO_R_MEM_TOTAL)) && total > 0 &&
                  s->nominal_bytes > 0 && total <= s->nominal_bytes;
    if (!usable || !reserve_visible(s, total)) {
        b->candidate = false;
        return;
    }
    if (b->candidate && b->candidate_total_bytes == total &&
        b->candidate_actual_bytes == s->actual_bytes) {
        b->known = true;
        b->reserved_bytes = s->nominal_bytes - total;
        b->nominal_bytes = s->nominal_bytes;
        return;
    }
    b->candidate = true;
    b->candidate_total_bytes = total;
    b->candidate_actual_bytes = s->actual_bytes;
}
