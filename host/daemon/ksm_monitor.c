/*
 * ballastd's KSM monitor (see ksm_monitor.h, docs/ksm.md).
 *
 * The loop it closes every ksm_interval_ms (10 s by default, two ticks):
 *   ksmd's CPU over the interval (utime+stime of ksmd's /proc stat)
 *     + KSM's progress (pages_sharing + ksm_zero_pages now vs. at the last decision)
 *     + the host's commitment (guests' nominal RAM / MemTotal, MemAvailable)
 *   -> ksm_tuner_decide (pure: on/off with hysteresis, scan rate within the budget)
 *   -> ksm_apply -> ksmd's next interval.
 * Decisions are spaced by the interval, not by ticks, so the CPU reading spans
 * enough clock ticks to mean something (at CLK_TCK 100, 10 s gives 0.1% steps).
 *
 * Logging: one line per setting written (with the tuner's reason), one per
 * material change of what KSM saves (host-wide and per VM, by
 * ksm_changed_materially), one when a VM opted out of KSM still has mergeable
 * RAM. Never one per tick.
 */
#include "ksm_monitor.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#define MIB (1024.0 * 1024.0)

static uint64_t sysconf_or(int name, uint64_t fallback)
{
    long v = sysconf(name);
    return v > 0 ? (uint64_t)v : fallback;
}

void ksm_monitor_init(struct ksm_monitor *km, const char *sysfs_root, const char *proc_root,
                      uint64_t now_ms)
{
    memset(km, 0, sizeof(*km));
    km->sysfs_root = g_strdup(sysfs_root ? sysfs_root : KSM_SYSFS_ROOT);
    km->proc_root = g_strdup(proc_root ? proc_root : KSM_PROC_ROOT);
    km->page_size = sysconf_or(_SC_PAGESIZE, 4096);
    km->clk_tck = sysconf_or(_SC_CLK_TCK, 100);
    km->start_ms = now_ms;
    km->ksmd_pid = -1;
    km->cpu_pct = km->cpu_avg_pct = km->cpu_seconds = NAN;
    km->yield_mib_per_cpu_s = NAN;
    /* Until configured: hands off ksmd. */
    km->ck = (struct config_ksm){.mode = KSM_MODE_OBSERVE,
                                 .cpu_budget_pct = 10,
                                 .interval_ms = 10000,
                                 .start_commit_pct = 50,
                                 .stop_commit_pct = 35,
                                 .min_yield_mib_per_cpu_s = 4};
    ksm_monitor_tuner_config(&km->ck, false, &km->tcfg);

    int rc = ksm_ksmd_find(km->proc_root, &km->ksmd_pid);
    if (rc < 0) {
        km->ksmd_pid = -1;
        g_message("ksm: ksmd not found under %s (%s): no ksmd CPU figures", km->proc_root,
                  g_strerror(-rc));
        return;
    }
    if (ksm_ksmd_cpu_ticks(km->proc_root, km->ksmd_pid, &km->ksmd_ticks_start) == 0)
        km->ksmd_start_valid = true;
}

void ksm_monitor_clear(struct ksm_monitor *km)
{
    g_free(km->sysfs_root);
    g_free(km->proc_root);
    km->sysfs_root = km->proc_root = NULL;
}

void ksm_monitor_tuner_config(const struct config_ksm *ck, bool config_errors,
                              struct ksm_tuner_config *out)
{
    ksm_tuner_config_default(out);
    out->mode =
        config_errors || ck->mode > KSM_MODE_OBSERVE ? KSM_MODE_OBSERVE : (enum ksm_mode)ck->mode;
    if (ck->cpu_budget_pct > 0 && ck->cpu_budget_pct <= 100)
        out->budget_pct = ck->cpu_budget_pct;
    if (ck->stop_commit_pct < ck->start_commit_pct) {
        out->start_commit_pct = ck->start_commit_pct;
        out->stop_commit_pct = ck->stop_commit_pct;
    }
    if (ck->min_yield_mib_per_cpu_s >= 0 && isfinite(ck->min_yield_mib_per_cpu_s))
        out->min_yield_mib_per_cpu_s = ck->min_yield_mib_per_cpu_s;
}

