/*
 * ballastd's KSM monitor (host/daemon/ksm_monitor.c) on a temporary copy of
 * the 6.18 fixture tree, with a fake clock: per-VM and host figures in the
 * status document, ksmd's CPU measured over the tuner interval, settings
 * written to the fixture sysfs with a logged reason, decisions spaced by the
 * interval, observe / dry run / config errors writing nothing, the opt-out
 * warning, and the status table and JSON carrying the new members. Log lines
 * are captured with a glib writer function.
 */
#include "cunit_main.h"
#include "ksm_monitor.h"
#include "status_table.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GiB  (1024ull * 1024 * 1024)
#define PAGE 4096ull

static char tmp[PATH_MAX];
static char sysfs[PATH_MAX + 16], proc[PATH_MAX + 16];
static GString *logbuf;

static GLogWriterOutput capture(GLogLevelFlags level, const GLogField *fields, gsize n,
                                gpointer data)
{
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0) {
            g_string_append_len(logbuf, fields[i].value,
                                fields[i].length < 0 ? (gssize)strlen(fields[i].value)
                                                     : fields[i].length);
            g_string_append_c(logbuf, '\n');
        }
    return G_LOG_WRITER_HANDLED;
}

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return rc == 0 ? 0 : -1;
}

static int setup(void)
{
    g_strlcpy(tmp, "/tmp/ballast-ksm-monitor-XXXXXX", sizeof(tmp));
    if (!mkdtemp(tmp))
        return -1;
    snprintf(sysfs, sizeof(sysfs), "%s/sysfs", tmp);
    snprintf(proc, sizeof(proc), "%s/proc", tmp);
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof(cmd), "cp -r %s/ksm-6.18/sysfs %s/ksm-6.18/proc %s/", BALLAST_FIXTURES,
             BALLAST_FIXTURES, tmp);
    logbuf = g_string_new(NULL);
    g_log_set_writer_func(capture, NULL, NULL);
    return sh(cmd);
}

static int teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    g_string_free(logbuf, TRUE);
    return sh(cmd);
}

static void put(const char *dir, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    CU_ASSERT_TRUE_FATAL(g_file_set_contents(path, text, -1, NULL));
}

static const char *get(const char *name)
{
    static char buf[128];
    g_autofree char *path = g_build_filename(sysfs, name, NULL), *text = NULL;
    buf[0] = '\0';
    if (g_file_get_contents(path, &text, NULL, NULL))
        g_strlcpy(buf, g_strstrip(text), sizeof(buf));
    return buf;
}

/* ksmd (pid 37) has used `ticks` clock ticks (utime + stime). */
static void ksmd_ticks(unsigned long long ticks)
{
    char line[256];
    snprintf(line, sizeof(line),
             "37 (ksmd) S 2 0 0 0 -1 2097216 0 0 0 0 %llu 0 0 0 25 5 1 0 26 0 0 "
             "18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 "
             "0\n",
             ticks);
    put(proc, "37/stat", line);
}

static void reset_tree(void)
{
    put(sysfs, "run", "0\n");
    put(sysfs, "pages_to_scan", "100\n");
    put(sysfs, "sleep_millisecs", "20\n");
    put(sysfs, "use_zero_pages", "0\n");
    put(sysfs, "advisor_mode", "[none] scan-time\n");
    put(sysfs, "pages_sharing", "60000\n");
    put(sysfs, "ksm_zero_pages", "20000\n");
    put(sysfs, "full_scans", "7\n");
    put(proc, "1234/ksm_stat",
        "ksm_rmap_items 25000\nksm_zero_pages 5000\nksm_merging_pages 14000\n"
        "ksm_process_profit 76224000\nksm_merge_any: no\nksm_mergeable: yes\n");
    ksmd_ticks(1000);
    g_string_truncate(logbuf, 0);
}

static struct config *config_mode(unsigned mode, double budget);

/*
 * A fresh tree and km in auto mode (budget 10%) after its first decision:
 * 8 guests committing 6 of 24 GiB, 20 available. Returns whether the guard was wanted before that
 * decision.
 */
static bool auto_started(struct ksm_monitor *km)
{
    reset_tree();
    ksm_monitor_init(km, sysfs, proc, 0);
    g_autoptr(BallastConfig) c = config_mode(KSM_MODE_AUTO, 10);
    ksm_monitor_configure(km, c);
    bool wanted_before = ksm_monitor_guard_wanted(km);
    ksm_monitor_tick_host(km);
    ksm_monitor_tick_tune(km, 0, 24 * GiB, 20 * GiB, 6 * GiB, 8);
    return wanted_before;
}

