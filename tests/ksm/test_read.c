/*
 * KSM readers on fixture trees: a 6.18 host merging a fleet, a 5.15 host with
 * none of the newer files, a 6.1 ksm_stat, and hostile content (garbage,
 * negative, overflow, empty, NUL bytes, oversized files, odd stat lines).
 */
#include "cunit_main.h"
#include "ksm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX(p) BALLAST_FIXTURES "/" p

static void test_host_618(void)
{
    struct ksm_host_sample h;
    CU_ASSERT_EQUAL(ksm_read_host(FIX("ksm-6.18/sysfs"), &h), 0);
    CU_ASSERT_EQUAL(h.invalid, 0);
    /* Every known file exists in the 6.18 fixture. */
    CU_ASSERT_EQUAL(h.present, (UINT32_C(1) << KSM_F_COUNT) - 1);
    CU_ASSERT_EQUAL(h.run, 1);
    CU_ASSERT_EQUAL(h.pages_to_scan, 1000);
    CU_ASSERT_EQUAL(h.sleep_ms, 20);
    CU_ASSERT_EQUAL(h.use_zero_pages, 1);
    CU_ASSERT_EQUAL(h.advisor_mode, KSM_ADVISOR_NONE);
    CU_ASSERT_EQUAL(h.advisor_max_cpu_pct, 70);
    CU_ASSERT_EQUAL(h.advisor_target_scan_time_s, 200);
    CU_ASSERT_EQUAL(h.advisor_min_pages_to_scan, 500);
    CU_ASSERT_EQUAL(h.advisor_max_pages_to_scan, 30000);
    CU_ASSERT_EQUAL(h.pages_shared, 10000);
    CU_ASSERT_EQUAL(h.pages_sharing, 60000);
    CU_ASSERT_EQUAL(h.pages_unshared, 30000);
    CU_ASSERT_EQUAL(h.pages_volatile, 2000);
    CU_ASSERT_EQUAL(h.pages_scanned, 2400000);
    CU_ASSERT_EQUAL(h.pages_skipped, 1200);
    CU_ASSERT_EQUAL(h.full_scans, 7);
    CU_ASSERT_EQUAL(h.ksm_zero_pages, 20000);
    CU_ASSERT_EQUAL(h.general_profit_bytes, 321152000);
    CU_ASSERT_EQUAL(h.max_page_sharing, 256);
    CU_ASSERT_TRUE(ksm_host_has(&h, KSM_F_SMART_SCAN));
    CU_ASSERT_STRING_EQUAL(ksm_host_field_name(KSM_F_SLEEP_MILLISECS), "sleep_millisecs");
    CU_ASSERT_PTR_NULL(ksm_host_field_name(KSM_F_COUNT));
}

static void test_host_515(void)
{
    struct ksm_host_sample h;
    CU_ASSERT_EQUAL(ksm_read_host(FIX("ksm-5.15/sysfs"), &h), 0);
    CU_ASSERT_EQUAL(h.invalid, 0);
    CU_ASSERT_TRUE(ksm_host_has(&h, KSM_F_PAGES_SHARING));
    CU_ASSERT_EQUAL(h.pages_sharing, 4000);
    CU_ASSERT_EQUAL(h.full_scans, 3);
    /* The newer files are absent, not zero-and-present. */
    CU_ASSERT_FALSE(ksm_host_has(&h, KSM_F_KSM_ZERO_PAGES));
    CU_ASSERT_FALSE(ksm_host_has(&h, KSM_F_GENERAL_PROFIT));
    CU_ASSERT_FALSE(ksm_host_has(&h, KSM_F_ADVISOR_MODE));
    CU_ASSERT_FALSE(ksm_host_has(&h, KSM_F_ADVISOR_MAX_CPU));
    CU_ASSERT_FALSE(ksm_host_has(&h, KSM_F_SMART_SCAN));
    CU_ASSERT_FALSE(ksm_host_has(&h, KSM_F_PAGES_SCANNED));
}

static void test_host_missing(void)
{
    struct ksm_host_sample h;
    CU_ASSERT_EQUAL(ksm_read_host(FIX("ksm-does-not-exist"), &h), -ENOENT);
    /* A directory without `run` is a kernel without KSM. */
    CU_ASSERT_EQUAL(ksm_read_host(FIX("ksm-6.18/proc"), &h), -ENOENT);
    CU_ASSERT_EQUAL(ksm_read_host(FIX("ksm-6.18/sysfs/run"), &h), -ENOTDIR);
    CU_ASSERT_EQUAL(ksm_read_host(FIX("ksm-6.18/sysfs"), NULL), -EINVAL);
}

