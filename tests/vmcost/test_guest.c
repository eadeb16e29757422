/*
 * The guest's own split from an agent report: cache (file LRU), anon (anon
 * LRU) and kernel + other; a report missing a figure; a hostile one whose
 * figures do not add up.
 */
#include "cunit_main.h"
#include "vmcost.h"

#include <errno.h>

#define MIB (1024ull * 1024)

static struct proto_report report(void)
{
    struct proto_report r = {0};
    r.valid_mask = PROTO_R_BIT(PROTO_R_MEM_TOTAL) | PROTO_R_BIT(PROTO_R_MEM_FREE) |
                   PROTO_R_BIT(PROTO_R_MEM_AVAILABLE) | PROTO_R_BIT(PROTO_R_CACHED) |
                   PROTO_R_BIT(PROTO_R_BUFFERS) | PROTO_R_BIT(PROTO_R_ACTIVE_FILE) |
                   PROTO_R_BIT(PROTO_R_INACTIVE_FILE) | PROTO_R_BIT(PROTO_R_ACTIVE_ANON) |
                   PROTO_R_BIT(PROTO_R_INACTIVE_ANON);
    r.mem_total_bytes = 240 * MIB;
    r.mem_free_bytes = 150 * MIB;
    r.mem_available_bytes = 180 * MIB;
    /* A tmpfs root: Cached (50) counts its 10 MiB of shmem, which the
     * kernel keeps on the anon LRU. */
    r.cached_bytes = 50 * MIB;
    r.buffers_bytes = 2 * MIB;
    r.active_file_bytes = 25 * MIB;
    r.inactive_file_bytes = 17 * MIB;
    r.active_anon_bytes = 20 * MIB;
    r.inactive_anon_bytes = 10 * MIB;
    return r;
}

static void test_split(void)
{
    struct proto_report r = report();
    struct vmcost_guest g;
    CU_ASSERT_EQUAL(vmcost_guest_split(&r, &g), 0);
    CU_ASSERT_EQUAL(g.total_bytes, 240 * MIB);
    CU_ASSERT_EQUAL(g.used_bytes, 90 * MIB);
    CU_ASSERT_EQUAL(g.cache_bytes, 42 * MIB);
    CU_ASSERT_EQUAL(g.anon_bytes, 30 * MIB);
    CU_ASSERT_EQUAL(g.kernel_other_bytes, 18 * MIB);
    CU_ASSERT_EQUAL(g.cache_bytes + g.anon_bytes + g.kernel_other_bytes, g.used_bytes);
}

static void test_missing(void)
{
    static const enum proto_report_field needed[] = {
        PROTO_R_MEM_TOTAL,     PROTO_R_MEM_FREE,    PROTO_R_ACTIVE_FILE,
        PROTO_R_INACTIVE_FILE, PROTO_R_ACTIVE_ANON, PROTO_R_INACTIVE_ANON,
    };
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        struct proto_report r = report();
        r.valid_mask &= ~PROTO_R_BIT(needed[i]);
        struct vmcost_guest g = {.used_bytes = 7};
        CU_ASSERT_EQUAL(vmcost_guest_split(&r, &g), -ENODATA);
        CU_ASSERT_EQUAL(g.used_bytes, 0);
    }
    /* Cached, Buffers and MemAvailable are not needed. */
    struct proto_report r = report();
    r.valid_mask &= ~(PROTO_R_BIT(PROTO_R_CACHED) | PROTO_R_BIT(PROTO_R_BUFFERS) |
                      PROTO_R_BIT(PROTO_R_MEM_AVAILABLE));
    struct vmcost_guest g;
    CU_ASSERT_EQUAL(vmcost_guest_split(&r, &g), 0);
    CU_ASSERT_EQUAL(vmcost_guest_split(NULL, &g), -EINVAL);
    CU_ASSERT_EQUAL(vmcost_guest_split(&r, NULL), -EINVAL);
}

static void test_hostile(void)
{
    /* Free above total, LRU lists beyond what is used, sums past 64 bits:
     * nothing wraps. */
    struct proto_report r = report();
    r.mem_free_bytes = r.mem_total_bytes + 1;
    struct vmcost_guest g;
    CU_ASSERT_EQUAL(vmcost_guest_split(&r, &g), 0);
    CU_ASSERT_EQUAL(g.used_bytes, 0);
    CU_ASSERT_EQUAL(g.kernel_other_bytes, 0);
    r = report();
    r.active_file_bytes = UINT64_MAX;
    r.active_anon_bytes = UINT64_MAX;
    CU_ASSERT_EQUAL(vmcost_guest_split(&r, &g), 0);
    CU_ASSERT_EQUAL(g.cache_bytes, UINT64_MAX);
    CU_ASSERT_EQUAL(g.anon_bytes, UINT64_MAX);
    CU_ASSERT_EQUAL(g.kernel_other_bytes, 0);
}

static CU_TestInfo guest_tests[] = {
    {"cache, anon, kernel + other", test_split},
    {"a report missing a figure", test_missing},
    {"a hostile report", test_hostile},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"vmcost guest", NULL, NULL, NULL, NULL, guest_tests},
    CU_SUITE_INFO_NULL,
};