static struct config *config_mode(unsigned mode, double budget)
{
    struct config *c = config_new_defaults();
    c->ksm.mode = mode;
    c->ksm.cpu_budget_pct = budget;
    c->ksm.interval_ms = 10000;
    c->ksm.start_commit_pct = 10;
    c->ksm.stop_commit_pct = 5;
    return c;
}

static void test_mode_names_agree(void)
{
    /* config.c's ksm_mode names index host/ksm's enum ksm_mode. */
    for (uint32_t i = 0; config_ksm_mode_name(i); i++) {
        enum ksm_mode m;
        CU_ASSERT_EQUAL(ksm_mode_parse(config_ksm_mode_name(i), &m), 0);
        CU_ASSERT_EQUAL((uint32_t)m, i);
    }
    CU_ASSERT_STRING_EQUAL(config_ksm_mode_name(KSM_MODE_OBSERVE), "observe");
    g_autoptr(BallastConfig) c = config_new_defaults();
    /* auto by default; the guards (another tuner, a foreign ksmd) are the tuner's. */
    CU_ASSERT_EQUAL(c->ksm.mode, (uint32_t)KSM_MODE_AUTO);
    CU_ASSERT_DOUBLE_EQUAL(c->ksm.cpu_budget_pct, 10.0, 1e-9);
    /* The config's default yield is the tuner's. */
    struct ksm_tuner_config t;
    ksm_tuner_config_default(&t);
    CU_ASSERT_DOUBLE_EQUAL(c->ksm.min_yield_mib_per_cpu_s, t.min_yield_mib_per_cpu_s, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(t.min_yield_mib_per_cpu_s, 4.0, 1e-9);
}

static void test_tuner_config_mapping(void)
{
    struct config_ksm ck = {.mode = KSM_MODE_ADVISOR,
                            .cpu_budget_pct = 4,
                            .interval_ms = 5000,
                            .start_commit_pct = 20,
                            .stop_commit_pct = 10,
                            .min_yield_mib_per_cpu_s = 0};
    struct ksm_tuner_config t;
    ksm_monitor_tuner_config(&ck, false, &t);
    CU_ASSERT_EQUAL(t.mode, KSM_MODE_ADVISOR);
    CU_ASSERT_DOUBLE_EQUAL(t.budget_pct, 4.0, 1e-9);
    CU_ASSERT_EQUAL(t.start_commit_pct, 20);
    CU_ASSERT_EQUAL(t.stop_commit_pct, 10);
    CU_ASSERT_DOUBLE_EQUAL(t.min_yield_mib_per_cpu_s, 0.0, 1e-9); /* 0: never stop for it */
    ck.min_yield_mib_per_cpu_s = NAN; /* not from a file; the tuner's default stands */
    ksm_monitor_tuner_config(&ck, false, &t);
    CU_ASSERT_DOUBLE_EQUAL(t.min_yield_mib_per_cpu_s, 4.0, 1e-9);
    ksm_monitor_tuner_config(&ck, true, &t); /* config errors: observe only */
    CU_ASSERT_EQUAL(t.mode, KSM_MODE_OBSERVE);
    ck.mode = 99; /* out of range: observe, never a write */
    ksm_monitor_tuner_config(&ck, false, &t);
    CU_ASSERT_EQUAL(t.mode, KSM_MODE_OBSERVE);
}

static void test_config_keys_parse(void)
{
    g_autofree char *d = g_build_filename(tmp, "conf", NULL);
    mkdir(d, 0700);
    put(d, "ballastd.conf",
        "[ballastd]\nksm_mode = auto\nksm_cpu_budget_pct = 2.5\nksm_interval_ms = 3000\n"
        "ksm_min_yield_mib_per_cpu_s = 12.5\n");
    g_autoptr(BallastConfig) c = config_load_dir(d);
    CU_ASSERT_EQUAL(c->errors->len, 0);
    CU_ASSERT_EQUAL(c->ksm.mode, (uint32_t)KSM_MODE_AUTO);
    CU_ASSERT_DOUBLE_EQUAL(c->ksm.cpu_budget_pct, 2.5, 1e-9);
    CU_ASSERT_EQUAL(c->ksm.interval_ms, 3000);
    CU_ASSERT_DOUBLE_EQUAL(c->ksm.min_yield_mib_per_cpu_s, 12.5, 1e-9);
    put(d, "ballastd.conf",
        "[ballastd]\nksm_mode = turbo\nksm_start_commit_pct = 30\nksm_stop_commit_pct = 30\n");
    g_autoptr(BallastConfig) bad = config_load_dir(d);
    CU_ASSERT_EQUAL(bad->errors->len, 2); /* unknown mode; stop not below start */
    /* A ballastd.conf with errors: ballastd only observes KSM. */
    struct ksm_tuner_config eff;
    ksm_monitor_tuner_config(&bad->ksm, bad->n_global_errors > 0, &eff);
    CU_ASSERT_EQUAL(eff.mode, KSM_MODE_OBSERVE);
    put(d, "vm0.conf", "[vm]\nksm = false\n");
    put(d, "ballastd.conf", "[ballastd]\n");
    g_autoptr(BallastConfig) vmc = config_load_dir(d);
    CU_ASSERT_FALSE(config_find_vm(vmc, "vm0")->policy.ksm);
    CU_ASSERT_TRUE(vmc->defaults.ksm);
}

/* Per-VM and host figures, opt-out warning, in status and JSON. */
static void test_accounting_and_status(void)
{
    reset_tree();
    struct ksm_monitor km;
    ksm_monitor_init(&km, sysfs, proc, 0);
    CU_ASSERT_EQUAL(km.ksmd_pid, 37);
    g_autoptr(BallastConfig) c = config_mode(KSM_MODE_OBSERVE, 10);
    ksm_monitor_configure(&km, c);
    struct ksm_monitor_vm vm = {.pid = -1}, gone = {.pid = -1};
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_vm(&km, &vm, "vm0", 1234, false);
    ksm_monitor_tick_vm(&km, &gone, "vm1", 4242, true); /* no such process */

    struct ctl_vm_status s;
    ctl_vm_status_init(&s);
    ksm_monitor_vm_status(&vm, &s);
    /* 14000 merging pages * 60000 sharing / (10000 shared + 60000 sharing) = 12000 pages. */
    CU_ASSERT_EQUAL(s.ksm_saved_sharing_bytes, (int64_t)(12000 * PAGE));
    CU_ASSERT_EQUAL(s.ksm_saved_zero_bytes, (int64_t)(5000 * PAGE));
    CU_ASSERT_EQUAL(s.ksm_rmap_cost_bytes, 25000 * 64);
    CU_ASSERT_EQUAL(s.ksm_net_profit_bytes, (int64_t)(17000 * PAGE) - 25000 * 64);
    CU_ASSERT_EQUAL(s.ksm_merging_pages, 14000);
    CU_ASSERT_EQUAL(s.ksm_profit_bytes, 76224000);
    CU_ASSERT_EQUAL(s.ksm_mergeable, 1);
    CU_ASSERT_EQUAL(s.ksm_allowed, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "vm0: policy ksm = false, but QEMU"));
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "vm0: KSM saves 66.4 MiB"));

    struct ctl_vm_status g;
    ctl_vm_status_init(&g);
    ksm_monitor_vm_status(&gone, &g);
    CU_ASSERT_EQUAL(g.ksm_saved_sharing_bytes, -1); /* unknown, not 0 */
    CU_ASSERT_EQUAL(g.ksm_mergeable, -1);
    CU_ASSERT_EQUAL(g.ksm_allowed, 1);
    CU_ASSERT_EQUAL(gone.read_error, -ESRCH);

    struct ctl_host_status h;
    ctl_host_status_init(&h);
    ksm_monitor_host_status(&km, &h);
    CU_ASSERT_STRING_EQUAL(h.ksm_mode, "observe");
    CU_ASSERT_EQUAL(h.ksm_saved_sharing_bytes, (int64_t)(60000 * PAGE));
    CU_ASSERT_EQUAL(h.ksm_saved_zero_bytes, (int64_t)(20000 * PAGE));
    CU_ASSERT_EQUAL(h.ksm_saved_bytes, (int64_t)(80000 * PAGE));
    CU_ASSERT_EQUAL(h.ksm_rmap_cost_bytes, (10000 + 60000 + 30000 + 2000) * 64);
    CU_ASSERT_EQUAL(h.ksm_general_profit_bytes, 321152000);
    CU_ASSERT_EQUAL(h.ksm_run, 0);
    CU_ASSERT_TRUE(isnan(h.ksmd_cpu_pct)); /* no interval measured yet */

    /* The same twice: no second log line (only material changes are logged). */
    g_string_truncate(logbuf, 0);
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_vm(&km, &vm, "vm0", 1234, false);
    CU_ASSERT_EQUAL(logbuf->len, 0);
    /* +10% sharing for the host, +40 MiB: both logged. */
    put(sysfs, "pages_sharing", "70000\n");
    ksm_monitor_tick_host(&km);
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "ksm: host saves"));

    /* JSON and the table carry it all; a negative net profit survives the trip. */
    s.ksm_net_profit_bytes = -(5 << 20);
    g_autofree char *line = ctl_status_reply(&h, &s, 1);
    JsonNode *node = NULL;
    g_autofree char *code = NULL, *msg = NULL;
    CU_ASSERT_EQUAL_FATAL(ctl_reply_parse(line, &node, &code, &msg), 0);
    struct ctl_host_status h2;
    struct ctl_vm_status *back = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(ctl_status_from_json(node, &h2, &back, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(back[0].ksm_net_profit_bytes, -(5 << 20));
    CU_ASSERT_EQUAL(back[0].ksm_mergeable, 1);
    CU_ASSERT_EQUAL(back[0].ksm_allowed, 0);
    CU_ASSERT_EQUAL(h2.ksm_saved_bytes, h.ksm_saved_bytes);
    CU_ASSERT_STRING_EQUAL(h2.ksm_mode, "observe");
    CU_ASSERT_EQUAL(h2.ksm_general_profit_bytes, 321152000);
    GString *out = g_string_new(NULL);
    status_table_format(out, &h2, back, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "ksm: mode observe, run off"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "ksm tuner: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "MERGE"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "-5.0 MiB"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "off!")); /* opted out, yet mergeable */
    g_string_free(out, TRUE);
    g_free(back);
    json_node_unref(node);
    ksm_monitor_clear(&km);
}

/* auto: starts ksmd, measures its CPU over the interval, paces it, logs why. */
static void test_auto_tunes_and_logs(void)
{
    reset_tree();
    struct ksm_monitor km;
    ksm_monitor_init(&km, sysfs, proc, 0);
    g_autoptr(BallastConfig) c = config_mode(KSM_MODE_AUTO, 10);
    ksm_monitor_configure(&km, c);
    struct ksm_monitor_vm vm = {.pid = -1};
    const uint64_t total = 24 * GiB, avail = 20 * GiB, committed = 6 * GiB; /* 25% >= 10% */

    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_vm(&km, &vm, "vm0", 1234, true);
    ksm_monitor_tick_tune(&km, 0, total, avail, committed, 8);
    CU_ASSERT_STRING_EQUAL(get("run"), "1");
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "500");
    CU_ASSERT_STRING_EQUAL(get("use_zero_pages"), "1"); /* a fleet */
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "ksm: run 0 -> 1 (guests commit 25% of RAM"));
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    ksm_monitor_host_status(&km, &h);
    CU_ASSERT_TRUE(h.ksm_tuner_changes >= 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(h.ksm_last_change, "run 0 -> 1"));
    CU_ASSERT_EQUAL(h.ksm_run, 1); /* re-read after the write */

    /* Not due 5 s later: nothing measured, nothing written. */
    ksmd_ticks(1500);
    put(sysfs, "pages_to_scan", "777\n");
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 5000, total, avail, committed, 8);
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "777");
    put(sysfs, "pages_to_scan", "500\n");

    /* 10 s later: ksmd used 500 ticks = 5 s of CPU in 10 s = 50%, merging: cut the rate. */
    ksmd_ticks(1500);
    put(sysfs, "pages_sharing", "90000\n");
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 10000, total, avail, committed, 8);
    ctl_host_status_init(&h);
    ksm_monitor_host_status(&km, &h);
    CU_ASSERT_DOUBLE_EQUAL(h.ksmd_cpu_pct, 50.0, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(h.ksmd_cpu_seconds, 5.0, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(h.ksmd_cpu_avg_pct, 50.0, 0.01);
    /* 500 * 0.8 * 10 / 50 = 80 pages per 20 ms. */
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "80");
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "over 90% of the 10.0% budget"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h.ksm_reason, "ksmd 50.0% of a core"));

    /* Dry run: the tuner proposes, nothing is written, the proposal is logged once. */
    ksm_monitor_set_dry_run(&km, true);
    g_string_truncate(logbuf, 0);
    for (int i = 2; i <= 4; i++) {
        ksmd_ticks(1500 + (unsigned long long)(i - 1) * 400); /* 40% per interval: over budget */
        ksm_monitor_tick_host(&km);
        ksm_monitor_tick_tune(&km, (uint64_t)i * 10000, total, avail, committed, 8);
        CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "80");
    }
    const char *first = strstr(logbuf->str, "dry-run: would set pages_to_scan 80 -> ");
    CU_ASSERT_PTR_NOT_NULL(first);
    if (first) /* the same proposal three times: logged once */
        CU_ASSERT_PTR_NULL(strstr(first + 1, "dry-run: would set pages_to_scan"));
    ksm_monitor_set_dry_run(&km, false);

    /* Observe after a reload: nothing is written, however far over budget. */
    g_autoptr(BallastConfig) o = config_mode(KSM_MODE_OBSERVE, 10);
    ksm_monitor_configure(&km, o);
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "ksm: mode observe"));
    ksmd_ticks(9000);
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 60000, total, avail, committed, 8);
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "80");
    CU_ASSERT_STRING_EQUAL(get("run"), "1");
    ksm_monitor_clear(&km);
}

