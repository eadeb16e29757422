/*
 * ballast-ksm-drive: drives ksmd with one strategy for a fixed window and
 * samples what it achieves, for scripts/bench-ksm (docs/benchmarks/ksm.md).
 *
 *   ballast-ksm-drive --strategy defaults|ksmtuned|advisor|ballast|probe --window-s N
 *                     --committed BYTES --guests N [--mem-total BYTES]
 *                     [--budget-pct P] [--csv FILE] [--no-reset] [--fleet DIR]
 *
 * It first unmerges everything (run=2, until KSM holds no page, then run=0)
 * so every strategy starts from the same state, then:
 *   defaults  run=1 with the kernel's defaults (100 pages / 20 ms, no zero pages)
 *   ksmtuned  the ksmtuned / oVirt MOM formula (ksm_tuner_ksmtuned) every 60 s
 *   advisor   ballastd's KSM monitor in mode advisor (the kernel's scan-time advisor)
 *   ballast   ballastd's KSM monitor in mode auto (the CPU-budget loop)
 *   probe     the same on the host's real size (--mem-total ignored): on a
 *             roomy host only the yield rule's probe starts ksmd, and the
 *             yield decides how long it runs (docs/ksm.md "On/off")
 * The last three run the daemon's own code (ksm_monitor.c) with a 10 s interval.
 * With the scaled host of scripts/bench-ksm (--mem-total, 89% committed) the
 * ballast strategy is held on by pressure: the yield is shown, never acted on.
 * Every second it writes a CSV row (t_s, run, pages_to_scan, sleep_ms,
 * pages_shared, pages_sharing, ksm_zero_pages, general_profit, full_scans,
 * ksmd_ticks, mem_available, and with --fleet: fleet_saved, fleet_zero,
 * fleet_net); at the end one JSON line with the results.
 *
 * --fleet DIR: the fleet's state directory (DIR/<vm>/pid). Host-wide counters
 * count every mergeable process on the host; with --fleet the driver also
 * sums what KSM saves these QEMU processes alone (ksm_account_vm over each
 * /proc/PID/ksm_stat: their fair share of pages_sharing, their zero pages,
 * net of rmap cost), and computes the time to 90% on that.
 *
 * --mem-total scales the host the formulas see (the guests' commitment is
 * judged against it, MemAvailable is capped at it): a small fleet on a big
 * host would otherwise leave both on/off rules off, and there would be
 * nothing to compare. Must run as root; it changes host-wide KSM settings
 * (scripts/bench-ksm saves and restores them).
 */
#include "fleet_layout.h"
#include "hostmem.h"
#include "ksm.h"
#include "ksm_monitor.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#define KSMTUNED_INTERVAL_MS 60000 /* ksmtuned's KSM_MONITOR_INTERVAL */

struct sample {
    double t_s;
    struct ksm_host_sample h;
    uint64_t ticks;
    uint64_t avail;
    uint64_t fleet_saved; /* bytes: sharing share + zero pages of the fleet's QEMUs */
    uint64_t fleet_zero;
    int64_t fleet_net; /* fleet_saved - their rmap cost */
};

#define MAX_FLEET_PIDS 1024

/* The QEMU pids of a fleet state directory (DIR/<vm>/pid); returns how many. */
static unsigned fleet_pids(const char *dir, pid_t *pids, unsigned max)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    unsigned n = 0;
    const char *name;
    while (d && n < max && (name = g_dir_read_name(d))) {
        char path[FLEET_LAYOUT_PATH_MAX];
        g_autofree char *text = NULL;
        if (fleet_layout_path(path, sizeof(path), dir, name, FLEET_FILE_PID) != 0 ||
            !g_file_get_contents(path, &text, NULL, NULL))
            continue;
        long pid = strtol(text, NULL, 10);
        if (pid > 0 && pid < INT32_MAX)
            pids[n++] = (pid_t)pid;
    }
    return n;
}