void ksm_monitor_configure(struct ksm_monitor *km, const struct config *cfg)
{
    struct ksm_tuner_config t;
    bool errors = cfg->n_global_errors > 0;
    ksm_monitor_tuner_config(&cfg->ksm, errors, &t);
    bool changed = t.mode != km->tcfg.mode || t.budget_pct != km->tcfg.budget_pct ||
                   t.start_commit_pct != km->tcfg.start_commit_pct ||
                   t.stop_commit_pct != km->tcfg.stop_commit_pct ||
                   t.min_yield_mib_per_cpu_s != km->tcfg.min_yield_mib_per_cpu_s ||
                   cfg->ksm.interval_ms != km->ck.interval_ms;
    km->ck = cfg->ksm;
    km->config_errors = errors;
    km->tcfg = t;
    if (changed || !km->decided)
        g_log_structured(
            G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "KSM_MODE", ksm_mode_name(t.mode), "MESSAGE",
            "ksm: mode %s%s, ksmd CPU budget %.1f%% of a core, decisions every "
            "%" G_GUINT64_FORMAT " ms, start at %u%% committed, stop under %u%%, a fleet's "
            "ksmd kept while it saves >= %g MiB per CPU-second",
            ksm_mode_name(t.mode), errors ? " (ballastd.conf has errors: observe only)" : "",
            t.budget_pct, km->ck.interval_ms, t.start_commit_pct, t.stop_commit_pct,
            t.min_yield_mib_per_cpu_s);
}

void ksm_monitor_set_dry_run(struct ksm_monitor *km, bool dry_run)
{
    km->dry_run = dry_run;
    km->dry_run_proposal = 0;
}

/* --- accounting and its log lines ----------------------------------------------------------- */

static int64_t saved_of(uint64_t sharing, uint64_t zero)
{
    uint64_t s = sharing + zero;
    return s > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)s;
}

void ksm_monitor_tick_host(struct ksm_monitor *km)
{
    struct ksm_host_sample s;
    int rc = ksm_read_host(km->sysfs_root, &s);
    /* -EINVAL still fills every valid field: use them, warn once. */
    if (rc < 0 && rc != -EINVAL) {
        km->host_valid = false;
        if (!km->host_warned || rc != km->host_error)
            g_warning("ksm: cannot read %s: %s; no KSM figures", km->sysfs_root, g_strerror(-rc));
        km->host_warned = true;
        km->host_error = rc;
        return;
    }
    if (rc == -EINVAL && !km->host_warned) {
        g_warning("ksm: some files under %s hold garbage; using the others", km->sysfs_root);
        km->host_warned = true;
    }
    km->host_error = rc;
    km->cur = s;
    km->host_valid = ksm_account_host(&km->cur, km->page_size, &km->acc) == 0;
    if (!km->host_valid)
        return;
    int64_t saved = saved_of(km->acc.saved_sharing_bytes, km->acc.saved_zero_bytes);
    if (!km->logged || ksm_changed_materially(km->logged_saved_bytes, saved)) {
        if (km->logged || saved > 0)
            g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE",
                             "ksm: host saves %.1f MiB (sharing %.1f MiB, zero pages %.1f MiB), "
                             "rmap %.1f MiB, net %.1f MiB",
                             (double)saved / MIB, (double)km->acc.saved_sharing_bytes / MIB,
                             (double)km->acc.saved_zero_bytes / MIB,
                             (double)km->acc.rmap_cost_bytes / MIB,
                             (double)km->acc.net_profit_bytes / MIB);
        km->logged = true;
        km->logged_saved_bytes = saved;
    }
}