/*
 * The slice guard: ksmd's CPU read every second while ballast paces it. A
 * second over the budget cuts pages_to_scan at once, logs why and counts as
 * a change; a second within it writes nothing; a dry run, observe mode and
 * a stopped ksmd do not arm it at all.
 */
static void test_guard_cuts_within_the_slice(void)
{
    struct ksm_monitor km;
    CU_ASSERT_FALSE(auto_started(&km)); /* nothing decided before the first decision */
    const uint64_t total = 24 * GiB, avail = 20 * GiB, committed = 6 * GiB;
    CU_ASSERT_STRING_EQUAL(get("run"), "1");
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "500");
    CU_ASSERT_TRUE(ksm_monitor_guard_wanted(&km));

    ksmd_ticks(1000);
    ksm_monitor_guard(&km, 1000); /* the first reading: a baseline */
    ksmd_ticks(1009);
    ksm_monitor_guard(&km, 2000); /* 9% in 1 s: within the 10% budget */
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "500");
    ksmd_ticks(1020);
    ksm_monitor_guard(&km, 3000); /* 11%: the budget plus one tick's rounding, held */
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "500");
    CU_ASSERT_EQUAL(km.guard_cuts, 0);

    g_string_truncate(logbuf, 0);
    uint64_t changes = km.changes;
    ksmd_ticks(1050);
    ksm_monitor_guard(&km, 3400); /* under half a period: kept for a longer window */
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "500");
    ksm_monitor_guard(&km, 4000); /* 30 ticks in 1 s: 30%, 3x the budget */
    /* (0.8 x 10 x 10 s - 30 x 1 s) / 9 s = 5.56%: 500 x 5.56 / 30 = 92.6 pages per 20 ms. */
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "93");
    CU_ASSERT_EQUAL(km.guard_cuts, 1);
    CU_ASSERT_EQUAL(km.changes, changes + 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "ksm: pages_to_scan 500 -> 93 (ksmd used 30.0% "
                                               "of a core over the last 1.0 s"));
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    ksm_monitor_host_status(&km, &h);
    CU_ASSERT_PTR_NOT_NULL(strstr(h.ksm_last_change, "pages_to_scan 500 -> 93: ksmd used 30.0%"));

    /* The next decision starts from the guard's rate and does not take the
     * guard's write for another writer's (no walk of /proc for ksmtuned). */
    g_string_truncate(logbuf, 0);
    ksmd_ticks(1060); /* 60 ticks in 10 s: 6%, within the band */
    put(sysfs, "pages_sharing", "90000\n");
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 10000, total, avail, committed, 8);
    /* Still the first full scan: paced to a quarter of the budget, from 93. */
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "ksm: pages_to_scan 93 -> "));
    CU_ASSERT_PTR_NULL(strstr(logbuf->str, "ksmtuned"));
    char after[32];
    g_strlcpy(after, get("pages_to_scan"), sizeof(after));

    /* A gap of a whole slice (a stalled loop) is the rate loop's to judge. */
    ksmd_ticks(5000);
    ksm_monitor_guard(&km, 30000);
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), after);

    /* A dry run writes nothing, so it does not arm the guard. */
    ksm_monitor_set_dry_run(&km, true);
    CU_ASSERT_FALSE(ksm_monitor_guard_wanted(&km));
    ksmd_ticks(6000);
    ksm_monitor_guard(&km, 31000);
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), after);
    ksm_monitor_set_dry_run(&km, false);

    /* ksmd gone: no reading, no write, no crash. */
    char stat_path[PATH_MAX + 32];
    g_snprintf(stat_path, sizeof(stat_path), "%s/37/stat", proc);
    CU_ASSERT_EQUAL(unlink(stat_path), 0);
    ksm_monitor_guard(&km, 32000);
    ksm_monitor_guard(&km, 33000);
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), after);

    /* Observe mode: not wanted. */
    g_autoptr(BallastConfig) o = config_mode(KSM_MODE_OBSERVE, 10);
    ksm_monitor_configure(&km, o);
    CU_ASSERT_FALSE(ksm_monitor_guard_wanted(&km));
    ksm_monitor_clear(&km);
}