static void take_fleet(const pid_t *pids, unsigned n, struct sample *s)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    for (unsigned i = 0; i < n; i++) {
        struct ksm_proc_sample p;
        struct ksm_vm_account a;
        if (ksm_read_proc("/proc", pids[i], &p) < 0 && !p.present)
            continue;
        if (ksm_account_vm(&p, &s->h, page, &a) < 0)
            continue;
        s->fleet_saved += a.saved_sharing_bytes + a.saved_zero_bytes;
        s->fleet_zero += a.saved_zero_bytes;
        s->fleet_net += a.net_profit_bytes;
    }
}

static uint64_t now_ms(void)
{
    return (uint64_t)(g_get_monotonic_time() / 1000);
}

static uint64_t saved_pages(const struct ksm_host_sample *h)
{
    return h->pages_sharing + h->ksm_zero_pages;
}

static int write_one(const char *root, enum ksm_setting s, uint64_t v)
{
    struct ksm_settings st = {.mask = KSM_BIT(s)};
    switch (s) {
    case KSM_S_RUN:
        st.run = v;
        break;
    case KSM_S_PAGES_TO_SCAN:
        st.pages_to_scan = v;
        break;
    case KSM_S_SLEEP_MS:
        st.sleep_ms = v;
        break;
    case KSM_S_USE_ZERO_PAGES:
        st.use_zero_pages = v;
        break;
    case KSM_S_ADVISOR_MODE:
        st.advisor_mode = v ? KSM_ADVISOR_SCAN_TIME : KSM_ADVISOR_NONE;
        break;
    default:
        return -EINVAL;
    }
    return ksm_apply(root, &st, NULL);
}

/* run=2 until no page is merged, then run=0 with the kernel's defaults. */
static int reset(const char *sysfs)
{
    int rc = write_one(sysfs, KSM_S_RUN, 2);
    if (rc < 0)
        return rc;
    for (int i = 0; i < 600; i++) {
        struct ksm_host_sample h;
        ksm_read_host(sysfs, &h);
        if (h.pages_shared + h.pages_sharing + h.ksm_zero_pages == 0)
            break;
        g_usleep(200000);
    }
    if ((rc = write_one(sysfs, KSM_S_RUN, 0)) < 0)
        return rc;
    write_one(sysfs, KSM_S_ADVISOR_MODE, 0);
    write_one(sysfs, KSM_S_USE_ZERO_PAGES, 0);
    write_one(sysfs, KSM_S_SLEEP_MS, 20);
    return write_one(sysfs, KSM_S_PAGES_TO_SCAN, 100);
}

static void take(const char *sysfs, pid_t ksmd, uint64_t t0, struct sample *s)
{
    s->t_s = (double)(now_ms() - t0) / 1000.0;
    ksm_read_host(sysfs, &s->h);
    s->ticks = 0;
    if (ksmd > 0)
        ksm_ksmd_cpu_ticks("/proc", ksmd, &s->ticks);
    struct policy_host ph;
    s->avail = hostmem_read("/proc", &ph) == 0 ? ph.mem_available_bytes : 0;
}

enum strategy { DEFAULTS, KSMTUNED, ADVISOR, BALLAST, PROBE };

static const char *const strategy_names[] = {
    [DEFAULTS] = "defaults", [KSMTUNED] = "ksmtuned", [ADVISOR] = "advisor",
    [BALLAST] = "ballast",   [PROBE] = "probe",
};

struct options {
    char *strategy_name, *csv_path, *sysfs, *fleet_dir;
    gint64 window_s, committed, mem_total;
    gint guests;
    gdouble budget_pct;
    gboolean no_reset;
    enum strategy strategy;
};

static void options_clear(struct options *o)
{
    g_free(o->strategy_name);
    g_free(o->csv_path);
    g_free(o->sysfs);
    g_free(o->fleet_dir);
}

