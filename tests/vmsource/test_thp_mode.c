/*
 * Whether a QEMU's guest RAM may sit in transparent huge pages (thp_mode.h):
 * the host's mode, the process's THP_enabled line, hostile texts, and the
 * two read together from fixture trees.
 */
#include "cunit_main.h"
#include "thp_mode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

static int mode_of(const char *text, enum thp_mode *m)
{
    return thp_parse_mode(text, strlen(text), m);
}

static void test_mode(void)
{
    enum thp_mode m = THP_MODE_NEVER;
    CU_ASSERT_EQUAL(mode_of("[always] madvise never\n", &m), 0);
    CU_ASSERT_EQUAL(m, THP_MODE_ALWAYS);
    CU_ASSERT_EQUAL(mode_of("always [madvise] never\n", &m), 0);
    CU_ASSERT_EQUAL(m, THP_MODE_MADVISE);
    CU_ASSERT_EQUAL(mode_of("always madvise [never]\n", &m), 0);
    CU_ASSERT_EQUAL(m, THP_MODE_NEVER);
    m = THP_MODE_ALWAYS;
    CU_ASSERT_EQUAL(mode_of("always madvise never\n", &m), -EINVAL); /* no choice */
    CU_ASSERT_EQUAL(mode_of("[always] [never]\n", &m), -EINVAL);     /* two */
    CU_ASSERT_EQUAL(mode_of("[sometimes] never\n", &m), -EINVAL);    /* unknown */
    CU_ASSERT_EQUAL(mode_of("[always", &m), -EINVAL);                /* unclosed */
    CU_ASSERT_EQUAL(mode_of("[]", &m), -EINVAL);
    CU_ASSERT_EQUAL(mode_of("", &m), -EINVAL);
    CU_ASSERT_EQUAL(m, THP_MODE_ALWAYS); /* untouched on error */
}

static int status_of(const char *text, bool *on)
{
    return thp_parse_status(text, strlen(text), on);
}

static void test_status(void)
{
    bool on = true;
    CU_ASSERT_EQUAL(status_of("Name:\tqemu\nTHP_enabled:\t0\nThreads:\t4\n", &on), 0);
    CU_ASSERT_FALSE(on);
    CU_ASSERT_EQUAL(status_of("Name:\tqemu\nTHP_enabled:\t1\n", &on), 0);
    CU_ASSERT_TRUE(on);
    CU_ASSERT_EQUAL(status_of("Name:\tqemu\nThreads:\t4\n", &on), -ENOENT); /* before 5.0 */
    CU_ASSERT_EQUAL(status_of("THP_enabled:\t2\n", &on), -EINVAL);
    CU_ASSERT_EQUAL(status_of("THP_enabled:\tyes\n", &on), -EINVAL);
    CU_ASSERT_EQUAL(status_of("THP_enabled:\n", &on), -EINVAL);
    CU_ASSERT_EQUAL(status_of("XTHP_enabled:\t0\n", &on), -ENOENT);
}

static char *root;

static void put(const char *rel, const char *text)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);
    CU_ASSERT_EQUAL(g_mkdir_with_parents(dir, 0755), 0);
    CU_ASSERT_TRUE(g_file_set_contents(path, text, -1, NULL));
}

/* A tree with sys/ and proc/ under root, and one process 4242. */
static int backed(const char *mode, const char *status, bool *out)
{
    root = g_dir_make_tmp("ballast-thp-XXXXXX", NULL);
    if (mode)
        put("sys/kernel/mm/transparent_hugepage/enabled", mode);
    if (status)
        put("proc/4242/status", status);
    g_autofree char *proc = g_build_filename(root, "proc", NULL);
    g_autofree char *sys = g_build_filename(root, "sys", NULL);
    int rc = thp_process_backed(proc, sys, 4242, out);
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", root);
    CU_ASSERT_EQUAL(system(cmd), 0);
    g_free(root);
    return rc;
}

static void test_backed(void)
{
    bool on = false;
    CU_ASSERT_EQUAL(backed("always [madvise] never\n", "THP_enabled:\t1\n", &on), 0);
    CU_ASSERT_TRUE(on); /* QEMU madvises guest RAM */
    CU_ASSERT_EQUAL(backed("[always] madvise never\n", "THP_enabled:\t0\n", &on), 0);
    CU_ASSERT_FALSE(on); /* the launcher's PR_SET_THP_DISABLE */
    on = true;
    CU_ASSERT_EQUAL(backed("always madvise [never]\n", NULL, &on), 0);
    CU_ASSERT_FALSE(on); /* never: the process is not even read */
    CU_ASSERT_EQUAL(backed("[always] madvise never\n", "Name:\tqemu\n", &on), 0);
    CU_ASSERT_TRUE(on); /* no per-process switch: the mode decides */
    CU_ASSERT_EQUAL(backed(NULL, "THP_enabled:\t1\n", &on), -ENOENT);
    CU_ASSERT_EQUAL(backed("[always] madvise never\n", NULL, &on), -ENOENT); /* pid gone */
    CU_ASSERT_EQUAL(backed("garbage\n", "THP_enabled:\t1\n", &on), -EINVAL);
}

static CU_TestInfo thp_tests[] = {
    {"host mode", test_mode},
    {"process status line", test_status},
    {"both, from fixture trees", test_backed},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"thp_mode", NULL, NULL, NULL, NULL, thp_tests},
    CU_SUITE_INFO_NULL,
};
