/*
 * ksm_apply on a temporary copy of the 6.18 sysfs fixture: values land in the
 * right files, invalid values are refused before any write, and the write
 * order (stop first, advisor off before pages_to_scan, start last) is checked
 * by making one file unwritable and seeing which others were written.
 */
#include "cunit_main.h"
#include "ksm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[PATH_MAX];

/* No CU_ASSERT here: suite setup calls it, outside any test. */
static int write_file(const char *name, const char *text)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", root, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

static void put(const char *name, const char *text)
{
    CU_ASSERT_EQUAL_FATAL(write_file(name, text), 0);
}

/* Contents of root/name without the trailing newline; "" if unreadable. */
static const char *get(const char *name)
{
    static char buf[256];
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", root, name);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

/* Replaces a file with a directory: writes to it then fail with EISDIR. */
static void make_unwritable(const char *name)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", root, name);
    CU_ASSERT_EQUAL(unlink(path), 0);
    CU_ASSERT_EQUAL(mkdir(path, 0700), 0);
}

static int copy_fixture(void)
{
    snprintf(root, sizeof(root), "/tmp/ballast-ksm-apply-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    DIR *d = opendir(BALLAST_FIXTURES "/ksm-6.18/sysfs");
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char src[PATH_MAX], buf[256];
        snprintf(src, sizeof(src), BALLAST_FIXTURES "/ksm-6.18/sysfs/%s", e->d_name);
        FILE *in = fopen(src, "r");
        if (!in)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, in);
        fclose(in);
        buf[n] = '\0';
        if (write_file(e->d_name, buf) < 0) {
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    return 0;
}

static void remove_tree(void)
{
    DIR *d = opendir(root);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX * 2];
        snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
        if (unlink(path) < 0)
            rmdir(path);
    }
    closedir(d);
    rmdir(root);
}

static int setup(void)
{
    return copy_fixture() == 0 ? 0 : -1;
}

static int teardown(void)
{
    remove_tree();
    return 0;
}

static void test_writes_values(void)
{
    struct ksm_settings st = {
        .mask = KSM_BIT(KSM_S_RUN) | KSM_BIT(KSM_S_PAGES_TO_SCAN) | KSM_BIT(KSM_S_SLEEP_MS) |
                KSM_BIT(KSM_S_USE_ZERO_PAGES) | KSM_BIT(KSM_S_ADVISOR_MODE),
        .run = 1,
        .pages_to_scan = 2048,
        .sleep_ms = 35,
        .use_zero_pages = 0,
        .advisor_mode = KSM_ADVISOR_NONE,
    };
    put("run", "0\n");
    CU_ASSERT_EQUAL(ksm_apply(root, &st, NULL), 0);
    CU_ASSERT_STRING_EQUAL(get("run"), "1");
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "2048");
    CU_ASSERT_STRING_EQUAL(get("sleep_millisecs"), "35");
    CU_ASSERT_STRING_EQUAL(get("use_zero_pages"), "0");
    CU_ASSERT_STRING_EQUAL(get("advisor_mode"), "none");
    /* Not in the mask: untouched. */
    CU_ASSERT_STRING_EQUAL(get("advisor_max_cpu"), "70");

    struct ksm_settings adv = {
        .mask = KSM_BIT(KSM_S_ADVISOR_MODE) | KSM_BIT(KSM_S_ADVISOR_MAX_CPU) |
                KSM_BIT(KSM_S_ADVISOR_TARGET_SCAN_TIME),
        .advisor_mode = KSM_ADVISOR_SCAN_TIME,
        .advisor_max_cpu_pct = 10,
        .advisor_target_scan_time_s = 120,
    };
    CU_ASSERT_EQUAL(ksm_apply(root, &adv, NULL), 0);
    CU_ASSERT_STRING_EQUAL(get("advisor_mode"), "scan-time");
    CU_ASSERT_STRING_EQUAL(get("advisor_max_cpu"), "10");
    CU_ASSERT_STRING_EQUAL(get("advisor_target_scan_time"), "120");
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "2048");

    struct ksm_settings none = {.mask = 0};
    CU_ASSERT_EQUAL(ksm_apply(root, &none, NULL), 0);
    CU_ASSERT_EQUAL(ksm_apply(root, NULL, NULL), -EINVAL);
}

static void test_rejects_invalid(void)
{
    struct {
        enum ksm_setting s;
        struct ksm_settings st;
    } bad[] = {
        {KSM_S_RUN, {.mask = KSM_BIT(KSM_S_RUN), .run = 3}},
        {KSM_S_PAGES_TO_SCAN, {.mask = KSM_BIT(KSM_S_PAGES_TO_SCAN), .pages_to_scan = 0}},
        {KSM_S_PAGES_TO_SCAN,
         {.mask = KSM_BIT(KSM_S_PAGES_TO_SCAN), .pages_to_scan = (uint64_t)UINT_MAX + 1}},
        {KSM_S_USE_ZERO_PAGES, {.mask = KSM_BIT(KSM_S_USE_ZERO_PAGES), .use_zero_pages = 2}},
        {KSM_S_ADVISOR_MAX_CPU, {.mask = KSM_BIT(KSM_S_ADVISOR_MAX_CPU), .advisor_max_cpu_pct = 0}},
        {KSM_S_ADVISOR_MAX_CPU,
         {.mask = KSM_BIT(KSM_S_ADVISOR_MAX_CPU), .advisor_max_cpu_pct = 101}},
        {KSM_S_ADVISOR_MODE, {.mask = KSM_BIT(KSM_S_ADVISOR_MODE), .advisor_mode = 7}},
        {KSM_S_ADVISOR_TARGET_SCAN_TIME,
         {.mask = KSM_BIT(KSM_S_ADVISOR_TARGET_SCAN_TIME), .advisor_target_scan_time_s = 0}},
    };
    put("run", "1\n");
    put("pages_to_scan", "777\n");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum ksm_setting failed = KSM_S_COUNT;
        CU_ASSERT_EQUAL(ksm_apply(root, &bad[i].st, &failed), -EINVAL);
        CU_ASSERT_EQUAL(failed, bad[i].s);
    }
    CU_ASSERT_STRING_EQUAL(get("run"), "1");
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "777");
}

