/*
 * The host-cost split on structs built on the stack: every part as defined
 * in vmcost.h, the parts adding up to host_cost for a thousand varied
 * inputs, KSM from smaps' own line or from ksm_stat (capped), no KSM host
 * sample, guest RAM not found, the balloon unknown, and the real QEMU's
 * fixture end to end.
 */
#include "cunit_main.h"
#include "vmcost.h"

#include <errno.h>

#define FIX(p) BALLAST_FIXTURES "/" p
#define KB     1024ull
#define MIB    (1024ull * 1024)
#define PAGE   4096ull

/* A QEMU of 256 MiB: 100 MiB of guest RAM resident, 40 of it KSM pages;
 * 40 MiB of Pss elsewhere; 1 MiB of page tables. */
static struct vmcost_proc proc_example(void)
{
    struct vmcost_proc p = {.pid = 42, .ram_bytes = 256 * MIB, .ram_found = true};
    p.ksm_field = true;
    p.guest_ram = (struct vmcost_maps){.mappings = 1,
                                       .size_bytes = 256 * MIB,
                                       .rss_bytes = 100 * MIB,
                                       .pss_bytes = 70 * MIB,
                                       .ksm_bytes = 40 * MIB,
                                       .anon_huge_bytes = 8 * MIB};
    p.all = p.guest_ram;
    p.all.mappings = 300;
    p.all.rss_bytes += 60 * MIB;
    p.all.pss_bytes += 40 * MIB;
    p.all.swap_bytes = 3 * MIB;
    p.pte_present = true;
    p.vm_pte_bytes = 1 * MIB;
    return p;
}

/* KSM keeps one copy for every three pages saved: a quarter is charged. */
static struct ksm_host_sample host_example(void)
{
    return (struct ksm_host_sample){.pages_shared = 10000, .pages_sharing = 30000};
}

static struct ksm_proc_sample ksm_example(void)
{
    return (struct ksm_proc_sample){
        .pid = 42,
        .present = KSM_BIT(KSM_P_MERGING_PAGES) | KSM_BIT(KSM_P_ZERO_PAGES),
        .merging_pages = 40 * MIB / PAGE,
        .zero_pages = 20 * MIB / PAGE,
    };
}

static void assert_adds_up(const struct vm_cost *c)
{
    CU_ASSERT_EQUAL(c->host_cost_bytes, c->guest_unique_bytes + c->ksm_shared_charge_bytes +
                                            c->qemu_own_bytes + c->page_tables_bytes);
}

static void test_example(void)
{
    struct vmcost_proc p = proc_example();
    struct ksm_host_sample h = host_example();
    struct ksm_proc_sample k = ksm_example();
    struct vmcost_input in = {.proc = &p,
                              .ksm_proc = &k,
                              .ksm_host = &h,
                              .page_size = PAGE,
                              .nominal_bytes = 256 * MIB,
                              .actual_bytes = 148 * MIB};
    struct vm_cost c;
    CU_ASSERT_EQUAL(vmcost_split(&in, &c), 0);
    CU_ASSERT_EQUAL(c.guest_ram_resident_bytes, 100 * MIB);
    CU_ASSERT_EQUAL(c.guest_unique_bytes, 60 * MIB);
    CU_ASSERT_EQUAL(c.ksm_shared_charge_bytes, 10 * MIB);
    CU_ASSERT_EQUAL(c.ksm_saved_bytes, 30 * MIB);
    CU_ASSERT_EQUAL(c.zero_pages_bytes, 20 * MIB);
    CU_ASSERT_EQUAL(c.qemu_own_bytes, 40 * MIB);
    CU_ASSERT_EQUAL(c.page_tables_bytes, 1 * MIB);
    CU_ASSERT_EQUAL(c.host_cost_bytes, 111 * MIB);
    CU_ASSERT_TRUE(c.balloon_known);
    CU_ASSERT_EQUAL(c.balloon_held_bytes, 108 * MIB);
    CU_ASSERT_EQUAL(c.thp_bytes, 8 * MIB);
    CU_ASSERT_EQUAL(c.swap_bytes, 3 * MIB);
    CU_ASSERT_TRUE(c.ksm_known);
    assert_adds_up(&c);
    /* The KSM pages split into the charge and the saving, exactly. */
    CU_ASSERT_EQUAL(c.guest_unique_bytes + c.ksm_shared_charge_bytes + c.ksm_saved_bytes,
                    c.guest_ram_resident_bytes);
}

