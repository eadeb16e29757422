/*
 * One guest's host cost split into parts that add up (see vmcost.h for each
 * part's meaning): pure arithmetic on what vmcost_read and host/ksm read.
 * The fair part of the KSM copies is ksm_account_vm's own attribution,
 * applied to the KSM pages found in guest RAM.
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

/*
 * The guest RAM's KSM pages, in bytes: smaps' own count when the kernel
 * prints it (same walk as Rss), else ksm_stat's merging pages, which may
 * be a little older or newer than Rss: capped at it.
 */
static uint64_t ksm_in_ram(const struct vmcost_input *in)
{
    const struct vmcost_proc *p = in->proc;
    uint64_t rss = p->guest_ram.rss_bytes;
    uint64_t merged = 0;
    if (p->ksm_field)
        merged = p->guest_ram.ksm_bytes;
    else if (in->ksm_proc && (in->ksm_proc->present & KSM_BIT(KSM_P_MERGING_PAGES)))
        merged = in->ksm_proc->merging_pages > UINT64_MAX / in->page_size
                     ? UINT64_MAX
                     : in->ksm_proc->merging_pages * in->page_size;
    return merged < rss ? merged : rss;
}

/*
 * What sharing saves of merged_bytes (ksm_account_vm on those pages) and
 * the VM's zero pages; without a host sample nothing is known of sharing.
 */
static void ksm_parts(const struct vmcost_input *in, uint64_t merged_bytes, struct vm_cost *out)
{
    struct ksm_proc_sample vm = {0};
    if (in->ksm_proc)
        vm = *in->ksm_proc;
    vm.merging_pages = merged_bytes / in->page_size;
    struct ksm_host_sample none = {0};
    struct ksm_vm_account acc;
    ksm_account_vm(&vm, in->ksm_host ? in->ksm_host : &none, in->page_size, &acc);
    out->ksm_known = in->ksm_host != NULL;
    out->ksm_saved_bytes =
        acc.saved_sharing_bytes < merged_bytes ? acc.saved_sharing_bytes : merged_bytes;
    out->ksm_shared_charge_bytes = merged_bytes - out->ksm_saved_bytes;
    out->zero_pages_bytes = in->ksm_proc && (in->ksm_proc->present & KSM_BIT(KSM_P_ZERO_PAGES))
                                ? acc.saved_zero_bytes
                                : 0;
}

int vmcost_split(const struct vmcost_input *in, struct vm_cost *out)
{
    if (!in || !in->proc || !out || in->page_size == 0)
        return -EINVAL;
    *out = (struct vm_cost){0};
    const struct vmcost_proc *p = in->proc;
    if (!p->ram_found)
        return -ENODATA;

    out->guest_ram_resident_bytes = p->guest_ram.rss_bytes;
    uint64_t merged = ksm_in_ram(in);
    out->guest_unique_bytes = out->guest_ram_resident_bytes - merged;
    ksm_parts(in, merged, out);
    /* Pss, not Rss: a library page five QEMUs map is a fifth of a page each. */
    out->qemu_own_bytes = sub_floor(p->all.pss_bytes, p->guest_ram.pss_bytes);
    out->page_tables_bytes = p->pte_present ? p->vm_pte_bytes : 0;
    out->host_cost_bytes = add_sat(add_sat(out->guest_unique_bytes, out->ksm_shared_charge_bytes),
                                   add_sat(out->qemu_own_bytes, out->page_tables_bytes));

    out->thp_bytes = p->guest_ram.anon_huge_bytes;
    out->swap_bytes = p->all.swap_bytes;
    if (in->nominal_bytes >= 0 && in->actual_bytes >= 0 && in->nominal_bytes >= in->actual_bytes) {
        out->balloon_held_bytes = (uint64_t)(in->nominal_bytes - in->actual_bytes);
        out->balloon_known = true;
    }
    return 0;
}
