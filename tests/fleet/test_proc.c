/*
 * Process handling on real processes and a fixture /proc: THP off across
 * exec, pid files, recognising a fleet's QEMU by its command line (zombies
 * and strangers excluded), SIGTERM then SIGKILL, and the TSC measurement.
 */
#include "cunit_main.h"
#include "fleet_guest.h"
#include "fleet_proc.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#ifndef PR_GET_MEMORY_MERGE
#define PR_GET_MEMORY_MERGE 68
#endif
#include <sys/wait.h>
#include <unistd.h>

static char *tmp_dir;

static int setup(void)
{
    tmp_dir = g_dir_make_tmp("fleet-proc-XXXXXX", NULL);
    return tmp_dir ? 0 : 1;
}

static int teardown(void)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmp_dir);
    int rc = system(cmd);
    g_free(tmp_dir);
    return rc == 0 ? 0 : 1;
}

/* Runs CMD (sh -c) spawned with flags; returns what it printed. */
static char *run_and_log(unsigned flags, const char *cmd)
{
    g_autofree char *name = g_strdup_printf("spawn-%u.log", flags);
    g_autofree char *log = g_build_filename(tmp_dir, name, NULL);
    g_unlink(log);
    char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)cmd, NULL};
    pid_t pid;
    CU_ASSERT_EQUAL_FATAL(fleet_proc_spawn(argv, flags, log, &pid), 0);
    int code = -1;
    CU_ASSERT_EQUAL(fleet_proc_wait(pid, &code), 0);
    CU_ASSERT_EQUAL(code, 0);
    char *text = NULL;
    g_file_get_contents(log, &text, NULL, NULL);
    return text;
}

static void test_thp_disabled_across_exec(void)
{
    const char *cmd = "grep THP_enabled /proc/self/status";
    g_autofree char *off = run_and_log(0, cmd);
    g_autofree char *on = run_and_log(FLEET_SPAWN_THP, cmd);
    CU_ASSERT_PTR_NOT_NULL_FATAL(off);
    CU_ASSERT_PTR_NOT_NULL_FATAL(on);
    /* The grep ran in a fresh exec: the prctl survived it. */
    CU_ASSERT_PTR_NOT_NULL(strstr(off, "THP_enabled:\t0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(on, "THP_enabled:\t1"));
}

/* PR_SET_MEMORY_MERGE survives exec on Linux >= 6.7; older kernels refuse
 * or drop it, which the launcher tolerates (guest RAM still merges). */
static void test_merge_all_across_exec(void)
{
    const char *cmd = "grep ksm_merge_any /proc/self/ksm_stat || echo no-ksm-stat";
    g_autofree char *plain = run_and_log(0, cmd);
    g_autofree char *merged = run_and_log(FLEET_SPAWN_MERGE_ALL, cmd);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plain);
    CU_ASSERT_PTR_NOT_NULL_FATAL(merged);
    if (strstr(plain, "no-ksm-stat") || prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) < 0) {
        fprintf(stderr, "\nSKIP (part): this kernel has no ksm_stat or PR_GET_MEMORY_MERGE\n");
        return;
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(plain, "ksm_merge_any: no"));
    CU_ASSERT_PTR_NOT_NULL(strstr(merged, "ksm_merge_any: yes"));
}

static void test_spawn_missing_program(void)
{
    g_autofree char *log = g_build_filename(tmp_dir, "missing.log", NULL);
    char *argv[] = {(char *)"/nonexistent/qemu", NULL};
    pid_t pid;
    CU_ASSERT_EQUAL_FATAL(fleet_proc_spawn(argv, 0, log, &pid), 0);
    int code = -1;
    CU_ASSERT_EQUAL(fleet_proc_wait(pid, &code), 0);
    CU_ASSERT_EQUAL(code, 127);
    g_autofree char *bad_log = g_build_filename(tmp_dir, "no", "such", "dir.log", NULL);
    CU_ASSERT_EQUAL(fleet_proc_spawn(argv, 0, bad_log, &pid), -ENOENT);
}