/* Returns 0, or 2 (the exit code for a bad command line) once it said why. */
static int parse_options(int *argc, char ***argv, struct options *o)
{
    *o = (struct options){.window_s = 300, .budget_pct = 10.0};
    GOptionEntry entries[] = {
        {"fleet", 0, 0, G_OPTION_ARG_FILENAME, &o->fleet_dir, "Also sum over this fleet's QEMUs",
         "DIR"},
        {"strategy", 0, 0, G_OPTION_ARG_STRING, &o->strategy_name,
         "defaults|ksmtuned|advisor|ballast|probe", "S"},
        {"window-s", 0, 0, G_OPTION_ARG_INT64, &o->window_s, "Seconds to drive ksmd", "N"},
        {"committed", 0, 0, G_OPTION_ARG_INT64, &o->committed, "Guests' nominal RAM, bytes", "B"},
        {"guests", 0, 0, G_OPTION_ARG_INT, &o->guests, "Number of guests", "N"},
        {"mem-total", 0, 0, G_OPTION_ARG_INT64, &o->mem_total, "Host RAM the formulas see", "B"},
        {"budget-pct", 0, 0, G_OPTION_ARG_DOUBLE, &o->budget_pct, "ballast's ksmd CPU budget", "P"},
        {"csv", 0, 0, G_OPTION_ARG_FILENAME, &o->csv_path, "Write samples here", "FILE"},
        {"sysfs", 0, 0, G_OPTION_ARG_FILENAME, &o->sysfs, "KSM sysfs root", "DIR"},
        {"no-reset", 0, 0, G_OPTION_ARG_NONE, &o->no_reset, "Do not unmerge first", NULL},
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- drive ksmd with one strategy");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, argc, argv, &error) || !o->strategy_name || o->window_s <= 0 ||
        o->guests <= 0 || o->committed <= 0 || o->budget_pct <= 0) {
        fprintf(stderr, "ballast-ksm-drive: %s\n",
                error ? error->message : "need --strategy, --window-s, --guests, --committed");
        return 2;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(strategy_names); i++) {
        if (strcmp(o->strategy_name, strategy_names[i]) == 0) {
            o->strategy = (enum strategy)i;
            return 0;
        }
    }
    fprintf(stderr, "ballast-ksm-drive: unknown strategy %s\n", o->strategy_name);
    return 2;
}

/* One run: what the strategies act on and what the samples go to. */
struct drive {
    const struct options *o;
    const char *sysfs;
    uint64_t mem_total;
    pid_t ksmd;
    const pid_t *pids;
    unsigned n_pids;
    FILE *csv;
    struct ksm_monitor km;
    struct ksm_tuner_config kcfg;
    uint64_t next_ksmtuned;
};

static void csv_header(FILE *csv)
{
    fprintf(csv, "t_s,run,pages_to_scan,sleep_ms,pages_shared,pages_sharing,ksm_zero_pages,"
                 "general_profit,full_scans,ksmd_ticks,mem_available,fleet_saved,fleet_zero,"
                 "fleet_net\n");
}

static void csv_row(FILE *csv, const struct sample *s)
{
    fprintf(csv, "%.1f,%llu,%llu,%llu,%llu,%llu,%llu,%lld,%llu,%llu,%llu,%llu,%llu,%lld\n", s->t_s,
            (unsigned long long)s->h.run, (unsigned long long)s->h.pages_to_scan,
            (unsigned long long)s->h.sleep_ms, (unsigned long long)s->h.pages_shared,
            (unsigned long long)s->h.pages_sharing, (unsigned long long)s->h.ksm_zero_pages,
            (long long)s->h.general_profit_bytes, (unsigned long long)s->h.full_scans,
            (unsigned long long)s->ticks, (unsigned long long)s->avail,
            (unsigned long long)s->fleet_saved, (unsigned long long)s->fleet_zero,
            (long long)s->fleet_net);
}

