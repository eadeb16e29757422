/*
 * KSM accounting: fair attribution of shared pages to VMs (sums back to the
 * host's pages_sharing), zero-page savings apart, rmap cost, saturation on
 * absurd counters, and the "changed materially" predicate that gates logging.
 */
#include "cunit_main.h"
#include "ksm.h"

#include <errno.h>
#include <string.h>

#define PAGE 4096u

static struct ksm_host_sample host_with(uint64_t shared, uint64_t sharing, uint64_t unshared,
                                        uint64_t volatile_, uint64_t zero)
{
    struct ksm_host_sample h = {0};
    h.pages_shared = shared;
    h.pages_sharing = sharing;
    h.pages_unshared = unshared;
    h.pages_volatile = volatile_;
    h.ksm_zero_pages = zero;
    h.present = KSM_BIT(KSM_F_PAGES_SHARED) | KSM_BIT(KSM_F_PAGES_SHARING) |
                KSM_BIT(KSM_F_PAGES_UNSHARED) | KSM_BIT(KSM_F_PAGES_VOLATILE) |
                KSM_BIT(KSM_F_KSM_ZERO_PAGES);
    return h;
}

static struct ksm_proc_sample vm_with(uint64_t merging, uint64_t zero, uint64_t rmap)
{
    struct ksm_proc_sample p = {0};
    p.merging_pages = merging;
    p.zero_pages = zero;
    p.rmap_items = rmap;
    p.present =
        KSM_BIT(KSM_P_MERGING_PAGES) | KSM_BIT(KSM_P_ZERO_PAGES) | KSM_BIT(KSM_P_RMAP_ITEMS);
    return p;
}

/* The fixture host: 10000 KSM pages mapped 70000 times, one VM maps 14000. */
static void test_vm_fixture_numbers(void)
{
    struct ksm_host_sample h = host_with(10000, 60000, 30000, 2000, 20000);
    struct ksm_proc_sample p = vm_with(14000, 5000, 25000);
    p.present |= KSM_BIT(KSM_P_PROCESS_PROFIT);
    p.process_profit_bytes = 76224000;
    struct ksm_vm_account a;
    CU_ASSERT_EQUAL(ksm_account_vm(&p, &h, PAGE, &a), 0);
    CU_ASSERT_EQUAL(a.merging_bytes, 14000ull * PAGE);
    /* 14000 * 60000 / 70000 = 12000 pages saved */
    CU_ASSERT_EQUAL(a.saved_sharing_bytes, 12000ull * PAGE);
    CU_ASSERT_EQUAL(a.saved_zero_bytes, 5000ull * PAGE);
    CU_ASSERT_EQUAL(a.rmap_cost_bytes, 25000ull * 64);
    CU_ASSERT_EQUAL(a.net_profit_bytes, (int64_t)(17000ull * PAGE - 25000ull * 64));
    CU_ASSERT_TRUE(a.kernel_profit_present);
    CU_ASSERT_EQUAL(a.kernel_profit_bytes, 76224000);
}

/*
 * Two VMs with identical content: 1000 KSM pages, each mapped once by each VM
 * (N = 2, so 1000 pages saved in all). Each VM is charged half the saving,
 * not the 1000 pages the kernel's own per-process profit would count twice.
 */
static void test_fair_split_two_vms(void)
{
    struct ksm_host_sample h = host_with(1000, 1000, 0, 0, 0);
    struct ksm_proc_sample a = vm_with(1000, 0, 1000), b = vm_with(1000, 0, 1000);
    struct ksm_vm_account ra, rb;
    CU_ASSERT_EQUAL(ksm_account_vm(&a, &h, PAGE, &ra), 0);
    CU_ASSERT_EQUAL(ksm_account_vm(&b, &h, PAGE, &rb), 0);
    CU_ASSERT_EQUAL(ra.saved_sharing_bytes, 500ull * PAGE);
    CU_ASSERT_EQUAL(ra.saved_sharing_bytes + rb.saved_sharing_bytes, 1000ull * PAGE);
}

