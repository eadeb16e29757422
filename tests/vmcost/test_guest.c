/*
 * The guest's own split from an agent report: cache (file LRU), anon (anon
 * LRU) and kernel + other; from a v2 report shmem, slab, kernel, the balloon
 * counted as used and the rest; a report missing a figure; a hostile one
 * whose figures do not add up. And what the kernel kept at boot, learned
 * only from reports where the balloon does not hide it.
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
    CU_ASSERT_EQUAL(vmcost_guest_split(&r, 0, &g), 0);
    CU_ASSERT_EQUAL(g.total_bytes, 240 * MIB);
    CU_ASSERT_EQUAL(g.used_bytes, 90 * MIB);
    CU_ASSERT_EQUAL(g.cache_bytes, 42 * MIB);
    CU_ASSERT_EQUAL(g.anon_bytes, 30 * MIB);
    CU_ASSERT_EQUAL(g.kernel_other_bytes, 18 * MIB);
    CU_ASSERT_EQUAL(g.cache_bytes + g.anon_bytes + g.kernel_other_bytes, g.used_bytes);
    CU_ASSERT_FALSE(g.kinds_known); /* a v1 report */
    CU_ASSERT_EQUAL(g.other_bytes, 0);
}

#define KIB 1024ull

/* The tiny guest as measured at 256 MiB nominal (issue 14): MemTotal 218.5
 * MiB, 36.5 MiB used, of which slab 14 (9 reclaimable), VmallocUsed 7,
 * Shmem 2.4 (the initramfs root), stacks 0.7, page tables 0.06. */
static struct proto_report tiny_v2(void)
{
    struct proto_report r = {0};
    r.valid_mask = proto_report_valid_bits(2);
    r.mem_total_bytes = 223744 * KIB;
    r.mem_free_bytes = r.mem_total_bytes - 37376 * KIB;
    r.active_file_bytes = 600 * KIB;
    r.inactive_file_bytes = 424 * KIB; /* 1 MiB of page cache */
    r.active_anon_bytes = 2560 * KIB;
    r.inactive_anon_bytes = 512 * KIB; /* 3 MiB: 2.4 of them the tmpfs root */
    r.shmem_bytes = 2458 * KIB;
    r.slab_reclaimable_bytes = 9216 * KIB;
    r.slab_unreclaimable_bytes = 5120 * KIB;
    r.kernel_stack_bytes = 720 * KIB;
    r.page_tables_bytes = 64 * KIB;
    r.vmalloc_used_bytes = 7168 * KIB;
    return r;
}

static void test_kinds(void)
{
    struct proto_report r = tiny_v2();
    struct vmcost_guest g;
    CU_ASSERT_EQUAL_FATAL(vmcost_guest_split(&r, 0, &g), 0);
    CU_ASSERT_TRUE(g.kinds_known);
    CU_ASSERT_EQUAL(g.used_bytes, 37376 * KIB);
    CU_ASSERT_EQUAL(g.cache_bytes, 1024 * KIB);
    CU_ASSERT_EQUAL(g.anon_bytes, 3072 * KIB); /* shmem included */
    CU_ASSERT_EQUAL(g.shmem_bytes, 2458 * KIB);
    CU_ASSERT_EQUAL(g.kernel_other_bytes, 33280 * KIB);
    CU_ASSERT_EQUAL(g.slab_reclaimable_bytes, 9216 * KIB);
    CU_ASSERT_EQUAL(g.slab_unreclaimable_bytes, 5120 * KIB);
    /* The vmap'd stacks are inside VmallocUsed: counted once. */
    CU_ASSERT_EQUAL(g.kernel_bytes, (64 + 7168) * KIB);
    CU_ASSERT_EQUAL(g.balloon_bytes, 0);
    CU_ASSERT_EQUAL(g.other_bytes, (33280 - 9216 - 5120 - 64 - 7168) * KIB);
    CU_ASSERT_EQUAL(g.cache_bytes + g.anon_bytes + g.slab_reclaimable_bytes +
                        g.slab_unreclaimable_bytes + g.kernel_bytes + g.other_bytes,
                    g.used_bytes);

    /* deflate-on-oom: 8 MiB of balloon counted as used come out of "other". */
    CU_ASSERT_EQUAL_FATAL(vmcost_guest_split(&r, 8192 * KIB, &g), 0);
    CU_ASSERT_EQUAL(g.balloon_bytes, 8192 * KIB);
    CU_ASSERT_EQUAL(g.other_bytes, (33280 - 9216 - 5120 - 64 - 7168 - 8192) * KIB);

    /* A kernel whose VmallocUsed says 0 (4.4 to 5.2): the stacks count. */
    r.vmalloc_used_bytes = 0;
    CU_ASSERT_EQUAL_FATAL(vmcost_guest_split(&r, 0, &g), 0);
    CU_ASSERT_EQUAL(g.kernel_bytes, (64 + 720) * KIB);

    /* Any of the six missing: no kinds, the v1 split stands. */
    static const enum proto_report_field kinds[] = {
        PROTO_R_SHMEM,        PROTO_R_SLAB_RECLAIMABLE, PROTO_R_SLAB_UNRECLAIMABLE,
        PROTO_R_KERNEL_STACK, PROTO_R_PAGE_TABLES,      PROTO_R_VMALLOC_USED,
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        r = tiny_v2();
        r.valid_mask &= ~PROTO_R_BIT(kinds[i]);
        CU_ASSERT_EQUAL(vmcost_guest_split(&r, 0, &g), 0);
        CU_ASSERT_FALSE(g.kinds_known);
        CU_ASSERT_EQUAL(g.kernel_other_bytes, 33280 * KIB);
        CU_ASSERT_EQUAL(g.shmem_bytes, 0);
    }

    /* Hostile kinds: sums saturate, "other" floors at 0. */
    r = tiny_v2();
    r.page_tables_bytes = UINT64_MAX;
    r.slab_reclaimable_bytes = UINT64_MAX;
    CU_ASSERT_EQUAL_FATAL(vmcost_guest_split(&r, UINT64_MAX, &g), 0);
    CU_ASSERT_EQUAL(g.kernel_bytes, UINT64_MAX);
    CU_ASSERT_EQUAL(g.other_bytes, 0);
}