/* The ksmtuned / MOM formula, every KSMTUNED_INTERVAL_MS as ksmtuned runs it. */
static void step_ksmtuned(struct drive *d, uint64_t now, const struct sample *s, uint64_t avail)
{
    if (now < d->next_ksmtuned)
        return;
    struct ksm_tuner_input in = {.cfg = &d->kcfg,
                                 .mem_total_bytes = d->mem_total,
                                 .mem_available_bytes = avail,
                                 .committed_bytes = (uint64_t)d->o->committed,
                                 .guest_count = (unsigned)d->o->guests,
                                 .cur = s->h};
    struct ksm_tuner_output out;
    if (ksm_tuner_ksmtuned(&in, &out) == 0 && out.settings.mask) {
        ksm_apply(d->sysfs, &out.settings, NULL);
        fprintf(stderr, "ksmtuned: %s\n", out.summary);
    }
    d->next_ksmtuned += KSMTUNED_INTERVAL_MS;
}

/* One second of the strategy, on the sample just taken. */
static void step(struct drive *d, uint64_t tick, uint64_t now, const struct sample *s)
{
    uint64_t avail = s->avail < d->mem_total ? s->avail : d->mem_total;
    switch (d->o->strategy) {
    case DEFAULTS:
        if (tick == 0)
            write_one(d->sysfs, KSM_S_RUN, 1);
        break;
    case KSMTUNED:
        step_ksmtuned(d, now, s, avail);
        break;
    case ADVISOR:
    case BALLAST:
    case PROBE:
        ksm_monitor_tick_host(&d->km);
        ksm_monitor_tick_tune(&d->km, now, d->mem_total, avail, (uint64_t)d->o->committed,
                              (unsigned)d->o->guests);
        break;
    }
}

/* Samples and drives once a second for the window; returns the samples. */
static GArray *run_window(struct drive *d)
{
    GArray *samples = g_array_new(FALSE, FALSE, sizeof(struct sample));
    const uint64_t t0 = now_ms();
    d->next_ksmtuned = t0;
    for (uint64_t tick = 0;; tick++) {
        uint64_t now = now_ms();
        struct sample s = {0};
        take(d->sysfs, d->ksmd, t0, &s);
        take_fleet(d->pids, d->n_pids, &s);
        step(d, tick, now, &s);
        g_array_append_val(samples, s);
        if (d->csv)
            csv_row(d->csv, &s);
        if (s.t_s >= (double)d->o->window_s)
            break;
        uint64_t next = t0 + (tick + 1) * 1000;
        uint64_t after = now_ms();
        if (next > after)
            g_usleep((next - after) * 1000);
    }
    return samples;
}

/* Time to 90% of the final saving, the fleet's own when it is known; -1 for none. */
static double time_to_90(const GArray *samples, bool fleet, uint64_t page)
{
    const struct sample *last = &g_array_index(samples, struct sample, samples->len - 1);
    uint64_t final = fleet ? last->fleet_saved : saved_pages(&last->h) * page;
    for (guint i = 0; i < samples->len && final > 0; i++) {
        const struct sample *s = &g_array_index(samples, struct sample, i);
        uint64_t v = fleet ? s->fleet_saved : saved_pages(&s->h) * page;
        if ((double)v >= 0.9 * (double) final)
            return s->t_s;
    }
    return -1;
}