/* Unequal VMs: shares are proportional and sum to the host's saving. */
static void test_sum_matches_host(void)
{
    /* 8 VMs mapping 3000, 3000, ... pages of 6000 KSM pages: 24000 mappings. */
    uint64_t merging[] = {3000, 3000, 3000, 3000, 3000, 3000, 3000, 3000};
    struct ksm_host_sample h = host_with(6000, 18000, 500, 10, 0);
    uint64_t sum = 0;
    for (size_t i = 0; i < 8; i++) {
        struct ksm_proc_sample p = vm_with(merging[i], 0, 3100);
        struct ksm_vm_account a;
        CU_ASSERT_EQUAL(ksm_account_vm(&p, &h, PAGE, &a), 0);
        sum += a.saved_sharing_bytes;
    }
    struct ksm_host_account ha;
    CU_ASSERT_EQUAL(ksm_account_host(&h, PAGE, &ha), 0);
    CU_ASSERT_EQUAL(sum, ha.saved_sharing_bytes);
    CU_ASSERT_EQUAL(ha.saved_sharing_bytes, 18000ull * PAGE);
}

static void test_vm_edges(void)
{
    struct ksm_vm_account a;
    /* Nothing merged anywhere: no division by zero. */
    struct ksm_host_sample empty = host_with(0, 0, 0, 0, 0);
    struct ksm_proc_sample p = vm_with(0, 0, 100);
    CU_ASSERT_EQUAL(ksm_account_vm(&p, &empty, PAGE, &a), 0);
    CU_ASSERT_EQUAL(a.saved_sharing_bytes, 0);
    CU_ASSERT_EQUAL(a.net_profit_bytes, -6400);
    /* Host read before the VM merged more (skewed samples): capped at the VM's own. */
    struct ksm_host_sample h = host_with(0, 10, 0, 0, 0);
    p = vm_with(5, 0, 0);
    CU_ASSERT_EQUAL(ksm_account_vm(&p, &h, PAGE, &a), 0);
    CU_ASSERT_TRUE(a.saved_sharing_bytes <= 5ull * PAGE);
    /* VM merges but host says nothing is merged: zero, not garbage. */
    p = vm_with(100, 0, 0);
    CU_ASSERT_EQUAL(ksm_account_vm(&p, &empty, PAGE, &a), 0);
    CU_ASSERT_EQUAL(a.saved_sharing_bytes, 0);
    /* Absurd counters saturate instead of wrapping. */
    struct ksm_host_sample huge = host_with(1, UINT64_MAX, 0, 0, 0);
    p = vm_with(UINT64_MAX, UINT64_MAX, 0);
    CU_ASSERT_EQUAL(ksm_account_vm(&p, &huge, PAGE, &a), 0);
    CU_ASSERT_EQUAL(a.saved_zero_bytes, UINT64_MAX);
    CU_ASSERT_EQUAL(a.net_profit_bytes, INT64_MAX);
    p = vm_with(0, 0, UINT64_MAX);
    CU_ASSERT_EQUAL(ksm_account_vm(&p, &huge, PAGE, &a), 0);
    CU_ASSERT_EQUAL(a.net_profit_bytes, INT64_MIN);
    CU_ASSERT_EQUAL(ksm_account_vm(&p, &huge, 0, &a), -EINVAL);
    CU_ASSERT_EQUAL(ksm_account_vm(NULL, &huge, PAGE, &a), -EINVAL);
    CU_ASSERT_EQUAL(ksm_account_vm(&p, NULL, PAGE, &a), -EINVAL);
    CU_ASSERT_EQUAL(ksm_account_vm(&p, &huge, PAGE, NULL), -EINVAL);
}