void ksm_monitor_tick_vm(struct ksm_monitor *km, struct ksm_monitor_vm *vm, const char *name,
                         pid_t pid, bool allowed)
{
    vm->allowed = allowed;
    vm->have_policy = true;
    if (pid != vm->pid) {
        /* A new QEMU: its figures start from nothing, and so does what we said of it. */
        vm->pid = pid;
        vm->logged = false;
        vm->warned_mergeable = false;
    }
    vm->valid = false;
    if (pid <= 0 || !km->host_valid)
        return;
    int rc = ksm_read_proc(km->proc_root, pid, &vm->proc);
    if (rc < 0 && rc != -EINVAL) {
        if (rc != vm->read_error)
            g_debug("%s: no KSM figures for pid %d: %s", name, (int)pid, g_strerror(-rc));
        vm->read_error = rc;
        return;
    }
    vm->read_error = rc;
    if (ksm_account_vm(&vm->proc, &km->cur, km->page_size, &vm->acc) < 0)
        return;
    vm->valid = true;
    int64_t saved = saved_of(vm->acc.saved_sharing_bytes, vm->acc.saved_zero_bytes);
    if (!vm->logged || ksm_changed_materially(vm->logged_saved_bytes, saved)) {
        if (vm->logged || saved > 0)
            g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", name, "MESSAGE",
                             "%s: KSM saves %.1f MiB (sharing %.1f MiB, zero pages %.1f MiB), "
                             "rmap %.1f MiB, net %.1f MiB",
                             name, (double)saved / MIB, (double)vm->acc.saved_sharing_bytes / MIB,
                             (double)vm->acc.saved_zero_bytes / MIB,
                             (double)vm->acc.rmap_cost_bytes / MIB,
                             (double)vm->acc.net_profit_bytes / MIB);
        vm->logged = true;
        vm->logged_saved_bytes = saved;
    }
    bool mergeable = vm->proc.present & KSM_BIT(KSM_P_MERGEABLE) ? vm->proc.mergeable : false;
    if (!allowed && mergeable && !vm->warned_mergeable) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "VM", name, "MESSAGE",
                         "%s: policy ksm = false, but QEMU (pid %d) registered its RAM with KSM: "
                         "restart it with mem-merge=off for the opt-out to take effect",
                         name, (int)pid);
        vm->warned_mergeable = true;
    }
}

/* --- the tuner ----------------------------------------------------------------------------- */

/* FNV-1a over the proposed settings: "the same dry-run proposal as last time". */
static uint32_t proposal_hash(const struct ksm_tuner_output *out)
{
    uint32_t h = 2166136261u;
    const unsigned char *p = (const unsigned char *)&out->settings;
    for (size_t i = 0; i < sizeof(out->settings); i++)
        h = (h ^ p[i]) * 16777619u;
    return h ? h : 1;
}

static void log_change(struct ksm_monitor *km, const struct ksm_tuner_change *ch, const char *verb)
{
    char old_s[24], new_s[24];
    g_snprintf(old_s, sizeof(old_s), "%" G_GUINT64_FORMAT, ch->old_value);
    g_snprintf(new_s, sizeof(new_s), "%" G_GUINT64_FORMAT, ch->new_value);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "KSM_SETTING",
                     ksm_setting_name(ch->setting), "KSM_OLD", old_s, "KSM_NEW", new_s, "MESSAGE",
                     "ksm: %s%s %s -> %s (%s)", verb, ksm_setting_name(ch->setting), old_s, new_s,
                     ch->reason);
}

/* ksmd's CPU over [prev decision, now] and since start. */
static void measure_ksmd(struct ksm_monitor *km, uint64_t now_ms, uint64_t *ticks,
                         bool *ticks_valid)
{
    *ticks_valid = false;
    km->cpu_valid = false;
    if (km->ksmd_pid <= 0)
        return;
    int rc = ksm_ksmd_cpu_ticks(km->proc_root, km->ksmd_pid, ticks);
    if (rc < 0) {
        if (!km->ksmd_warned)
            g_warning("ksm: cannot read ksmd's CPU (pid %d): %s", (int)km->ksmd_pid,
                      g_strerror(-rc));
        km->ksmd_warned = true;
        return;
    }
    *ticks_valid = true;
    if (!km->ksmd_start_valid) {
        km->ksmd_ticks_start = *ticks;
        km->start_ms = now_ms;
        km->ksmd_start_valid = true;
    }
    if (*ticks >= km->ksmd_ticks_start) {
        km->cpu_seconds = (double)(*ticks - km->ksmd_ticks_start) / (double)km->clk_tck;
        if (now_ms > km->start_ms &&
            ksm_cpu_pct(km->ksmd_ticks_start, *ticks, now_ms - km->start_ms, km->clk_tck,
                        &km->cpu_avg_pct) < 0)
            km->cpu_avg_pct = NAN;
    }
    if (km->prev_ticks_valid && now_ms > km->prev_ms &&
        ksm_cpu_pct(km->prev_ticks, *ticks, now_ms - km->prev_ms, km->clk_tck, &km->cpu_pct) == 0)
        km->cpu_valid = true;
}