static struct proto_report total_report(uint64_t total_bytes, uint64_t uptime_ms)
{
    struct proto_report r = {0};
    r.valid_mask = PROTO_R_BIT(PROTO_R_MEM_TOTAL) | PROTO_R_BIT(PROTO_R_UPTIME);
    r.mem_total_bytes = total_bytes;
    r.uptime_ms = uptime_ms;
    return r;
}

/* Notes a report with MemTotal total and the balloon at actual (MiB). */
static void note(struct vmcost_boot_reserve *b, uint64_t nominal, uint64_t actual, uint64_t total,
                 bool in_total, uint64_t uptime_ms)
{
    struct proto_report r = total_report(total, uptime_ms);
    struct vmcost_boot_sample s = {nominal, actual, in_total, &r};
    vmcost_boot_reserve_note(b, &s);
}

static void test_boot_reserve(void)
{
    const uint64_t nominal = 256 * MIB, total = 223744 * KIB; /* 37.5 MiB kept at boot */
    struct vmcost_boot_reserve b = {0};
    /* The balloon empty: two reports in a row agree, and it is known. */
    note(&b, nominal, nominal, total, false, 1000);
    CU_ASSERT_FALSE(b.known);
    note(&b, nominal, nominal, total, false, 2000);
    CU_ASSERT_TRUE(b.known);
    CU_ASSERT_EQUAL(b.reserved_bytes, 38400 * KIB);
    /* The balloon inflates (no deflate-on-oom: MemTotal shrinks with it):
     * nominal - MemTotal would count the balloon; the value learned stays. */
    note(&b, nominal, 160 * MIB, total - 96 * MIB, false, 3000);
    note(&b, nominal, 160 * MIB, total - 96 * MIB, false, 4000);
    CU_ASSERT_TRUE(b.known);
    CU_ASSERT_EQUAL(b.reserved_bytes, 38400 * KIB);

    /* ballastd started with the balloon already inflated: unknown, however
     * many reports agree, until the balloon is empty. */
    b = (struct vmcost_boot_reserve){0};
    for (int i = 0; i < 4; i++)
        note(&b, nominal, 160 * MIB, total - 96 * MIB, false, 1000 + (uint64_t)i);
    CU_ASSERT_FALSE(b.known);

    /* deflate-on-oom: the balloon inside MemTotal, as the engine saw it... */
    note(&b, nominal, 160 * MIB, total, true, 2000);
    note(&b, nominal, 160 * MIB, total, true, 2001);
    CU_ASSERT_TRUE(b.known);
    CU_ASSERT_EQUAL(b.reserved_bytes, 38400 * KIB);
    /* ... or as this MemTotal, above the balloon's actual, shows. */
    b = (struct vmcost_boot_reserve){0};
    note(&b, nominal, 160 * MIB, total, false, 100);
    note(&b, nominal, 160 * MIB, total, false, 200);
    CU_ASSERT_TRUE(b.known);

    /* A report sampled before the balloon deflated, read after: its old
     * MemTotal paired with the new actual. The next report disagrees, so
     * nothing is learned from the pair; the one after confirms the truth. */
    b = (struct vmcost_boot_reserve){0};
    note(&b, nominal, nominal, total - 64 * MIB, false, 100);
    note(&b, nominal, nominal, total, false, 200);
    CU_ASSERT_FALSE(b.known);
    note(&b, nominal, nominal, total, false, 300);
    CU_ASSERT_TRUE(b.known);
    CU_ASSERT_EQUAL(b.reserved_bytes, 38400 * KIB);

    /* A reboot (uptime backwards) or another nominal forgets it. */
    note(&b, nominal, nominal, total, false, 50);
    CU_ASSERT_FALSE(b.known);
    note(&b, nominal, nominal, total, false, 60);
    CU_ASSERT_TRUE(b.known);
    note(&b, 512 * MIB, 512 * MIB, total, false, 70);
    CU_ASSERT_FALSE(b.known);

    /* Hostile or unknown figures teach nothing. */
    b = (struct vmcost_boot_reserve){0};
    for (int i = 0; i < 3; i++)
        note(&b, nominal, nominal, nominal + 1, false, 10 + (uint64_t)i); /* above nominal */
    for (int i = 0; i < 3; i++)
        note(&b, nominal, nominal, 0, false, 20 + (uint64_t)i);
    for (int i = 0; i < 3; i++)
        note(&b, 0, 0, total, false, 30 + (uint64_t)i); /* nominal unknown */
    CU_ASSERT_FALSE(b.known);
    struct proto_report r = total_report(total, 40);
    r.valid_mask = 0;
    struct vmcost_boot_sample s = {nominal, nominal, false, &r};
    vmcost_boot_reserve_note(&b, &s);
    vmcost_boot_reserve_note(&b, &s);
    CU_ASSERT_FALSE(b.known);
    vmcost_boot_reserve_note(NULL, &s);
    vmcost_boot_reserve_note(&b, NULL);
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
        CU_ASSERT_EQUAL(vmcost_guest_split(&r, 0, &g), -ENODATA);
        CU_ASSERT_EQUAL(g.used_bytes, 0);
    }
    /* Cached, Buffers and MemAvailable are not needed. */
    struct proto_report r = report();
    r.valid_mask &= ~(PROTO_R_BIT(PROTO_R_CACHED) | PROTO_R_BIT(PROTO_R_BUFFERS) |
                      PROTO_R_BIT(PROTO_R_MEM_AVAILABLE));
    struct vmcost_guest g;
    CU_ASSERT_EQUAL(vmcost_guest_split(&r, 0, &g), 0);
    CU_ASSERT_EQUAL(vmcost_guest_split(NULL, 0, &g), -EINVAL);
    CU_ASSERT_EQUAL(vmcost_guest_split(&r, 0, NULL), -EINVAL);
}