static void test_ksm_stat_fallback(void)
{
    /* A kernel without smaps' KSM line: ksm_stat's merging pages instead,
     * capped at the resident guest RAM (the files are read apart). */
    struct vmcost_proc p = proc_example();
    p.ksm_field = false;
    p.guest_ram.ksm_bytes = p.all.ksm_bytes = 0;
    struct ksm_host_sample h = host_example();
    struct ksm_proc_sample k = ksm_example();
    struct vmcost_input in = {.proc = &p,
                              .ksm_proc = &k,
                              .ksm_host = &h,
                              .page_size = PAGE,
                              .nominal_bytes = -1,
                              .actual_bytes = -1};
    struct vm_cost c;
    CU_ASSERT_EQUAL(vmcost_split(&in, &c), 0);
    CU_ASSERT_EQUAL(c.guest_unique_bytes, 60 * MIB);
    CU_ASSERT_EQUAL(c.ksm_shared_charge_bytes, 10 * MIB);
    CU_ASSERT_FALSE(c.balloon_known);
    CU_ASSERT_EQUAL(c.balloon_held_bytes, 0);
    assert_adds_up(&c);

    k.merging_pages = 120 * MIB / PAGE; /* more than is resident */
    CU_ASSERT_EQUAL(vmcost_split(&in, &c), 0);
    CU_ASSERT_EQUAL(c.guest_unique_bytes, 0);
    CU_ASSERT_EQUAL(c.ksm_shared_charge_bytes + c.ksm_saved_bytes, 100 * MIB);
    assert_adds_up(&c);

    /* No ksm_stat and no KSM line: nothing is known to be shared. */
    in.ksm_proc = NULL;
    CU_ASSERT_EQUAL(vmcost_split(&in, &c), 0);
    CU_ASSERT_EQUAL(c.guest_unique_bytes, 100 * MIB);
    CU_ASSERT_EQUAL(c.ksm_shared_charge_bytes, 0);
    CU_ASSERT_EQUAL(c.zero_pages_bytes, 0);
    assert_adds_up(&c);
}

static void test_no_ksm_host(void)
{
    /* Without the host's counters nothing is known of sharing: the VM's KSM
     * pages are charged whole and nothing is said to be saved. */
    struct vmcost_proc p = proc_example();
    struct ksm_proc_sample k = ksm_example();
    struct vmcost_input in = {
        .proc = &p, .ksm_proc = &k, .page_size = PAGE, .nominal_bytes = 1, .actual_bytes = 2};
    struct vm_cost c;
    CU_ASSERT_EQUAL(vmcost_split(&in, &c), 0);
    CU_ASSERT_FALSE(c.ksm_known);
    CU_ASSERT_EQUAL(c.ksm_shared_charge_bytes, 40 * MIB);
    CU_ASSERT_EQUAL(c.ksm_saved_bytes, 0);
    CU_ASSERT_EQUAL(c.zero_pages_bytes, 20 * MIB); /* the VM's own count */
    CU_ASSERT_FALSE(c.balloon_known);              /* actual above nominal */
    assert_adds_up(&c);
}

static void test_refused(void)
{
    struct vmcost_proc p = proc_example();
    p.ram_found = false;
    struct vmcost_input in = {.proc = &p, .page_size = PAGE};
    struct vm_cost c = {.host_cost_bytes = 7};
    CU_ASSERT_EQUAL(vmcost_split(&in, &c), -ENODATA);
    CU_ASSERT_EQUAL(c.host_cost_bytes, 0);
    p.ram_found = true;
    in.page_size = 0;
    CU_ASSERT_EQUAL(vmcost_split(&in, &c), -EINVAL);
    in.page_size = PAGE;
    in.proc = NULL;
    CU_ASSERT_EQUAL(vmcost_split(&in, &c), -EINVAL);
    CU_ASSERT_EQUAL(vmcost_split(NULL, &c), -EINVAL);
    in.proc = &p;
    CU_ASSERT_EQUAL(vmcost_split(&in, NULL), -EINVAL);
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 20;
}