/*
 * Did ksmd's settings change since the last decision left them? ballast
 * re-reads them after every write, so a difference means another writer: a
 * ksmtuned or momd that started since the last /proc walk, or an admin. The
 * kernel's own advisor moves pages_to_scan, so that one counts only while the
 * advisor is off.
 */
static bool knobs_moved(const struct ksm_monitor *km)
{
    if (!km->have_prev)
        return false;
    const struct ksm_host_sample *a = &km->prev, *b = &km->cur;
    return a->run != b->run || a->sleep_ms != b->sleep_ms ||
           (b->advisor_mode == KSM_ADVISOR_NONE && a->advisor_mode == KSM_ADVISOR_NONE &&
            a->pages_to_scan != b->pages_to_scan);
}

/*
 * ksmd is host-wide: while ksmtuned or MOM runs, it owns ksmd and ballast
 * only measures (two controllers on one knob would fight). Looks for one
 * when due (KSM_MONITOR_PEER_SCAN_MS, every decision while one runs, at once
 * when the knobs moved); true while one runs: this decision is "observing".
 */
static bool other_tuner_runs(struct ksm_monitor *km, uint64_t now_ms)
{
    const char *other = NULL;
    pid_t other_pid = 0;
    bool scan = km->tcfg.mode != KSM_MODE_OBSERVE &&
                (km->other_tuner_pid || !km->peer_scanned || knobs_moved(km) ||
                 now_ms >= km->peer_scan_ms + KSM_MONITOR_PEER_SCAN_MS);
    if (scan) {
        km->peer_scanned = true;
        km->peer_scan_ms = now_ms;
    }
    if (scan && ksm_other_tuner_find(km->proc_root, &other, &other_pid) == 0) {
        if (!km->other_tuner_pid)
            g_message("ksm: %s (pid %d) tunes KSM on this host: ballast only observes while it "
                      "runs",
                      other, (int)other_pid);
        km->other_tuner_pid = other_pid;
        g_snprintf(km->summary, sizeof(km->summary),
                   "observing only: %s (pid %d) tunes KSM on this host", other, (int)other_pid);
        return true;
    }
    if (scan && km->other_tuner_pid) {
        g_message("ksm: the other KSM tuner (pid %d) is gone: ballast tunes KSM again",
                  (int)km->other_tuner_pid);
        km->other_tuner_pid = 0;
    }
    return false;
}

/* The change of a decision that says most (run or pages_to_scan), for status. */
static void set_last_change(struct ksm_monitor *km, const struct ksm_tuner_change *ch)
{
    g_snprintf(km->last_change, sizeof(km->last_change),
               "%s %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT ": %s",
               ksm_setting_name(ch->setting), ch->old_value, ch->new_value, ch->reason);
}

static void note_last_change(struct ksm_monitor *km, const struct ksm_tuner_output *out)
{
    const struct ksm_tuner_change *last = &out->changes[out->n_changes - 1];
    for (unsigned i = 0; i < out->n_changes; i++)
        if (out->changes[i].setting == KSM_S_RUN || out->changes[i].setting == KSM_S_PAGES_TO_SCAN)
            last = &out->changes[i];
    set_last_change(km, last);
}

/* Whether the tuner's mode runs the yield rule (and has a phase to show). */
static bool yield_mode(const struct ksm_monitor *km)
{
    return km->tcfg.mode == KSM_MODE_AUTO || km->tcfg.mode == KSM_MODE_ADVISOR;
}

/*
 * Keeps the yield rule's phase and yield for status, and logs a change of
 * phase that wrote nothing (a probe that paid: probing -> merging); a start
 * or a stop logs its own reason with the run setting.
 */
static void note_phase(struct ksm_monitor *km, const struct ksm_tuner_output *out)
{
    enum ksm_phase was = km->phase;
    km->phase = out->state.phase;
    km->yield_mib_per_cpu_s = out->yield_mib_per_cpu_s;
    km->reprobe_in_ms = out->reprobe_in_ms;
    if (!yield_mode(km) || was == km->phase || (out->settings.mask & KSM_BIT(KSM_S_RUN)))
        return;
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "KSM_PHASE", ksm_phase_name(km->phase),
                     "MESSAGE", "ksm: %s -> %s (%s)", ksm_phase_name(was),
                     ksm_phase_name(km->phase), out->summary);
}

