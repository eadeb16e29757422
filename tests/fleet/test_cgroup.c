/*
 * ballast-fleet start --cgroup DIR: the pure check on data (the file system
 * type as a number, cgroup.controllers as text) for a cgroup v2 host, a
 * cgroup v1 host (this machine's kind), a hybrid one and no cgroup at all;
 * the probe on fixture trees; delegation and the guest's directory on a
 * scratch tree; the forked child joining its cgroup before exec; and the
 * --cgroup option. No real cgroup is touched.
 */
#include "cunit_main.h"
#include "fleet_cgroup.h"
#include "fleet_options.h"
#include "fleet_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIX BALLAST_FIXTURES

static char *tmp_dir;

static int setup(void)
{
    tmp_dir = g_dir_make_tmp("fleet-cgroup-XXXXXX", NULL);
    return tmp_dir ? 0 : 1;
}

static int teardown(void)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmp_dir);
    int rc = system(cmd);
    g_free(tmp_dir);
    return rc == 0 ? 0 : 1;
}

static void test_lists(void)
{
    CU_ASSERT_TRUE(fleet_cgroup_lists("cpu io memory pids\n", "memory"));
    CU_ASSERT_TRUE(fleet_cgroup_lists("memory", "memory"));
    CU_ASSERT_TRUE(fleet_cgroup_lists("memory\n", "memory"));
    CU_ASSERT_FALSE(fleet_cgroup_lists("cpu io pids\n", "memory"));
    CU_ASSERT_FALSE(fleet_cgroup_lists("memoryx nomemory", "memory"));
    CU_ASSERT_FALSE(fleet_cgroup_lists("", "memory"));
    CU_ASSERT_FALSE(fleet_cgroup_lists(NULL, "memory"));
}

static enum fleet_cgroup_verdict check(uint64_t magic, const char *controllers, char **why)
{
    return fleet_cgroup_check("/sys/fs/cgroup/f", magic, controllers, why);
}

static void test_check(void)
{
    char *why = NULL;
    CU_ASSERT_EQUAL(check(CGROUP2_SUPER_MAGIC, "cpu io memory pids\n", &why), FLEET_CGROUP_OK);
    CU_ASSERT_PTR_NULL(why);

    /* A cgroup v1 host: a v1 hierarchy, or the tmpfs at /sys/fs/cgroup. */
    CU_ASSERT_EQUAL(check(CGROUP_SUPER_MAGIC, NULL, &why), FLEET_CGROUP_V1);
    CU_ASSERT_TRUE(g_str_has_prefix(why, "cgroup v2 memory controller not available at "
                                         "/sys/fs/cgroup/f: this host uses cgroup v1"));
    g_free(why);
    CU_ASSERT_EQUAL(check(TMPFS_MAGIC, "memory", &why), FLEET_CGROUP_V1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "this host uses cgroup v1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "tmpfs"));
    g_free(why);
    CU_ASSERT_EQUAL(fleet_cgroup_check("/run/x", TMPFS_MAGIC, NULL, &why), FLEET_CGROUP_NOT_CGROUP);
    g_free(why);

    /* Not a cgroup at all (an ext4 directory). */
    CU_ASSERT_EQUAL(check(0xEF53, "cpu memory", &why), FLEET_CGROUP_NOT_CGROUP);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "not a cgroup file system (type 0xef53)"));
    g_free(why);

    /* cgroup v2, but memory not delegated (a hybrid host's unified tree is
     * one: its controllers are all bound to v1), or unreadable. */
    CU_ASSERT_EQUAL(check(CGROUP2_SUPER_MAGIC, "cpu io pids\n", &why), FLEET_CGROUP_NO_MEMORY);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "(\"cpu io pids\") lacks memory"));
    g_free(why);
    CU_ASSERT_EQUAL(check(CGROUP2_SUPER_MAGIC, "", &why), FLEET_CGROUP_NO_MEMORY);
    g_free(why);
    CU_ASSERT_EQUAL(check(CGROUP2_SUPER_MAGIC, NULL, &why), FLEET_CGROUP_UNREADABLE);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "cannot read /sys/fs/cgroup/f/cgroup.controllers"));
    g_free(why);
}

/* The probe reads fixture trees; the file system's type is then passed as
 * data, since a fixture is never on cgroup2. */