static void test_host_garbage(void)
{
    struct ksm_host_sample h;
    CU_ASSERT_EQUAL(ksm_read_host(FIX("ksm-garbage/sysfs"), &h), -EINVAL);
    /* Valid ones survive. */
    CU_ASSERT_TRUE(ksm_host_has(&h, KSM_F_RUN));
    CU_ASSERT_EQUAL(h.run, 1);
    CU_ASSERT_TRUE(ksm_host_has(&h, KSM_F_GENERAL_PROFIT));
    CU_ASSERT_EQUAL(h.general_profit_bytes, -123456);
    CU_ASSERT_TRUE(ksm_host_has(&h, KSM_F_PAGES_UNSHARED));
    CU_ASSERT_EQUAL(h.pages_unshared, 7);
    CU_ASSERT_TRUE(ksm_host_has(&h, KSM_F_PAGES_VOLATILE));
    CU_ASSERT_EQUAL(h.pages_volatile, UINT64_MAX);
    /* Each hostile file is flagged, not half-parsed. */
    const enum ksm_host_field bad[] = {
        KSM_F_PAGES_TO_SCAN, KSM_F_SLEEP_MILLISECS,  KSM_F_PAGES_SHARING,   KSM_F_PAGES_SHARED,
        KSM_F_ADVISOR_MODE,  KSM_F_KSM_ZERO_PAGES,   KSM_F_FULL_SCANS,      KSM_F_USE_ZERO_PAGES,
        KSM_F_SMART_SCAN,    KSM_F_MAX_PAGE_SHARING, KSM_F_ADVISOR_MAX_CPU, KSM_F_PAGES_SCANNED,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_TRUE(h.invalid & KSM_BIT(bad[i]));
        CU_ASSERT_FALSE(ksm_host_has(&h, bad[i]));
    }
    CU_ASSERT_EQUAL(h.pages_to_scan, 0);
    CU_ASSERT_EQUAL(h.pages_sharing, 0);
    /* Absent files are neither present nor invalid. */
    CU_ASSERT_FALSE((h.present | h.invalid) & KSM_BIT(KSM_F_STABLE_NODE_DUPS));
}

static void test_proc_618(void)
{
    struct ksm_proc_sample p;
    CU_ASSERT_EQUAL(ksm_read_proc(FIX("ksm-6.18/proc"), 1234, &p), 0);
    CU_ASSERT_EQUAL(p.pid, 1234);
    CU_ASSERT_EQUAL(p.invalid, 0);
    CU_ASSERT_EQUAL(p.rmap_items, 25000);
    CU_ASSERT_EQUAL(p.zero_pages, 5000);
    CU_ASSERT_EQUAL(p.merging_pages, 14000);
    CU_ASSERT_EQUAL(p.process_profit_bytes, 76224000);
    CU_ASSERT_FALSE(p.merge_any);
    CU_ASSERT_TRUE(p.mergeable);
    /* ksm_stat had the merging count: the separate file is not read. */
    CU_ASSERT_EQUAL(p.present,
                    ((UINT32_C(1) << KSM_P_COUNT) - 1) & ~KSM_BIT(KSM_P_MERGING_PAGES_FILE));
}

static void test_proc_old(void)
{
    struct ksm_proc_sample p;
    /* 5.15: the process exists but has no KSM files. */
    CU_ASSERT_EQUAL(ksm_read_proc(FIX("ksm-5.15/proc"), 1234, &p), -EOPNOTSUPP);
    CU_ASSERT_EQUAL(p.present, 0);
    /* 6.1: rmap items in ksm_stat, merging pages only in the separate file. */
    CU_ASSERT_EQUAL(ksm_read_proc(FIX("ksm-6.1/proc"), 1234, &p), 0);
    CU_ASSERT_EQUAL(p.rmap_items, 800);
    CU_ASSERT_EQUAL(p.merging_pages, 300);
    CU_ASSERT_TRUE(p.present & KSM_BIT(KSM_P_MERGING_PAGES));
    CU_ASSERT_FALSE(p.present & KSM_BIT(KSM_P_ZERO_PAGES));
    CU_ASSERT_FALSE(p.present & KSM_BIT(KSM_P_PROCESS_PROFIT));
}