/* Writes the tuner's settings (or, in a dry run, logs them once) and keeps its state. */
static void apply_decision(struct ksm_monitor *km, const struct ksm_tuner_output *out)
{
    if (km->dry_run) {
        /* Nothing written, so nothing the tuner believes it changed: keep its old state. */
        km->state.initialised = out->state.initialised;
        uint32_t h = out->n_changes ? proposal_hash(out) : 0;
        if (h && h != km->dry_run_proposal)
            for (unsigned i = 0; i < out->n_changes; i++)
                log_change(km, &out->changes[i], "dry-run: would set ");
        km->dry_run_proposal = h;
        return;
    }
    if (!out->settings.mask) {
        km->state = out->state;
        return;
    }
    enum ksm_setting failed = KSM_S_COUNT;
    int rc = ksm_apply(km->sysfs_root, &out->settings, &failed);
    if (rc < 0) {
        /* Keep the old state: the tuner decides again from what the kernel really has. */
        g_warning("ksm: writing %s under %s failed: %s", ksm_setting_name(failed), km->sysfs_root,
                  g_strerror(-rc));
        return;
    }
    km->state = out->state;
    for (unsigned i = 0; i < out->n_changes; i++) {
        log_change(km, &out->changes[i], "");
        km->changes++;
    }
    note_last_change(km, out);
    /* What we wrote is what ksmd runs with from now on. */
    ksm_read_host(km->sysfs_root, &km->cur);
}

void ksm_monitor_tick_tune(struct ksm_monitor *km, uint64_t now_ms, uint64_t mem_total_bytes,
                           uint64_t mem_available_bytes, uint64_t committed_bytes, unsigned guests)
{
    uint64_t interval = km->ck.interval_ms ? km->ck.interval_ms : 10000;
    if (km->decided && now_ms + KSM_MONITOR_SLACK_MS < km->last_decision_ms + interval)
        return;
    if (!km->host_valid || mem_total_bytes == 0)
        return;
    uint64_t ticks = 0;
    bool ticks_valid;
    measure_ksmd(km, now_ms, &ticks, &ticks_valid);
    bool observing = other_tuner_runs(km, now_ms);
    km->decided = true;
    km->last_decision_ms = now_ms;
    if (observing)
        return;

    struct ksm_tuner_input in = {
        .cfg = &km->tcfg,
        .mem_total_bytes = mem_total_bytes,
        .mem_available_bytes = mem_available_bytes,
        .committed_bytes = committed_bytes,
        .guest_count = guests,
        .page_size = km->page_size,
        .cur = km->cur,
        .prev = km->prev,
        .have_prev = km->have_prev,
        .interval_ms = km->have_prev ? now_ms - km->prev_ms : 0,
        .ksmd_cpu_pct = km->cpu_valid ? km->cpu_pct : 0,
        .ksmd_cpu_valid = km->cpu_valid,
        .state = km->state,
    };
    struct ksm_tuner_output out;
    int rc = ksm_tuner_decide(&in, &out);
    if (rc < 0) {
        g_warning("ksm: tuner refused its input: %s", g_strerror(-rc));
        return;
    }
    g_strlcpy(km->summary, out.summary, sizeof(km->summary));
    note_phase(km, &out);
    apply_decision(km, &out);
    km->prev = km->cur;
    km->prev_ms = now_ms;
    km->have_prev = true;
    km->prev_ticks = ticks;
    km->prev_ticks_valid = ticks_valid;
}

/* --- the slice guard ---------------------------------------------------------------------- */

bool ksm_monitor_guard_wanted(const struct ksm_monitor *km)
{
    return km->tcfg.mode == KSM_MODE_AUTO && !km->dry_run && km->host_valid && km->decided &&
           km->ksmd_pid > 0 && !km->other_tuner_pid && ksm_host_has(&km->cur, KSM_F_RUN) &&
           km->cur.run == 1;
}

