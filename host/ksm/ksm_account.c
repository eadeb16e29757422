/*
 * What KSM saves, per VM and per host, in bytes: pure arithmetic on samples
 * read by ksm_read.c. The attribution of shared pages to VMs is explained in
 * ksm.h and docs/ksm.md; the rmap cost is the kernel's own (64 bytes per
 * rmap item, Documentation/admin-guide/mm/ksm.rst "Monitoring KSM profit").
 */
#include "ksm.h"

#include <errno.h>

/* a * b / c without overflow in the intermediate product; c > 0. */
static uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c)
{
    unsigned __int128 r = (unsigned __int128)a * b / c;
    return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* saved - cost as a signed value, saturated at the int64 range. */
static int64_t net_of(uint64_t saved, uint64_t cost)
{
    if (saved >= cost) {
        uint64_t d = saved - cost;
        return d > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)d;
    }
    uint64_t d = cost - saved;
    return d > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)d;
}

int ksm_account_vm(const struct ksm_proc_sample *vm, const struct ksm_host_sample *host,
                   uint64_t page_size, struct ksm_vm_account *out)
{
    if (!vm || !host || !out || page_size == 0)
        return -EINVAL;
    *out = (struct ksm_vm_account){0};
    out->merging_bytes = mul_sat(vm->merging_pages, page_size);

    /*
     * Each merging page maps a KSM page that N sites share and N-1 of them
     * are saved; with no per-page N from the kernel, charge every merging
     * page the host-wide fraction sharing / (shared + sharing). The samples
     * are read at slightly different moments, so the result is capped at the
     * VM's own merging pages.
     */
    uint64_t mapped = add_sat(host->pages_shared, host->pages_sharing);
    uint64_t saved_pages = 0;
    if (mapped > 0 && vm->merging_pages > 0) {
        saved_pages = mul_div(vm->merging_pages, host->pages_sharing, mapped);
        if (saved_pages > vm->merging_pages)
            saved_pages = vm->merging_pages;
    }
    out->saved_sharing_bytes = mul_sat(saved_pages, page_size);
    out->saved_zero_bytes = mul_sat(vm->zero_pages, page_size);
    out->rmap_cost_bytes = mul_sat(vm->rmap_items, KSM_RMAP_ITEM_BYTES);
    out->net_profit_bytes =
        net_of(add_sat(out->saved_sharing_bytes, out->saved_zero_bytes), out->rmap_cost_bytes);
    out->kernel_profit_present = (vm->present & KSM_BIT(KSM_P_PROCESS_PROFIT)) != 0;
    out->kernel_profit_bytes = vm->process_profit_bytes;
    return 0;
}

int ksm_account_host(const struct ksm_host_sample *host, uint64_t page_size,
                     struct ksm_host_account *out)
{
    if (!host || !out || page_size == 0)
        return -EINVAL;
    *out = (struct ksm_host_account){0};
    out->saved_sharing_bytes = mul_sat(host->pages_sharing, page_size);
    out->saved_zero_bytes = mul_sat(host->ksm_zero_pages, page_size);
    out->saved_bytes = add_sat(out->saved_sharing_bytes, out->saved_zero_bytes);
    /* ksm.rst: all rmap items = shared + sharing + unshared + volatile. */
    out->rmap_items = add_sat(add_sat(host->pages_shared, host->pages_sharing),
                              add_sat(host->pages_unshared, host->pages_volatile));
    out->rmap_cost_bytes = mul_sat(out->rmap_items, KSM_RMAP_ITEM_BYTES);
    out->net_profit_bytes = net_of(out->saved_bytes, out->rmap_cost_bytes);
    out->kernel_profit_present = ksm_host_has(host, KSM_F_GENERAL_PROFIT);
    out->kernel_profit_bytes = host->general_profit_bytes;
    out->sharing_ratio_x100 =
        host->pages_shared ? mul_div(host->pages_sharing, 100, host->pages_shared) : 0;
    return 0;
}

bool ksm_changed_materially(int64_t old_bytes, int64_t new_bytes)
{
    /* Differences of int64 values can exceed int64: compute in 128 bits. */
    __int128 d = (__int128)new_bytes - old_bytes;
    if (d < 0)
        d = -d;
    __int128 base = old_bytes < 0 ? -(__int128)old_bytes : old_bytes;
    const __int128 mib = 1 << 20;
    if (d >= 16 * mib)
        return true;
    return d >= mib && d * 20 >= base;
}