static void test_pidfile(void)
{
    g_autofree char *path = g_build_filename(tmp_dir, "pid", NULL);
    pid_t pid = 0;
    CU_ASSERT_EQUAL(fleet_proc_read_pidfile(path, &pid), -ENOENT);
    const struct {
        const char *text;
        int rc;
        pid_t pid;
    } cases[] = {
        {"4242\n", 0, 4242},   {"4242", 0, 4242},
        {"", -EINVAL, 0},      {"abc\n", -EINVAL, 0},
        {"1\n", -EINVAL, 0},   {"-5\n", -EINVAL, 0},
        {"12x\n", -EINVAL, 0}, {"99999999999\n", -EINVAL, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_file_set_contents(path, cases[i].text, -1, NULL);
        pid = 0;
        CU_ASSERT_EQUAL(fleet_proc_read_pidfile(path, &pid), cases[i].rc);
        if (cases[i].rc == 0)
            CU_ASSERT_EQUAL(pid, cases[i].pid);
    }
}

/* A fake /proc: 100 is vm0 of /s, 101 a zombie, 102 another fleet, 103 a stranger. */
static void write_proc(const char *root, int pid, const char *cmdline, size_t len,
                       const char *status)
{
    char rel[16];
    snprintf(rel, sizeof(rel), "%d", pid);
    g_autofree char *dir = g_build_filename(root, rel, NULL);
    g_mkdir_with_parents(dir, 0755);
    g_autofree char *c = g_build_filename(dir, "cmdline", NULL);
    g_autofree char *s = g_build_filename(dir, "status", NULL);
    g_file_set_contents(c, cmdline, (gssize)len, NULL);
    g_file_set_contents(s, status, -1, NULL);
}

static void test_fixture_proc(void)
{
    g_autofree char *proc = g_build_filename(tmp_dir, "proc", NULL);
    static const char vm0[] = "qemu-system-x86_64\0-name\0vm0\0-pidfile\0/s/vm0/pid\0";
    static const char other[] = "qemu-system-x86_64\0-pidfile\0/s2/vm0/pid\0";
    static const char stranger[] = "vim\0/s/vm0/pid\0";
    write_proc(proc, 100, vm0, sizeof(vm0) - 1, "Name:\tqemu\nVmRSS:\t  182560 kB\n");
    write_proc(proc, 101, "", 0, "Name:\tqemu\nState:\tZ (zombie)\n");
    write_proc(proc, 102, other, sizeof(other) - 1, "VmRSS:\t1 kB\n");
    write_proc(proc, 103, stranger, sizeof(stranger) - 1, "VmRSS:\t1 kB\n");
    g_autofree char *junk = g_build_filename(proc, "self", NULL);
    g_mkdir_with_parents(junk, 0755);

    CU_ASSERT_TRUE(fleet_proc_is_guest(proc, 100, "/s/vm0/pid"));
    CU_ASSERT_FALSE(fleet_proc_is_guest(proc, 100, "/s/vm1/pid"));
    CU_ASSERT_FALSE(fleet_proc_is_guest(proc, 101, "/s/vm0/pid"));
    CU_ASSERT_FALSE(fleet_proc_is_guest(proc, 103, "/s/vm0/pid"));
    CU_ASSERT_FALSE(fleet_proc_is_guest(proc, 999, "/s/vm0/pid"));
    CU_ASSERT_EQUAL(fleet_proc_rss_bytes(proc, 100), 182560ULL * 1024);
    CU_ASSERT_EQUAL(fleet_proc_rss_bytes(proc, 101), 0);
    CU_ASSERT_EQUAL(fleet_proc_rss_bytes(proc, 999), 0);

    g_autoptr(GArray) found = fleet_proc_find_in_state_dir(proc, "/s");
    CU_ASSERT_EQUAL_FATAL(found->len, 1);
    CU_ASSERT_EQUAL(g_array_index(found, pid_t, 0), 100);
    g_autoptr(GArray) none = fleet_proc_find_in_state_dir(proc, "/nothing");
    CU_ASSERT_EQUAL(none->len, 0);
}

/* A shell that looks like guest NAME of tmp_dir/fleet to fleet_proc (its argv). */
static pid_t fake_guest(const char *name, bool ignore_term)
{
    g_autofree char *fleet = g_build_filename(tmp_dir, "fleet", NULL);
    g_autofree char *pidfile = fleet_file_path(fleet, name, FLEET_FILE_PID);
    const char *script =
        ignore_term ? "trap '' TERM; while :; do sleep 0.05; done" : "while :; do sleep 0.05; done";
    char *argv[] = {(char *)"/bin/sh",  (char *)"-c", (char *)script,
                    (char *)"-pidfile", pidfile,      NULL};
    g_autofree char *log = g_build_filename(tmp_dir, "fake.log", NULL);
    pid_t pid;
    CU_ASSERT_EQUAL_FATAL(fleet_proc_spawn(argv, 0, log, &pid), 0);
    return pid;
}

/* Whether pid ignores SIGTERM (the SigIgn mask of /proc/PID/status). */
static bool term_ignored(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return false;
    const char *line = strstr(text, "\nSigIgn:");
    if (!line)
        return false;
    unsigned long long mask = strtoull(line + strlen("\nSigIgn:"), NULL, 16);
    return (mask & (1ull << (SIGTERM - 1))) != 0;
}

static void test_stop_term_then_kill(void)
{
    g_autofree char *state = g_build_filename(tmp_dir, "fleet", NULL);
    pid_t polite = fake_guest("vm0", false);
    pid_t stubborn = fake_guest("vm1", true);
    /*
     * Wait until both exec'd their shell (argv visible in /proc). Look for
     * these two pids, not for "two matches": a shell's forked child has the
     * same argv until it execs sleep, so a count can see one shell twice.
     */
    bool both = false;
    for (int i = 0; i < 250 && !both; i++) {
        g_autoptr(GArray) seen = fleet_proc_find_in_state_dir("/proc", state);
        bool p = false, s = false;
        for (guint k = 0; k < seen->len; k++) {
            p |= g_array_index(seen, pid_t, k) == polite;
            s |= g_array_index(seen, pid_t, k) == stubborn;
        }
        both = p && s;
        if (!both)
            g_usleep(20000);
    }
    CU_ASSERT_TRUE_FATAL(both);
    /* And until the stubborn one ran its `trap '' TERM` (SigIgn has TERM):
     * a SIGTERM that lands first kills it, and nothing needs SIGKILL. */
    bool ignoring = false;
    for (int i = 0; i < 250 && !ignoring; i++) {
        ignoring = term_ignored(stubborn);
        if (!ignoring)
            g_usleep(20000);
    }
    CU_ASSERT_TRUE_FATAL(ignoring);
    g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    g_array_append_val(pids, polite);
    g_array_append_val(pids, stubborn);
    /* A stranger pid in the list is never signalled: it is not in the fleet. */
    pid_t self = getpid();
    g_array_append_val(pids, self);

    gint64 t0 = g_get_monotonic_time();
    int rc = fleet_proc_stop("/proc", state, pids, 300);
    gint64 waited_ms = (g_get_monotonic_time() - t0) / 1000;
    CU_ASSERT_EQUAL(rc, 1); /* only the stubborn one needed SIGKILL */
    CU_ASSERT(waited_ms >= 300);
    int code;
    CU_ASSERT_EQUAL(fleet_proc_wait(polite, &code), 0);
    CU_ASSERT_EQUAL(code, 128 + SIGTERM);
    CU_ASSERT_EQUAL(fleet_proc_wait(stubborn, &code), 0);
    CU_ASSERT_EQUAL(code, 128 + SIGKILL);
    g_autoptr(GArray) left = fleet_proc_find_in_state_dir("/proc", state);
    CU_ASSERT_EQUAL(left->len, 0);
}

static void test_tsc(void)
{
#if defined(__x86_64__)
    uint64_t a = fleet_proc_tsc_khz(), b = fleet_proc_tsc_khz();
    CU_ASSERT(a > 100000 && a < 10000000); /* 100 MHz .. 10 GHz */
    /* Two measurements agree within 0.5%. */
    uint64_t diff = a > b ? a - b : b - a;
    CU_ASSERT(diff * 200 < a);
#endif
}

static CU_TestInfo proc_tests[] = {
    {"THP disabled across exec", test_thp_disabled_across_exec},
    {"merge-all across exec", test_merge_all_across_exec},
    {"spawn of a missing program", test_spawn_missing_program},
    {"pid files", test_pidfile},
    {"fixture /proc", test_fixture_proc},
    {"stop: SIGTERM, then SIGKILL", test_stop_term_then_kill},
    {"tsc rate", test_tsc},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"fleet proc", setup, teardown, NULL, NULL, proc_tests},
    CU_SUITE_INFO_NULL,
};