static void test_proc_missing(void)
{
    struct ksm_proc_sample p;
    CU_ASSERT_EQUAL(ksm_read_proc(FIX("ksm-6.18/proc"), 5555, &p), -ESRCH);
    CU_ASSERT_EQUAL(ksm_read_proc(FIX("ksm-6.18/proc"), 99, &p), -EOPNOTSUPP);
    CU_ASSERT_EQUAL(ksm_read_proc(FIX("ksm-6.18/proc"), 0, &p), -EINVAL);
    CU_ASSERT_EQUAL(ksm_read_proc(FIX("ksm-6.18/proc"), -1, &p), -EINVAL);
    CU_ASSERT_EQUAL(ksm_read_proc(FIX("no-such-root"), 1234, &p), -ESRCH);
}

static void test_proc_garbage(void)
{
    struct ksm_proc_sample p;
    CU_ASSERT_EQUAL(ksm_read_proc(FIX("ksm-garbage/proc"), 1234, &p), -EINVAL);
    CU_ASSERT_TRUE(p.invalid & KSM_BIT(KSM_P_RMAP_ITEMS));         /* -4 */
    CU_ASSERT_TRUE(p.invalid & KSM_BIT(KSM_P_MERGING_PAGES));      /* no value */
    CU_ASSERT_TRUE(p.invalid & KSM_BIT(KSM_P_PROCESS_PROFIT));     /* overflow */
    CU_ASSERT_TRUE(p.invalid & KSM_BIT(KSM_P_MERGE_ANY));          /* maybe */
    CU_ASSERT_TRUE(p.invalid & KSM_BIT(KSM_P_MERGING_PAGES_FILE)); /* lots */
    CU_ASSERT_TRUE(p.present & KSM_BIT(KSM_P_ZERO_PAGES));
    CU_ASSERT_EQUAL(p.zero_pages, 12);
    CU_ASSERT_TRUE(p.present & KSM_BIT(KSM_P_MERGEABLE));
    CU_ASSERT_TRUE(p.mergeable);
    /* The broken merging count is not replaced by the (also broken) file. */
    CU_ASSERT_FALSE(p.present & KSM_BIT(KSM_P_MERGING_PAGES));
    CU_ASSERT_EQUAL(p.merging_pages, 0);
}

static void test_ksmd_find(void)
{
    pid_t pid = -1;
    /* 6.18 fixture has the real ksmd (37) and a user process named ksmd (4000). */
    CU_ASSERT_EQUAL(ksm_ksmd_find(FIX("ksm-6.18/proc"), &pid), 0);
    CU_ASSERT_EQUAL(pid, 37);
    /* Only the impostor: not found. */
    pid = -1;
    CU_ASSERT_EQUAL(ksm_ksmd_find(FIX("ksm-5.15/proc"), &pid), -ESRCH);
    CU_ASSERT_EQUAL(pid, -1);
    CU_ASSERT_EQUAL(ksm_ksmd_find(FIX("no-such-root"), &pid), -ENOENT);
    /* Garbage stat lines: none qualifies. */
    CU_ASSERT_EQUAL(ksm_ksmd_find(FIX("ksm-garbage/proc"), &pid), -ESRCH);
}

static void test_ksmd_ticks(void)
{
    uint64_t t = 0;
    CU_ASSERT_EQUAL(ksm_ksmd_cpu_ticks(FIX("ksm-6.18/proc"), 37, &t), 0);
    CU_ASSERT_EQUAL(t, 1500 + 2500);
    /* Not ksmd (any more): refused rather than misread. */
    CU_ASSERT_EQUAL(ksm_ksmd_cpu_ticks(FIX("ksm-6.18/proc"), 1234, &t), -ESRCH);
    CU_ASSERT_EQUAL(ksm_ksmd_cpu_ticks(FIX("ksm-6.18/proc"), 5555, &t), -ESRCH);
    CU_ASSERT_EQUAL(ksm_ksmd_cpu_ticks(FIX("ksm-garbage/proc"), 77, &t), -EINVAL); /* short */
    CU_ASSERT_EQUAL(ksm_ksmd_cpu_ticks(FIX("ksm-garbage/proc"), 78, &t), -EINVAL); /* -4 */
    CU_ASSERT_EQUAL(ksm_ksmd_cpu_ticks(FIX("ksm-garbage/proc"), 79, &t), -EINVAL); /* no () */
    /* "x) (y": a comm with spaces and parens is parsed from the last ')'. */
    CU_ASSERT_EQUAL(ksm_ksmd_cpu_ticks(FIX("ksm-garbage/proc"), 80, &t), -ESRCH);
    CU_ASSERT_EQUAL(t, 4000); /* untouched by the failures */
    CU_ASSERT_EQUAL(ksm_ksmd_cpu_ticks(FIX("ksm-6.18/proc"), 0, &t), -EINVAL);
}

