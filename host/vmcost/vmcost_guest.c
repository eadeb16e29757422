/*
 * The guest's memory split from its agent's last report (see vmcost.h):
 * page cache, anonymous and the rest of what is used. Pure; the report is
 * the guest's word, so every difference saturates instead of wrapping.
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

int vmcost_guest_split(const struct proto_report *r, struct vmcost_guest *out)
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
    return 0;
}