static void test_probe_fixtures(void)
{
    uint64_t magic = 0;
    char *controllers = NULL, *why = NULL;
    CU_ASSERT_EQUAL_FATAL(fleet_cgroup_probe(FIX "/cgroup-v2", &magic, &controllers), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(controllers);
    CU_ASSERT_NOT_EQUAL(magic, CGROUP2_SUPER_MAGIC);
    CU_ASSERT_NOT_EQUAL(fleet_cgroup_check("f", magic, controllers, &why), FLEET_CGROUP_OK);
    g_free(why);
    CU_ASSERT_EQUAL(fleet_cgroup_check("f", CGROUP2_SUPER_MAGIC, controllers, &why),
                    FLEET_CGROUP_OK);
    g_free(controllers);

    CU_ASSERT_EQUAL(fleet_cgroup_probe(FIX "/cgroup-badpsi", &magic, &controllers), 0);
    CU_ASSERT_EQUAL(fleet_cgroup_check("f", CGROUP2_SUPER_MAGIC, controllers, &why),
                    FLEET_CGROUP_NO_MEMORY);
    g_free(why);
    g_free(controllers);

    /* A v1 memory directory has no cgroup.controllers. */
    CU_ASSERT_EQUAL(fleet_cgroup_probe(FIX "/cgroup-v1", &magic, &controllers), 0);
    CU_ASSERT_PTR_NULL(controllers);
    CU_ASSERT_EQUAL(fleet_cgroup_check("f", CGROUP_SUPER_MAGIC, controllers, &why),
                    FLEET_CGROUP_V1);
    g_free(why);

    CU_ASSERT_EQUAL(fleet_cgroup_probe(FIX "/no-such-cgroup", &magic, &controllers), -ENOENT);
}

static char *slurp(const char *dir, const char *name)
{
    g_autofree char *p = g_build_filename(dir, name, NULL);
    char *text = NULL;
    g_file_get_contents(p, &text, NULL, NULL);
    return text;
}

static void put(const char *dir, const char *name, const char *text)
{
    g_autofree char *p = g_build_filename(dir, name, NULL);
    CU_ASSERT_TRUE_FATAL(g_file_set_contents(p, text, -1, NULL));
}

/* +memory for the children, once; the guest's directory; its cgroup.procs. */
static void test_delegate_and_make(void)
{
    g_autofree char *dir = g_build_filename(tmp_dir, "fleet", NULL);
    CU_ASSERT_EQUAL_FATAL(g_mkdir(dir, 0755), 0);
    /* No cgroup.subtree_control to write: refused, and said why. */
    g_autofree char *note = fleet_cgroup_delegate_memory(dir);
    CU_ASSERT_PTR_NOT_NULL(note);
    CU_ASSERT_PTR_NOT_NULL(strstr(note, "charged to"));
    put(dir, "cgroup.subtree_control", "");
    CU_ASSERT_PTR_NULL(fleet_cgroup_delegate_memory(dir));
    g_autofree char *written = slurp(dir, "cgroup.subtree_control");
    CU_ASSERT_STRING_EQUAL(written, "+memory");
    put(dir, "cgroup.subtree_control", "cpu memory\n"); /* already: nothing written */
    CU_ASSERT_PTR_NULL(fleet_cgroup_delegate_memory(dir));
    g_autofree char *kept = slurp(dir, "cgroup.subtree_control");
    CU_ASSERT_STRING_EQUAL(kept, "cpu memory\n");

    CU_ASSERT_EQUAL(fleet_cgroup_make(dir, "vm0"), 0);
    CU_ASSERT_EQUAL(fleet_cgroup_make(dir, "vm0"), 0);             /* reused */
    CU_ASSERT_EQUAL(fleet_cgroup_open_procs(dir, "vm0"), -ENOENT); /* no kernel here */
    g_autofree char *gdir = g_build_filename(dir, "vm0", NULL);
    put(gdir, "cgroup.procs", "");
    int fd = fleet_cgroup_open_procs(dir, "vm0");
    CU_ASSERT_TRUE_FATAL(fd >= 0);

    /* The child writes "0" (itself) before exec, then runs. */
    g_autofree char *log = g_build_filename(tmp_dir, "child.log", NULL);
    char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)"exit 0", NULL};
    pid_t pid;
    CU_ASSERT_EQUAL_FATAL(fleet_proc_spawn_in(argv, 0, log, fd, &pid), 0);
    close(fd);
    int code = -1;
    CU_ASSERT_EQUAL(fleet_proc_wait(pid, &code), 0);
    CU_ASSERT_EQUAL(code, 0);
    g_autofree char *procs = slurp(gdir, "cgroup.procs");
    CU_ASSERT_STRING_EQUAL(procs, "0\n");

    /* A cgroup it cannot join: the child never runs QEMU. */
    g_autofree char *ro = g_build_filename(gdir, "cgroup.procs", NULL);
    int rfd = open(ro, O_RDONLY | O_CLOEXEC);
    CU_ASSERT_EQUAL_FATAL(fleet_proc_spawn_in(argv, 0, log, rfd, &pid), 0);
    close(rfd);
    CU_ASSERT_EQUAL(fleet_proc_wait(pid, &code), 0);
    CU_ASSERT_EQUAL(code, FLEET_PROC_EXIT_CGROUP);

    g_unlink(ro);
    fleet_cgroup_remove(dir, "vm0");
    CU_ASSERT_FALSE(g_file_test(gdir, G_FILE_TEST_EXISTS));
}

static int parse(struct fleet_options *o, char **msg, const char *cgroup)
{
    const char *const args[] = {"ballast-fleet", "start",  "--count",  "2",    "--memory", "128M",
                                "--state",       "/tmp/s", "--cgroup", cgroup, NULL};
    GError *err = NULL;
    int rc = fleet_options_parse(10, (char *const *)args, o, &err);
    *msg = err ? g_strdup(err->message) : NULL;
    g_clear_error(&err);
    return rc;
}

static void test_option(void)
{
    struct fleet_options o;
    char *msg = NULL;
    CU_ASSERT_EQUAL(parse(&o, &msg, "/sys/fs/cgroup/ballast.slice"), 0);
    CU_ASSERT_STRING_EQUAL(o.cgroup_dir, "/sys/fs/cgroup/ballast.slice");
    fleet_options_clear(&o);
    const char *bad[] = {"ballast.slice", "/sys/fs/cgroup/../etc", "/sys/fs/cgroup/x/.."};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        CU_ASSERT_NOT_EQUAL(parse(&o, &msg, bad[i]), 0);
        CU_ASSERT(msg && strstr(msg, "--cgroup"));
        g_free(msg);
        fleet_options_clear(&o);
    }
}

static CU_TestInfo cgroup_tests[] = {
    {"controller lists", test_lists},
    {"check: v2, v1, hybrid, none", test_check},
    {"probe on fixture trees", test_probe_fixtures},
    {"delegate, make, join before exec", test_delegate_and_make},
    {"--cgroup option", test_option},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"fleet cgroup", setup, teardown, NULL, NULL, cgroup_tests},
    CU_SUITE_INFO_NULL,
};