static void test_cpu_pct(void)
{
    double pct = -1;
    /* 100 ticks/s, 50 ticks in 10 s = 0.5 s of CPU = 5% of a core. */
    CU_ASSERT_EQUAL(ksm_cpu_pct(1000, 1050, 10000, 100, &pct), 0);
    CU_ASSERT_DOUBLE_EQUAL(pct, 5.0, 1e-9);
    CU_ASSERT_EQUAL(ksm_cpu_pct(0, 100, 1000, 100, &pct), 0);
    CU_ASSERT_DOUBLE_EQUAL(pct, 100.0, 1e-9);
    CU_ASSERT_EQUAL(ksm_cpu_pct(7, 7, 1000, 100, &pct), 0);
    CU_ASSERT_DOUBLE_EQUAL(pct, 0.0, 1e-9);
    CU_ASSERT_EQUAL(ksm_cpu_pct(10, 9, 1000, 100, &pct), -EINVAL);
    CU_ASSERT_EQUAL(ksm_cpu_pct(0, 1, 0, 100, &pct), -EINVAL);
    CU_ASSERT_EQUAL(ksm_cpu_pct(0, 1, 1000, 0, &pct), -EINVAL);
    CU_ASSERT_EQUAL(ksm_cpu_pct(0, UINT64_MAX, 1, 1, &pct), 0); /* huge but finite */
    CU_ASSERT_TRUE(pct > 1e18);
}

static void test_names(void)
{
    CU_ASSERT_STRING_EQUAL(ksm_advisor_name(KSM_ADVISOR_SCAN_TIME), "scan-time");
    CU_ASSERT_STRING_EQUAL(ksm_advisor_name(KSM_ADVISOR_NONE), "none");
}

static void put_comm(const char *root, const char *pid, const char *comm)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, pid);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/comm", root, pid);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(comm, f);
    fclose(f);
}

/* ksmtuned or MOM's momd found by comm; look-alikes and non-pid dirs are not. */
static void test_other_tuner(void)
{
    char root[] = "/tmp/ksm-proc-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(root));
    put_comm(root, "1", "init\n");
    put_comm(root, "20", "ksmtuned-helper\n"); /* a prefix is not the name */
    put_comm(root, "self", "ksmtuned\n");      /* not a pid directory */
    put_comm(root, "007", "ksmtuned\n");       /* not a pid directory either */
    const char *name = NULL;
    pid_t pid = 0;
    CU_ASSERT_EQUAL(ksm_other_tuner_find(root, &name, &pid), -ESRCH);
    put_comm(root, "4242", "ksmtuned\n");
    CU_ASSERT_EQUAL(ksm_other_tuner_find(root, &name, &pid), 0);
    CU_ASSERT_EQUAL(pid, 4242);
    CU_ASSERT_STRING_EQUAL(name, "ksmtuned");
    char path[512];
    snprintf(path, sizeof(path), "%s/4242/comm", root);
    unlink(path);
    snprintf(path, sizeof(path), "%s/4242", root);
    rmdir(path);
    put_comm(root, "77", "momd\n");
    CU_ASSERT_EQUAL(ksm_other_tuner_find(root, &name, &pid), 0);
    CU_ASSERT_EQUAL(pid, 77);
    CU_ASSERT_STRING_EQUAL(name, "momd");
    CU_ASSERT_EQUAL(ksm_other_tuner_find("/nonexistent-proc", &name, &pid), -ENOENT);
    CU_ASSERT_EQUAL(ksm_other_tuner_find(root, NULL, &pid), -EINVAL);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static CU_TestInfo read_tests[] = {
    {"host 6.18", test_host_618},
    {"other KSM tuners", test_other_tuner},
    {"host 5.15 lacks newer files", test_host_515},
    {"host missing", test_host_missing},
    {"host garbage", test_host_garbage},
    {"proc 6.18", test_proc_618},
    {"proc old kernels", test_proc_old},
    {"proc missing", test_proc_missing},
    {"proc garbage", test_proc_garbage},
    {"ksmd find", test_ksmd_find},
    {"ksmd ticks", test_ksmd_ticks},
    {"cpu pct", test_cpu_pct},
    {"names", test_names},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"ksm read", NULL, NULL, NULL, NULL, read_tests},
    CU_SUITE_INFO_NULL,
};