static void test_adds_up(void)
{
    /* A thousand varied processes, hosts and KSM states: the parts always
     * add up, and resident guest RAM is always unique + charge + saved. */
    uint64_t s = 1;
    for (int i = 0; i < 1000; i++) {
        struct vmcost_proc p = {.ram_found = true, .ksm_field = lcg(&s) % 2};
        p.guest_ram.rss_bytes = lcg(&s) % (64 * 1024) * PAGE;
        p.guest_ram.pss_bytes = lcg(&s) % (p.guest_ram.rss_bytes + 1);
        p.guest_ram.ksm_bytes = lcg(&s) % (p.guest_ram.rss_bytes / PAGE + 1) * PAGE;
        p.all.pss_bytes = p.guest_ram.pss_bytes + lcg(&s) % (256 * MIB);
        p.pte_present = lcg(&s) % 4 != 0;
        p.vm_pte_bytes = lcg(&s) % (4 * MIB);
        struct ksm_host_sample h = {.pages_shared = lcg(&s) % 100000,
                                    .pages_sharing = lcg(&s) % 400000};
        struct ksm_proc_sample k = {.present = KSM_BIT(KSM_P_MERGING_PAGES),
                                    .merging_pages = lcg(&s) % 100000};
        struct vmcost_input in = {.proc = &p,
                                  .ksm_proc = lcg(&s) % 3 ? &k : NULL,
                                  .ksm_host = lcg(&s) % 3 ? &h : NULL,
                                  .page_size = PAGE,
                                  .nominal_bytes = -1,
                                  .actual_bytes = -1};
        struct vm_cost c;
        CU_ASSERT_EQUAL_FATAL(vmcost_split(&in, &c), 0);
        assert_adds_up(&c);
        CU_ASSERT_EQUAL(c.guest_unique_bytes + c.ksm_shared_charge_bytes + c.ksm_saved_bytes,
                        c.guest_ram_resident_bytes);
    }
}

static void test_real_qemu(void)
{
    struct vmcost_proc p;
    CU_ASSERT_EQUAL_FATAL(vmcost_read(FIX("vmcost-qemu/proc"), 4100, 256 * MIB, &p), 0);
    struct ksm_host_sample h = host_example();
    struct vmcost_input in = {.proc = &p,
                              .ksm_host = &h,
                              .page_size = PAGE,
                              .nominal_bytes = 256 * MIB,
                              .actual_bytes = 200 * MIB};
    struct vm_cost c;
    CU_ASSERT_EQUAL(vmcost_split(&in, &c), 0);
    CU_ASSERT_EQUAL(c.guest_ram_resident_bytes, 78924 * KB);
    CU_ASSERT_EQUAL(c.guest_unique_bytes, (78924 - 46596) * KB);
    CU_ASSERT_EQUAL(c.qemu_own_bytes, (83786 - 36593) * KB);
    CU_ASSERT_EQUAL(c.page_tables_bytes, 480 * KB);
    CU_ASSERT_EQUAL(c.ksm_shared_charge_bytes + c.ksm_saved_bytes, 46596 * KB);
    CU_ASSERT_EQUAL(c.balloon_held_bytes, 56 * MIB);
    assert_adds_up(&c);
}

static CU_TestInfo split_tests[] = {
    {"the parts of an example", test_example},
    {"KSM pages from ksm_stat", test_ksm_stat_fallback},
    {"no host KSM sample", test_no_ksm_host},
    {"refused input", test_refused},
    {"the parts add up", test_adds_up},
    {"a real QEMU end to end", test_real_qemu},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"vmcost split", NULL, NULL, NULL, NULL, split_tests},
    CU_SUITE_INFO_NULL,
};