static void test_host_fixture_numbers(void)
{
    struct ksm_host_sample h = host_with(10000, 60000, 30000, 2000, 20000);
    h.present |= KSM_BIT(KSM_F_GENERAL_PROFIT);
    h.general_profit_bytes = 321152000;
    struct ksm_host_account a;
    CU_ASSERT_EQUAL(ksm_account_host(&h, PAGE, &a), 0);
    CU_ASSERT_EQUAL(a.saved_sharing_bytes, 60000ull * PAGE);
    CU_ASSERT_EQUAL(a.saved_zero_bytes, 20000ull * PAGE);
    CU_ASSERT_EQUAL(a.saved_bytes, 80000ull * PAGE);
    CU_ASSERT_EQUAL(a.rmap_items, 102000);
    CU_ASSERT_EQUAL(a.rmap_cost_bytes, 102000ull * 64);
    CU_ASSERT_EQUAL(a.net_profit_bytes, (int64_t)(80000ull * PAGE - 102000ull * 64));
    /* Our formula is the kernel's: it reproduces general_profit. */
    CU_ASSERT_TRUE(a.kernel_profit_present);
    CU_ASSERT_EQUAL(a.net_profit_bytes, a.kernel_profit_bytes);
    CU_ASSERT_EQUAL(a.sharing_ratio_x100, 600);

    struct ksm_host_sample old = host_with(500, 4000, 9000, 100, 0); /* 5.15: no zero pages */
    CU_ASSERT_EQUAL(ksm_account_host(&old, PAGE, &a), 0);
    CU_ASSERT_FALSE(a.kernel_profit_present);
    CU_ASSERT_EQUAL(a.saved_zero_bytes, 0);
    CU_ASSERT_EQUAL(a.sharing_ratio_x100, 800);
    struct ksm_host_sample none = host_with(0, 0, 0, 0, 0);
    CU_ASSERT_EQUAL(ksm_account_host(&none, PAGE, &a), 0);
    CU_ASSERT_EQUAL(a.sharing_ratio_x100, 0);
    CU_ASSERT_EQUAL(ksm_account_host(&none, 0, &a), -EINVAL);
}

static void test_changed_materially(void)
{
    const int64_t MiB = 1 << 20;
    CU_ASSERT_FALSE(ksm_changed_materially(0, 0));
    CU_ASSERT_FALSE(ksm_changed_materially(0, 4096));                /* under the 1 MiB floor */
    CU_ASSERT_TRUE(ksm_changed_materially(0, 2 * MiB));              /* 2 MiB from nothing */
    CU_ASSERT_FALSE(ksm_changed_materially(100 * MiB, 104 * MiB));   /* 4%, 4 MiB */
    CU_ASSERT_TRUE(ksm_changed_materially(100 * MiB, 106 * MiB));    /* 6% */
    CU_ASSERT_TRUE(ksm_changed_materially(100 * MiB, 94 * MiB));     /* -6% */
    CU_ASSERT_FALSE(ksm_changed_materially(1000 * MiB, 1015 * MiB)); /* 1.5%, 15 MiB */
    CU_ASSERT_TRUE(ksm_changed_materially(1000 * MiB, 1016 * MiB));  /* 16 MiB */
    CU_ASSERT_TRUE(ksm_changed_materially(-5 * MiB, 5 * MiB));       /* profit turns positive */
    CU_ASSERT_TRUE(ksm_changed_materially(INT64_MIN, INT64_MAX));    /* no overflow */
    CU_ASSERT_FALSE(ksm_changed_materially(INT64_MAX, INT64_MAX));
}

static CU_TestInfo account_tests[] = {
    {"vm fixture numbers", test_vm_fixture_numbers},
    {"fair split between two vms", test_fair_split_two_vms},
    {"vm shares sum to host", test_sum_matches_host},
    {"vm edges and saturation", test_vm_edges},
    {"host fixture numbers", test_host_fixture_numbers},
    {"changed materially", test_changed_materially},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"ksm account", NULL, NULL, NULL, NULL, account_tests},
    CU_SUITE_INFO_NULL,
};
