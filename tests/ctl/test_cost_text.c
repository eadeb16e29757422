/*
 * The host cost as text: MiB parts that add up to their rounded sum, the
 * explain lines (known, unknown, a guest whose figures do not add up), the
 * compact column.
 */
#include "cost_text.h"
#include "cunit_main.h"

#include <string.h>

#define MIB (1024ull * 1024)

static void test_mib_parts(void)
{
    /* 30.4 + 12.4 + 40.4 + 1.4 = 84.6 shows as 85, not 30 + 12 + 40 + 1 =
     * 83: the remainders are equal, so the first two get the MiB left over. */
    uint64_t b[4] = {30 * MIB + 4 * MIB / 10, 12 * MIB + 4 * MIB / 10, 40 * MIB + 4 * MIB / 10,
                     1 * MIB + 4 * MIB / 10};
    uint64_t m[4];
    CU_ASSERT_EQUAL(cost_text_mib_parts(b, 4, m), 85);
    CU_ASSERT_EQUAL(m[0] + m[1] + m[2] + m[3], 85);
    CU_ASSERT_EQUAL(m[0], 31);
    CU_ASSERT_EQUAL(m[1], 13);
    CU_ASSERT_EQUAL(m[2], 40);
    CU_ASSERT_EQUAL(m[3], 1);
    /* The largest remainder first. */
    uint64_t c[3] = {MIB / 10, 9 * MIB / 10, MIB / 2 + 1};
    CU_ASSERT_EQUAL(cost_text_mib_parts(c, 3, m), 2);
    CU_ASSERT_EQUAL(m[0], 0);
    CU_ASSERT_EQUAL(m[1], 1);
    CU_ASSERT_EQUAL(m[2], 1);
    /* Exact MiB stay as they are; nothing is nothing. */
    uint64_t d[2] = {3 * MIB, 0};
    CU_ASSERT_EQUAL(cost_text_mib_parts(d, 2, m), 3);
    CU_ASSERT_EQUAL(m[0], 3);
    CU_ASSERT_EQUAL(m[1], 0);
    /* Every part just under a MiB: each rounds up. */
    uint64_t e[4] = {MIB - 1, MIB - 1, MIB - 1, MIB - 1};
    CU_ASSERT_EQUAL(cost_text_mib_parts(e, 4, m), 4);
    CU_ASSERT_EQUAL(m[0] + m[1] + m[2] + m[3], 4);
}

static void test_explain(void)
{
    struct ctl_vm_cost c;
    ctl_vm_cost_init(&c);
    c.age_ms = 12400;
    c.guest_unique_bytes = 30 * MIB;
    c.ksm_shared_charge_bytes = 12 * MIB;
    c.qemu_own_bytes = 43 * MIB;
    c.page_tables_bytes = 1 * MIB;
    c.host_cost_bytes = 86 * MIB;
    c.ksm_saved_bytes = 70 * MIB;
    c.zero_pages_bytes = 20 * MIB;
    c.balloon_held_bytes = 108 * MIB;
    c.thp_bytes = 0;
    struct ctl_guest_mem g;
    ctl_guest_mem_init(&g); /* an agent from before protocol v2 */
    g.age_ms = 1500;
    g.used_bytes = 90 * MIB;
    g.cache_bytes = 40 * MIB;
    g.anon_bytes = 30 * MIB;
    g.kernel_other_bytes = 20 * MIB;
    GString *out = g_string_new(NULL);
    cost_text_explain(out, &c, &g);
    CU_ASSERT_STRING_EQUAL(out->str,
                           "  host cost 86 MiB = guest unique 30 + KSM share 12 + QEMU own 43 + "
                           "page tables 1; KSM saved 70, zero pages 20; balloon holds 108; "
                           "THP-backed 0 (read 12 s ago)\n"
                           "  guest memory: used 90 MiB = cache 40 + anon 30 + kernel+other 20 "
                           "(report 1 s ago)\n");
    /* Unknown: why; a balloon unknown is "-"; a guest whose figures do not add up. */
    g_string_truncate(out, 0);
    c.balloon_held_bytes = -1;
    g.used_bytes = 10 * MIB;
    g.kernel_other_bytes = 0;
    cost_text_explain(out, &c, &g);
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "balloon holds -;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "used 10 MiB of which cache 40 + anon 30"));
    /* The reserve is known from MemTotal alone, with an old agent too. */
    g_string_truncate(out, 0);
    g.used_bytes = 90 * MIB;
    g.kernel_other_bytes = 20 * MIB;
    g.kernel_reserved_bytes = 37 * MIB + MIB / 2;
    cost_text_explain(out, &c, &g);
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "  guest memory: used 90 MiB = cache 40 + anon 30 + "
                                            "kernel+other 20 (report 1 s ago); kernel reserved at "
                                            "boot 38\n"));
    g_string_truncate(out, 0);
    ctl_vm_cost_init(&c);
    ctl_guest_mem_init(&g);
    cost_text_explain(out, &c, &g);
    CU_ASSERT_STRING_EQUAL(out->str, "  host cost: unknown (not read yet)\n"
                                     "  guest memory: unknown (no agent report with the LRU "
                                     "figures)\n");
    g_string_truncate(out, 0);
    ctl_copy(c.error, sizeof(c.error), "Permission denied");
    cost_text_explain(out, &c, &g);
    CU_ASSERT_TRUE(g_str_has_prefix(out->str, "  host cost: unknown (Permission denied)\n"));
    g_string_free(out, TRUE);
}