/* Logs and counts one setting the guard wrote, and keeps it as ksmd's. */
static struct ksm_tuner_change guard_wrote(struct ksm_monitor *km, enum ksm_setting setting,
                                           uint64_t *cur, uint64_t *prev, uint64_t value,
                                           const char *reason)
{
    struct ksm_tuner_change ch = {.setting = setting, .old_value = *cur, .new_value = value};
    g_strlcpy(ch.reason, reason, sizeof(ch.reason));
    log_change(km, &ch, "");
    *cur = *prev = value;
    km->changes++;
    return ch;
}

void ksm_monitor_guard(struct ksm_monitor *km, uint64_t now_ms)
{
    if (!ksm_monitor_guard_wanted(km)) {
        km->guard_valid = false;
        return;
    }
    uint64_t ticks;
    if (ksm_ksmd_cpu_ticks(km->proc_root, km->ksmd_pid, &ticks) < 0) {
        km->guard_valid = false; /* the tuner's next reading warns and finds ksmd again */
        return;
    }
    bool had = km->guard_valid && km->guard_pid == km->ksmd_pid && ticks >= km->guard_ticks &&
               now_ms > km->guard_ms;
    uint64_t then_ticks = km->guard_ticks, then_ms = km->guard_ms;
    if (had && now_ms - then_ms < KSM_GUARD_PERIOD_MS / 2)
        return; /* too short a window to weigh: keep the older reading */
    km->guard_valid = true;
    km->guard_pid = km->ksmd_pid;
    km->guard_ticks = ticks;
    km->guard_ms = now_ms;
    if (!had || now_ms - then_ms >= KSM_SLICE_MS)
        return; /* a first reading, or a gap (a stalled loop): the rate loop judges that */
    struct ksm_guard_input in = {
        .cfg = &km->tcfg,
        .cur = km->cur,
        .window_ms = now_ms - then_ms,
    };
    if (ksm_cpu_pct(then_ticks, ticks, in.window_ms, km->clk_tck, &in.ksmd_cpu_pct) < 0 ||
        ksm_cpu_pct(0, 1, in.window_ms, km->clk_tck, &in.resolution_pct) < 0)
        return;
    struct ksm_guard_output out;
    if (ksm_guard_decide(&in, &out) < 0 || !out.settings.mask)
        return;
    enum ksm_setting failed = KSM_S_COUNT;
    int rc = ksm_apply(km->sysfs_root, &out.settings, &failed);
    if (rc < 0) {
        g_warning("ksm: writing %s under %s failed: %s", ksm_setting_name(failed), km->sysfs_root,
                  g_strerror(-rc));
        return;
    }
    /* What the next decision starts from: a guard's write is ours, not
     * another writer's (knobs_moved compares prev with what sysfs shows). */
    struct ksm_tuner_change ch = {0}; /* the mask holds one of the two at least */
    if (out.settings.mask & KSM_BIT(KSM_S_SLEEP_MS))
        ch = guard_wrote(km, KSM_S_SLEEP_MS, &km->cur.sleep_ms, &km->prev.sleep_ms,
                         out.settings.sleep_ms, out.reason);
    if (out.settings.mask & KSM_BIT(KSM_S_PAGES_TO_SCAN))
        ch = guard_wrote(km, KSM_S_PAGES_TO_SCAN, &km->cur.pages_to_scan, &km->prev.pages_to_scan,
                         out.settings.pages_to_scan, out.reason);
    set_last_change(km, &ch);
    km->guard_cuts++;
}

/* --- who owns ksmd ----------------------------------------------------------------------- */

bool ksm_monitor_owns_ksmd(const struct ksm_monitor *km)
{
    return km->state.started_by_us;
}

void ksm_monitor_take_back(struct ksm_monitor *km, bool started_by_ballastd)
{
    if (!started_by_ballastd)
        return;
    struct ksm_host_sample now;
    if (ksm_read_host(km->sysfs_root, &now) < 0 || !ksm_host_has(&now, KSM_F_RUN) || now.run != 1) {
        g_message("ksm: ballastd had started ksmd before this start, but it is not running now: "
                  "whoever starts it next owns it");
        return;
    }
    km->state.started_by_us = true;
    g_message("ksm: ksmd was started by ballastd before this start (state file): ballast owns it "
              "again, and stops it when it exits");
}

bool ksm_monitor_exit_stops(enum ksm_mode mode, bool dry_run, bool other_tuner, bool started_by_us,
                            uint64_t run)
{
    return started_by_us && run == 1 && !dry_run && !other_tuner &&
           (mode == KSM_MODE_AUTO || mode == KSM_MODE_ADVISOR);
}