static void test_missing_file_not_created(void)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/advisor_target_scan_time", root);
    CU_ASSERT_EQUAL(unlink(path), 0);
    struct ksm_settings st = {.mask = KSM_BIT(KSM_S_ADVISOR_TARGET_SCAN_TIME),
                              .advisor_target_scan_time_s = 60};
    enum ksm_setting failed = KSM_S_COUNT;
    CU_ASSERT_EQUAL(ksm_apply(root, &st, &failed), -ENOENT);
    CU_ASSERT_EQUAL(failed, KSM_S_ADVISOR_TARGET_SCAN_TIME);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    CU_ASSERT_EQUAL(ksm_apply("/nonexistent-ksm-root", &st, NULL), -ENOENT);
}

/* Start: a failing pages_to_scan must leave ksmd stopped (run=1 comes last). */
static void test_start_is_last(void)
{
    put("run", "0\n");
    make_unwritable("pages_to_scan");
    struct ksm_settings st = {
        .mask = KSM_BIT(KSM_S_RUN) | KSM_BIT(KSM_S_PAGES_TO_SCAN) | KSM_BIT(KSM_S_SLEEP_MS),
        .run = 1,
        .pages_to_scan = 500,
        .sleep_ms = 40,
    };
    enum ksm_setting failed = KSM_S_COUNT;
    CU_ASSERT_EQUAL(ksm_apply(root, &st, &failed), -EISDIR);
    CU_ASSERT_EQUAL(failed, KSM_S_PAGES_TO_SCAN);
    CU_ASSERT_STRING_EQUAL(get("run"), "0");
    CU_ASSERT_STRING_EQUAL(get("sleep_millisecs"), "40"); /* sleep goes before pages */
}

/* Stop: run=0 is written before anything that may fail. */
static void test_stop_is_first(void)
{
    put("run", "1\n");
    struct ksm_settings st = {
        .mask = KSM_BIT(KSM_S_RUN) | KSM_BIT(KSM_S_PAGES_TO_SCAN),
        .run = 0,
        .pages_to_scan = 500,
    };
    CU_ASSERT_EQUAL(ksm_apply(root, &st, NULL), -EISDIR); /* pages_to_scan still a dir */
    CU_ASSERT_STRING_EQUAL(get("run"), "0");
}

/* Leaving the advisor precedes pages_to_scan; entering it follows its limits. */
static void test_advisor_order(void)
{
    make_unwritable("advisor_mode");
    put("advisor_max_cpu", "70\n");
    put("sleep_millisecs", "20\n");
    struct ksm_settings leave = {
        .mask = KSM_BIT(KSM_S_ADVISOR_MODE) | KSM_BIT(KSM_S_SLEEP_MS),
        .advisor_mode = KSM_ADVISOR_NONE,
        .sleep_ms = 50,
    };
    enum ksm_setting failed = KSM_S_COUNT;
    CU_ASSERT_EQUAL(ksm_apply(root, &leave, &failed), -EISDIR);
    CU_ASSERT_EQUAL(failed, KSM_S_ADVISOR_MODE);
    CU_ASSERT_STRING_EQUAL(get("sleep_millisecs"), "20"); /* not reached */

    put("run", "0\n");
    struct ksm_settings enter = {
        .mask = KSM_BIT(KSM_S_ADVISOR_MODE) | KSM_BIT(KSM_S_ADVISOR_MAX_CPU) | KSM_BIT(KSM_S_RUN),
        .advisor_mode = KSM_ADVISOR_SCAN_TIME,
        .advisor_max_cpu_pct = 10,
        .run = 1,
    };
    CU_ASSERT_EQUAL(ksm_apply(root, &enter, &failed), -EISDIR);
    CU_ASSERT_EQUAL(failed, KSM_S_ADVISOR_MODE);
    CU_ASSERT_STRING_EQUAL(get("advisor_max_cpu"), "10"); /* limits first */
    CU_ASSERT_STRING_EQUAL(get("run"), "0");              /* start last */
}

static void test_setting_names(void)
{
    CU_ASSERT_STRING_EQUAL(ksm_setting_name(KSM_S_SLEEP_MS), "sleep_millisecs");
    CU_ASSERT_STRING_EQUAL(ksm_setting_name(KSM_S_ADVISOR_MAX_CPU), "advisor_max_cpu");
    CU_ASSERT_PTR_NULL(ksm_setting_name(KSM_S_COUNT));
}

static CU_TestInfo apply_tests[] = {
    {"writes values", test_writes_values},
    {"rejects invalid values", test_rejects_invalid},
    {"missing file not created", test_missing_file_not_created},
    {"start is last", test_start_is_last},
    {"stop is first", test_stop_is_first},
    {"advisor order", test_advisor_order},
    {"setting names", test_setting_names},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"ksm apply", setup, teardown, NULL, NULL, apply_tests},
    CU_SUITE_INFO_NULL,
};