/* A v2 agent: the tiny guest as measured (issue 14), in KiB. */
static void guest_kinds(struct ctl_guest_mem *g)
{
    const int64_t kib = 1024;
    ctl_guest_mem_init(g);
    g->age_ms = 1200;
    g->used_bytes = 37376 * kib;
    g->cache_bytes = 1024 * kib;
    g->anon_bytes = 3072 * kib;
    g->kernel_other_bytes = 33280 * kib;
    g->shmem_bytes = 2458 * kib;
    g->slab_reclaimable_bytes = 9216 * kib;
    g->slab_unreclaimable_bytes = 5120 * kib;
    g->kernel_stack_bytes = 720 * kib;
    g->page_tables_bytes = 64 * kib;
    g->vmalloc_used_bytes = 7168 * kib;
    g->kernel_bytes = (64 + 7168) * kib;
    g->balloon_bytes = 0;
    g->other_bytes = (33280 - 9216 - 5120 - 64 - 7168) * kib;
    g->kernel_reserved_bytes = 38400 * kib;
}

static void test_explain_kinds(void)
{
    struct ctl_vm_cost c;
    ctl_vm_cost_init(&c);
    struct ctl_guest_mem g;
    guest_kinds(&g);
    GString *out = g_string_new(NULL);
    cost_text_explain(out, &c, &g);
    /* 1 + 2.4 + 0.6 + 14 + 7.06 + 11.44 = 36.5: the parts add up to 37. */
    CU_ASSERT_STRING_EQUAL(out->str,
                           "  host cost: unknown (not read yet)\n"
                           "  guest memory: used 37 MiB = cache 1 + shmem 2 + anon 1 + slab 14 "
                           "(reclaimable 9) + kernel 7 (stacks 1, page tables 0, vmalloc 7) + "
                           "other 12 (report 1 s ago); kernel reserved at boot 38\n");
    /* deflate-on-oom: the balloon the guest counts as used is its own part;
     * the reserve unknown is left out. */
    g_string_truncate(out, 0);
    g.used_bytes += 64 * MIB;
    g.kernel_other_bytes += 64 * MIB;
    g.balloon_bytes = 64 * MIB;
    g.kernel_reserved_bytes = -1;
    cost_text_explain(out, &c, &g);
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "guest memory: used 101 MiB = cache 1 + shmem 2 + "
                                            "anon 1 + slab 14 (reclaimable 9) + kernel 7 (stacks "
                                            "1, page tables 0, vmalloc 7) + balloon 64 + other 12 "
                                            "(report 1 s ago)\n"));
    /* Figures that do not add up (untrusted): "of which". */
    g_string_truncate(out, 0);
    guest_kinds(&g);
    g.used_bytes = 10 * MIB;
    cost_text_explain(out, &c, &g);
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "used 10 MiB of which cache 1 + shmem 2"));
    /* One kind unknown: the v1 line. */
    g_string_truncate(out, 0);
    guest_kinds(&g);
    g.other_bytes = -1;
    cost_text_explain(out, &c, &g);
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "used 37 MiB = cache 1 + anon 3 + kernel+other 33"));
    /* Hostile sizes: no overflow, no "=". */
    g_string_truncate(out, 0);
    guest_kinds(&g);
    g.cache_bytes = g.shmem_bytes = g.other_bytes = INT64_MAX;
    cost_text_explain(out, &c, &g);
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "used 37 MiB of which"));
    g_string_free(out, TRUE);
}

static void test_compact(void)
{
    char buf[16];
    CU_ASSERT_STRING_EQUAL(cost_text_compact(-1, buf, sizeof(buf)), "-");
    CU_ASSERT_STRING_EQUAL(cost_text_compact(0, buf, sizeof(buf)), "0M");
    CU_ASSERT_STRING_EQUAL(cost_text_compact(86 * MIB + 1, buf, sizeof(buf)), "86M");
    CU_ASSERT_STRING_EQUAL(cost_text_compact(999 * MIB, buf, sizeof(buf)), "999M");
    CU_ASSERT_STRING_EQUAL(cost_text_compact(1229 * MIB, buf, sizeof(buf)), "1.2G");
    CU_ASSERT_STRING_EQUAL(cost_text_compact(2000ll * 1024 * MIB, buf, sizeof(buf)), "2000G");
}

static CU_TestInfo cost_text_tests[] = {
    {"MiB parts add up", test_mib_parts},
    {"explain lines", test_explain},
    {"explain: the v2 split", test_explain_kinds},
    {"compact column", test_compact},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"cost_text", NULL, NULL, NULL, NULL, cost_text_tests},
    CU_SUITE_INFO_NULL,
};