/* A kernel without KSM: no figures, no writes, no crash. */
static void test_no_ksm(void)
{
    struct ksm_monitor km;
    g_autofree char *none = g_build_filename(tmp, "no-such-dir", NULL);
    ksm_monitor_init(&km, none, none, 0);
    CU_ASSERT_EQUAL(km.ksmd_pid, -1);
    g_autoptr(BallastConfig) c = config_mode(KSM_MODE_AUTO, 10);
    ksm_monitor_configure(&km, c);
    struct ksm_monitor_vm vm = {.pid = -1};
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_vm(&km, &vm, "vm0", 1234, true);
    ksm_monitor_tick_tune(&km, 0, 24 * GiB, 20 * GiB, 12 * GiB, 8);
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    ksm_monitor_host_status(&km, &h);
    CU_ASSERT_EQUAL(h.ksm_saved_bytes, -1);
    CU_ASSERT_EQUAL(h.ksm_run, -1);
    CU_ASSERT_FALSE(vm.valid);
    ksm_monitor_clear(&km);
}

/*
 * ksmtuned starting after ballast: the periodic /proc walk is minutes apart,
 * but ksmtuned's first write moves ksmd's knobs, and that triggers the walk
 * at the next decision: ballast backs off to observing and writes nothing.
 */
static void test_peer_found_when_knobs_move(void)
{
    struct ksm_monitor km;
    auto_started(&km);
    const uint64_t total = 24 * GiB, avail = 20 * GiB, committed = 6 * GiB;
    CU_ASSERT_STRING_EQUAL(get("run"), "1"); /* no peer yet: ballast tunes */

    /* ksmtuned appears; its knobs are still ours: no walk, ballast keeps tuning. */
    g_autofree char *peer = g_build_filename(proc, "4242", NULL);
    CU_ASSERT_EQUAL_FATAL(g_mkdir_with_parents(peer, 0755), 0);
    put(peer, "comm", "ksmtuned\n");
    ksmd_ticks(1100); /* 1 s of CPU in 10 s: 10%, within the budget */
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 10000, total, avail, committed, 8);
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    ksm_monitor_host_status(&km, &h);
    CU_ASSERT_PTR_NULL(strstr(h.ksm_reason, "observing only"));

    /* ksmtuned writes sleep_millisecs: the next decision walks /proc, finds it, writes nothing. */
    put(sysfs, "sleep_millisecs", "50\n");
    put(sysfs, "pages_to_scan", "1234\n");
    ksmd_ticks(1900); /* 80%: ballast would cut the rate if it still tuned */
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 20000, total, avail, committed, 8);
    ctl_host_status_init(&h);
    ksm_monitor_host_status(&km, &h);
    CU_ASSERT_PTR_NOT_NULL(strstr(h.ksm_reason, "observing only: ksmtuned (pid 4242)"));
    CU_ASSERT_STRING_EQUAL(get("pages_to_scan"), "1234");
    CU_ASSERT_STRING_EQUAL(get("sleep_millisecs"), "50");
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "ksmtuned (pid 4242) tunes KSM on this host"));
    g_autofree char *rm = g_strdup_printf("rm -rf %s", peer);
    CU_ASSERT_EQUAL(sh(rm), 0);
    ksm_monitor_clear(&km);
}