static void test_hostile(void)
{
    /* Free above total, LRU lists beyond what is used, sums past 64 bits:
     * nothing wraps. */
    struct proto_report r = report();
    r.mem_free_bytes = r.mem_total_bytes + 1;
    struct vmcost_guest g;
    CU_ASSERT_EQUAL(vmcost_guest_split(&r, 0, &g), 0);
    CU_ASSERT_EQUAL(g.used_bytes, 0);
    CU_ASSERT_EQUAL(g.kernel_other_bytes, 0);
    r = report();
    r.active_file_bytes = UINT64_MAX;
    r.active_anon_bytes = UINT64_MAX;
    CU_ASSERT_EQUAL(vmcost_guest_split(&r, 0, &g), 0);
    CU_ASSERT_EQUAL(g.cache_bytes, UINT64_MAX);
    CU_ASSERT_EQUAL(g.anon_bytes, UINT64_MAX);
    CU_ASSERT_EQUAL(g.kernel_other_bytes, 0);
}

static CU_TestInfo guest_tests[] = {
    {"cache, anon, kernel + other", test_split},
    {"v2: shmem, slab, kernel, balloon, other", test_kinds},
    {"kernel reserved at boot", test_boot_reserve},
    {"a report missing a figure", test_missing},
    {"a hostile report", test_hostile},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"vmcost guest", NULL, NULL, NULL, NULL, guest_tests},
    CU_SUITE_INFO_NULL,
};