void ksm_monitor_exit(struct ksm_monitor *km)
{
    struct ksm_host_sample now;
    if (ksm_read_host(km->sysfs_root, &now) < 0 || !ksm_host_has(&now, KSM_F_RUN))
        return;
    if (!ksm_monitor_exit_stops(km->tcfg.mode, km->dry_run, km->other_tuner_pid != 0,
                                km->state.started_by_us, now.run)) {
        if (now.run == 1 && !km->state.started_by_us)
            g_message("ksm: ksmd was started outside ballast: left running");
        return;
    }
    struct ksm_settings off = {.mask = KSM_BIT(KSM_S_RUN), .run = 0};
    enum ksm_setting failed = KSM_S_COUNT;
    int rc = ksm_apply(km->sysfs_root, &off, &failed);
    if (rc < 0) {
        g_warning("ksm: cannot stop ksmd on exit (%s under %s: %s): it keeps scanning",
                  ksm_setting_name(failed), km->sysfs_root, g_strerror(-rc));
        return;
    }
    km->state.started_by_us = false;
    g_message("ksm: run 1 -> 0 (ballastd exits: it started ksmd; what is merged stays merged)");
}

/* --- status -------------------------------------------------------------------------------- */

static int64_t s64(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

void ksm_monitor_host_status(const struct ksm_monitor *km, struct ctl_host_status *h)
{
    ctl_copy(h->ksm_mode, sizeof(h->ksm_mode), ksm_mode_name(km->tcfg.mode));
    h->ksm_cpu_budget_pct = km->tcfg.budget_pct;
    h->ksm_tuner_changes = s64(km->changes);
    ctl_copy(h->ksm_reason, sizeof(h->ksm_reason),
             km->summary[0] ? km->summary : "no decision yet");
    ctl_copy(h->ksm_last_change, sizeof(h->ksm_last_change), km->last_change);
    h->ksmd_cpu_pct = km->cpu_valid ? km->cpu_pct : NAN;
    h->ksmd_cpu_avg_pct = km->cpu_avg_pct;
    h->ksmd_cpu_seconds = km->cpu_seconds;
    if (yield_mode(km)) {
        if (km->decided)
            ctl_copy(h->ksm_phase, sizeof(h->ksm_phase), ksm_phase_name(km->phase));
        h->ksm_yield_mib_per_cpu_s = km->yield_mib_per_cpu_s;
        h->ksm_min_yield_mib_per_cpu_s = km->tcfg.min_yield_mib_per_cpu_s;
        if (km->phase == KSM_PHASE_BACKED_OFF)
            h->ksm_reprobe_in_s = s64(km->reprobe_in_ms / 1000);
    }
    if (!km->host_valid)
        return;
    const struct ksm_host_sample *s = &km->cur;
#define FIELD(member, field, value)                                                                \
    do {                                                                                           \
        if (ksm_host_has(s, field))                                                                \
            h->member = s64(value);                                                                \
    } while (0)
    FIELD(ksm_run, KSM_F_RUN, s->run);
    FIELD(ksm_pages_to_scan, KSM_F_PAGES_TO_SCAN, s->pages_to_scan);
    FIELD(ksm_sleep_ms, KSM_F_SLEEP_MILLISECS, s->sleep_ms);
    FIELD(ksm_use_zero_pages, KSM_F_USE_ZERO_PAGES, s->use_zero_pages);
    FIELD(ksm_pages_shared, KSM_F_PAGES_SHARED, s->pages_shared);
    FIELD(ksm_pages_sharing, KSM_F_PAGES_SHARING, s->pages_sharing);
    FIELD(ksm_zero_pages, KSM_F_KSM_ZERO_PAGES, s->ksm_zero_pages);
    FIELD(ksm_full_scans, KSM_F_FULL_SCANS, s->full_scans);
#undef FIELD
    h->ksm_saved_bytes = s64(km->acc.saved_bytes);
    h->ksm_saved_sharing_bytes = s64(km->acc.saved_sharing_bytes);
    h->ksm_saved_zero_bytes = s64(km->acc.saved_zero_bytes);
    h->ksm_rmap_cost_bytes = s64(km->acc.rmap_cost_bytes);
    h->ksm_net_profit_bytes = km->acc.net_profit_bytes;
    if (km->acc.kernel_profit_present)
        h->ksm_general_profit_bytes = km->acc.kernel_profit_bytes;
}

void ksm_monitor_vm_status(const struct ksm_monitor_vm *vm, struct ctl_vm_status *s)
{
    if (vm->have_policy)
        s->ksm_allowed = vm->allowed ? 1 : 0;
    if (!vm->valid)
        return;
    const struct ksm_proc_sample *p = &vm->proc;
    if (p->present & KSM_BIT(KSM_P_MERGEABLE))
        s->ksm_mergeable = p->mergeable ? 1 : 0;
    s->ksm_merging_pages = s64(p->merging_pages);
    if (vm->acc.kernel_profit_present)
        s->ksm_profit_bytes = vm->acc.kernel_profit_bytes;
    s->ksm_saved_sharing_bytes = s64(vm->acc.saved_sharing_bytes);
    s->ksm_saved_zero_bytes = s64(vm->acc.saved_zero_bytes);
    s->ksm_rmap_cost_bytes = s64(vm->acc.rmap_cost_bytes);
    s->ksm_net_profit_bytes = vm->acc.net_profit_bytes;
}

void ksm_monitor_explain(const struct ksm_monitor *km, const struct ksm_monitor_vm *vm,
                         struct json_writer *w)
{
    struct ctl_vm_status s;
    ctl_vm_status_init(&s);
    ksm_monitor_vm_status(vm, &s);
    json_writer_key(w, "ksm");
    json_writer_object_begin(w);
    json_writer_member_bool(w, "allowed", vm->allowed);
    json_writer_member_int(w, "pid", vm->pid);
    json_writer_member_bool(w, "valid", vm->valid);
    json_writer_member_string(w, "read_error", vm->read_error ? g_strerror(-vm->read_error) : NULL);
    json_writer_key(w, "mergeable");
    if (s.ksm_mergeable < 0)
        json_writer_null(w);
    else
        json_writer_bool(w, s.ksm_mergeable);
    const struct {
        const char *name;
        int64_t v;
        bool is_signed;
    } f[] = {
        {"merging_pages", s.ksm_merging_pages, false},
        {"rmap_items", vm->valid ? s64(vm->proc.rmap_items) : -1, false},
        {"zero_pages", vm->valid ? s64(vm->proc.zero_pages) : -1, false},
        {"saved_sharing_bytes", s.ksm_saved_sharing_bytes, false},
        {"saved_zero_bytes", s.ksm_saved_zero_bytes, false},
        {"rmap_cost_bytes", s.ksm_rmap_cost_bytes, false},
        {"net_profit_bytes", s.ksm_net_profit_bytes, true},
        {"kernel_profit_bytes", s.ksm_profit_bytes, true},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(f); i++) {
        json_writer_key(w, f[i].name);
        if (f[i].is_signed ? f[i].v == CTL_UNKNOWN_S64 : f[i].v < 0)
            json_writer_null(w);
        else
            json_writer_int(w, f[i].v);
    }
    json_writer_member_string(w, "mode", ksm_mode_name(km->tcfg.mode));
    json_writer_member_string(w, "tuner", km->summary[0] ? km->summary : "no decision yet");
    json_writer_member_string(w, "last_change", km->last_change[0] ? km->last_change : NULL);
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    ksm_monitor_host_status(km, &h);
    json_writer_member_string(w, "phase", h.ksm_phase[0] ? h.ksm_phase : NULL);
    json_writer_member_double(w, "yield_mib_per_cpu_s", h.ksm_yield_mib_per_cpu_s); /* NaN: null */
    json_writer_member_double(w, "min_yield_mib_per_cpu_s", h.ksm_min_yield_mib_per_cpu_s);
    json_writer_key(w, "reprobe_in_s");
    if (h.ksm_reprobe_in_s < 0)
        json_writer_null(w);
    else
        json_writer_int(w, h.ksm_reprobe_in_s);
    json_writer_object_end(w);
}

uint64_t ksm_monitor_interval_ms(const struct ksm_monitor *km)
{
    return km->ck.interval_ms ? km->ck.interval_ms : 10000;
}