/*
 * The product's demo as ballastd sees it: 8 guests committing 8% of a
 * 24 GiB host. ksmd starts as a probe; the scan that ends inside an
 * interval is no verdict; the next interval's merges are, and the phase
 * change is logged once. Status (table and JSON) and explain carry the
 * phase and the yield.
 */
static void test_fleet_probe_and_yield_in_status(void)
{
    reset_tree();
    struct ksm_monitor km;
    ksm_monitor_init(&km, sysfs, proc, 0);
    g_autoptr(BallastConfig) c = config_mode(KSM_MODE_AUTO, 10);
    c->ksm.start_commit_pct = 50;
    c->ksm.stop_commit_pct = 35;
    ksm_monitor_configure(&km, c);
    const uint64_t total = 24 * GiB, avail = 20 * GiB, committed = 2 * GiB;
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 0, total, avail, committed, 8);
    CU_ASSERT_STRING_EQUAL(get("run"), "1");
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "ksm: run 0 -> 1 (probe: fleet of 8 guests"));
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    ksm_monitor_host_status(&km, &h);
    CU_ASSERT_STRING_EQUAL(h.ksm_phase, "probing");
    CU_ASSERT_TRUE(isnan(h.ksm_yield_mib_per_cpu_s));
    CU_ASSERT_DOUBLE_EQUAL(h.ksm_min_yield_mib_per_cpu_s, 4.0, 1e-9);

    /* 10 s: the first full scan ends (7 -> 8), 0.2 s of CPU, nothing merged: no verdict. */
    ksmd_ticks(1020);
    put(sysfs, "full_scans", "8\n");
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 10000, total, avail, committed, 8);
    CU_ASSERT_STRING_EQUAL(get("run"), "1");
    CU_ASSERT_EQUAL(km.phase, KSM_PHASE_PROBING);
    /* 20 s: 20000 pages (78.1 MiB) merged for 0.5 s: 78.1 / 0.7 s = 111.6 MiB/CPU-s. */
    g_string_truncate(logbuf, 0);
    ksmd_ticks(1070);
    put(sysfs, "pages_sharing", "80000\n");
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 20000, total, avail, committed, 8);
    CU_ASSERT_STRING_EQUAL(get("run"), "1");
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "ksm: probing -> merging (yield 111.6 MiB/CPU-s"));
    ctl_host_status_init(&h);
    ksm_monitor_host_status(&km, &h);
    CU_ASSERT_STRING_EQUAL(h.ksm_phase, "merging");
    CU_ASSERT_DOUBLE_EQUAL(h.ksm_yield_mib_per_cpu_s, 78.125 / 0.7, 0.01);
    CU_ASSERT_EQUAL(h.ksm_reprobe_in_s, -1);

    /* JSON round trip and the table. */
    g_autofree char *line = ctl_status_reply(&h, NULL, 0);
    JsonNode *node = NULL;
    g_autofree char *code = NULL, *msg = NULL;
    CU_ASSERT_EQUAL_FATAL(ctl_reply_parse(line, &node, &code, &msg), 0);
    struct ctl_host_status h2;
    struct ctl_vm_status *back = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(ctl_status_from_json(node, &h2, &back, &n), 0);
    CU_ASSERT_STRING_EQUAL(h2.ksm_phase, "merging");
    CU_ASSERT_DOUBLE_EQUAL(h2.ksm_yield_mib_per_cpu_s, h.ksm_yield_mib_per_cpu_s, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(h2.ksm_min_yield_mib_per_cpu_s, 4.0, 1e-9);
    CU_ASSERT_EQUAL(h2.ksm_reprobe_in_s, -1);
    GString *out = g_string_new(NULL);
    status_table_format(out, &h2, back, n);
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "ksm tuner: merging, yield 111.6 MiB/CPU-s (min 4): "));
    g_string_free(out, TRUE);
    g_free(back);
    json_node_unref(node);

    /* explain's ksm object. */
    struct ksm_monitor_vm vm = {.pid = -1};
    GString *doc = g_string_new(NULL);
    struct json_writer w;
    json_writer_init(&w, doc);
    json_writer_object_begin(&w);
    ksm_monitor_explain(&km, &vm, &w);
    json_writer_object_end(&w);
    CU_ASSERT_PTR_NOT_NULL(strstr(doc->str, "\"phase\":\"merging\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(doc->str, "\"yield_mib_per_cpu_s\":111.6"));
    CU_ASSERT_PTR_NOT_NULL(strstr(doc->str, "\"reprobe_in_s\":null"));
    g_string_free(doc, TRUE);
    ksm_monitor_clear(&km);
}