/* The results as one JSON line. */
static void print_result(const char *strategy, const GArray *samples, unsigned n_pids)
{
    const struct sample *first = &g_array_index(samples, struct sample, 0);
    const struct sample *last = &g_array_index(samples, struct sample, samples->len - 1);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t clk_tck = (uint64_t)sysconf(_SC_CLK_TCK);
    double t90 = time_to_90(samples, n_pids > 0, page);
    double cpu_s = (double)(last->ticks - first->ticks) / (double)clk_tck;
    printf("{\"strategy\":\"%s\",\"window_s\":%.1f,\"t90_s\":%.1f,\"saved_bytes\":%llu,"
           "\"zero_bytes\":%llu,\"general_profit\":%lld,\"ksmd_cpu_s\":%.2f,"
           "\"ksmd_cpu_pct\":%.2f,\"mem_available_delta\":%lld,\"full_scans\":%llu,"
           "\"pages_to_scan_end\":%llu,\"sleep_ms_end\":%llu,\"fleet_pids\":%u,"
           "\"fleet_saved_bytes\":%llu,\"fleet_zero_bytes\":%llu,\"fleet_net_bytes\":%lld}\n",
           strategy, last->t_s, t90, (unsigned long long)(saved_pages(&last->h) * page),
           (unsigned long long)(last->h.ksm_zero_pages * page),
           (long long)last->h.general_profit_bytes, cpu_s,
           last->t_s > 0 ? cpu_s / last->t_s * 100 : 0,
           (long long)last->avail - (long long)first->avail,
           (unsigned long long)(last->h.full_scans - first->h.full_scans),
           (unsigned long long)last->h.pages_to_scan, (unsigned long long)last->h.sleep_ms, n_pids,
           (unsigned long long)last->fleet_saved, (unsigned long long)last->fleet_zero,
           (long long)last->fleet_net);
}

/* The advisor and ballast strategies run ballastd's own KSM monitor. */
static void configure_monitor(struct drive *d)
{
    ksm_monitor_init(&d->km, d->sysfs, "/proc", now_ms());
    if (d->o->strategy == ADVISOR || d->o->strategy == BALLAST || d->o->strategy == PROBE) {
        g_autoptr(BallastConfig) c = config_new_defaults();
        c->ksm.mode = d->o->strategy == ADVISOR ? KSM_MODE_ADVISOR : KSM_MODE_AUTO;
        c->ksm.cpu_budget_pct = d->o->budget_pct;
        ksm_monitor_configure(&d->km, c);
    }
    ksm_tuner_config_default(&d->kcfg);
}

/* Everything before the window: host RAM, ksmd, the reset, the fleet's pids. 0 or exit code 1. */
static int prepare(struct drive *d, pid_t *pids, unsigned max_pids)
{
    const struct options *o = d->o;
    struct policy_host real;
    if (hostmem_read("/proc", &real) < 0) {
        fprintf(stderr, "ballast-ksm-drive: cannot read /proc/meminfo\n");
        return 1;
    }
    bool scaled = o->mem_total > 0 && o->strategy != PROBE;
    d->mem_total = scaled ? (uint64_t)o->mem_total : real.mem_total_bytes;
    d->ksmd = -1;
    ksm_ksmd_find("/proc", &d->ksmd);
    int rc;
    if (!o->no_reset && (rc = reset(d->sysfs)) < 0) {
        fprintf(stderr, "ballast-ksm-drive: reset: %s\n", g_strerror(-rc));
        return 1;
    }
    d->n_pids = o->fleet_dir ? fleet_pids(o->fleet_dir, pids, max_pids) : 0;
    d->pids = pids;
    if (o->fleet_dir && d->n_pids == 0) {
        fprintf(stderr, "ballast-ksm-drive: no QEMU pid under %s/*/%s\n", o->fleet_dir,
                FLEET_PID_FILE);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(&argc, &argv, &o);
    static struct drive d;
    static pid_t pids[MAX_FLEET_PIDS];
    d.o = &o;
    d.sysfs = o.sysfs ? o.sysfs : KSM_SYSFS_ROOT;
    if (rc == 0)
        rc = prepare(&d, pids, MAX_FLEET_PIDS);
    if (rc != 0) {
        options_clear(&o);
        return rc;
    }
    d.csv = o.csv_path ? fopen(o.csv_path, "w") : NULL;
    if (d.csv)
        csv_header(d.csv);
    configure_monitor(&d);
    GArray *samples = run_window(&d);
    if (d.csv)
        fclose(d.csv);
    print_result(o.strategy_name, samples, d.n_pids);
    g_array_unref(samples);
    ksm_monitor_clear(&d.km);
    options_clear(&o);
    return 0;
}