/*
 * Who owns ksmd: one ballast started is stopped when ballastd exits; one
 * started by someone else is left running; a restart after a crash takes
 * back the ksmd the state file says ballastd started, if it still runs.
 */
static void test_ksmd_owner(void)
{
    CU_ASSERT_TRUE(ksm_monitor_exit_stops(KSM_MODE_AUTO, false, false, true, 1));
    CU_ASSERT_TRUE(ksm_monitor_exit_stops(KSM_MODE_ADVISOR, false, false, true, 1));
    CU_ASSERT_FALSE(ksm_monitor_exit_stops(KSM_MODE_AUTO, false, false, false, 1)); /* not ours */
    CU_ASSERT_FALSE(ksm_monitor_exit_stops(KSM_MODE_OBSERVE, false, false, true, 1));
    CU_ASSERT_FALSE(ksm_monitor_exit_stops(KSM_MODE_AUTO, true, false, true, 1));  /* dry run */
    CU_ASSERT_FALSE(ksm_monitor_exit_stops(KSM_MODE_AUTO, false, true, true, 1));  /* ksmtuned */
    CU_ASSERT_FALSE(ksm_monitor_exit_stops(KSM_MODE_AUTO, false, false, true, 0)); /* off */

    const uint64_t total = 24 * GiB, avail = 20 * GiB, committed = 6 * GiB;
    g_autoptr(BallastConfig) c = config_mode(KSM_MODE_AUTO, 10);
    struct ksm_monitor km;

    /* ballast starts ksmd; at exit it stops it. */
    reset_tree();
    ksm_monitor_init(&km, sysfs, proc, 0);
    ksm_monitor_configure(&km, c);
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 0, total, avail, committed, 8);
    CU_ASSERT_STRING_EQUAL(get("run"), "1");
    CU_ASSERT_TRUE(ksm_monitor_owns_ksmd(&km));
    ksm_monitor_exit(&km);
    CU_ASSERT_STRING_EQUAL(get("run"), "0");
    CU_ASSERT_FALSE(ksm_monitor_owns_ksmd(&km));
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "ksm: run 1 -> 0 (ballastd exits"));
    ksm_monitor_clear(&km);

    /* Started outside ballast (no state file says otherwise): left running. */
    reset_tree();
    put(sysfs, "run", "1\n");
    ksm_monitor_init(&km, sysfs, proc, 0);
    ksm_monitor_configure(&km, c);
    ksm_monitor_take_back(&km, false);
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 0, total, avail, committed, 8);
    CU_ASSERT_EQUAL(km.phase, KSM_PHASE_EXTERNAL);
    CU_ASSERT_FALSE(ksm_monitor_owns_ksmd(&km));
    ksm_monitor_exit(&km);
    CU_ASSERT_STRING_EQUAL(get("run"), "1");
    CU_ASSERT_PTR_NOT_NULL(
        strstr(logbuf->str, "ksm: ksmd was started outside ballast: left running"));
    ksm_monitor_clear(&km);

    /* A crash: ksmd still runs, the state file says ballastd started it.
     * The new ballastd owns it again: judged on its yield, stopped at exit. */
    reset_tree();
    put(sysfs, "run", "1\n");
    ksm_monitor_init(&km, sysfs, proc, 0);
    ksm_monitor_configure(&km, c);
    ksm_monitor_take_back(&km, true);
    CU_ASSERT_TRUE(ksm_monitor_owns_ksmd(&km));
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf->str, "ballast owns it again"));
    ksm_monitor_tick_host(&km);
    ksm_monitor_tick_tune(&km, 0, total, avail, committed, 8);
    CU_ASSERT_NOT_EQUAL(km.phase, KSM_PHASE_EXTERNAL);
    CU_ASSERT_STRING_EQUAL(get("run"), "1");
    ksm_monitor_exit(&km);
    CU_ASSERT_STRING_EQUAL(get("run"), "0");
    ksm_monitor_clear(&km);

    /* The state file says so, but ksmd was stopped since: nobody's. */
    reset_tree();
    ksm_monitor_init(&km, sysfs, proc, 0);
    ksm_monitor_configure(&km, c);
    ksm_monitor_take_back(&km, true);
    CU_ASSERT_FALSE(ksm_monitor_owns_ksmd(&km));
    ksm_monitor_clear(&km);
}

static CU_TestInfo monitor_tests[] = {
    {"who owns ksmd: exit, external, restart", test_ksmd_owner},
    {"mode names agree", test_mode_names_agree},
    {"tuner config mapping", test_tuner_config_mapping},
    {"config keys parse", test_config_keys_parse},
    {"accounting and status", test_accounting_and_status},
    {"auto tunes and logs", test_auto_tunes_and_logs},
    {"no ksm", test_no_ksm},
    {"guard cuts within the slice", test_guard_cuts_within_the_slice},
    {"peer found when knobs move", test_peer_found_when_knobs_move},
    {"fleet probe and yield in status", test_fleet_probe_and_yield_in_status},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"ksm monitor", setup, teardown, NULL, NULL, monitor_tests},
    CU_SUITE_INFO_NULL,
};
