/*
 * The ksmd tuner: a pure function from (host memory, KSM counters now and one
 * interval ago, ksmd's measured CPU) to the settings to write and a reason for
 * each change. No I/O, no clock: the daemon passes time deltas in and carries
 * struct ksm_tuner_state from one tick to the next.
 *
 * Two decisions, two loops:
 *
 * 1. On/off, by commitment. ksmd starts when the guests' RAM reaches
 *    start_commit_pct (50%) of host RAM, or MemAvailable falls under
 *    start_avail_pct (20%); it stops when commitment is under stop_commit_pct
 *    (35%) AND MemAvailable is over stop_avail_pct (30%), or when after two
 *    full scans merging does not pay for its rmap items. The gap between the
 *    start and stop thresholds plus a minimum time on (300 s) and off (60 s,
 *    waived under memory pressure) keep it from flapping. MOM and ksmtuned
 *    start at 80% (committed + 20% > RAM) with no hysteresis; ballast starts
 *    earlier because a fleet of like guests merges by half or more and merging
 *    takes minutes, so waiting for pressure means the savings arrive late,
 *    while the CPU budget bounds what starting early costs.
 *
 * 2. Scan rate, by ksmd's CPU (auto mode). The plant is near linear: ksmd's
 *    CPU is proportional to its scan rate (pages_to_scan per sleep_millisecs).
 *    While merges still happen, the rate is scaled by setpoint / measured CPU
 *    with the setpoint at 80% of the budget: over budget it is cut at once to
 *    the setpoint; under 60% of the budget it rises, at most doubling per
 *    tick (the cost per page varies with what is scanned, so the estimate is
 *    trusted for one doubling at a time); between 60% and 100% it holds. A
 *    step lands mid-band, so noise under about +/-20% cannot make it
 *    oscillate. The plant is linear only within a phase: ksmd's first pass
 *    after a start merely checksums pages (a page merges on its second look),
 *    and once merging begins a page costs several times more (measured on
 *    32 idle guests: 3.6x, docs/benchmarks/ksm.md). Paced on the cheap pass,
 *    the merging pass would run at up to 4x the budget; so for the first two
 *    full scans after ksmd starts (or ballast starts watching it) the loop
 *    paces to budget / FIRST_PASS_COST until an interval lies wholly in the
 *    second full scan after ksmd starts (or ballast starts watching it), and
 *    to the budget from then on. Once a full scan merges nothing new, the
 *    rate drops to a maintenance pace (every candidate page rescanned once
 *    per 300 s); new merges (a guest booting) send it back to the
 *    budget-bound pace.
 */
#include "ksm.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

/* Rate controller constants (fractions of the budget); see the top comment. */
#define SETPOINT_FRAC 0.80
#define LOW_EDGE_FRAC 0.60
#define NOISE_FRAC    0.10 /* below 10% of budget the tick count is too coarse */
#define MAX_UP_FACTOR 2.0
/* During ksmd's first full scan, CPU is paced to budget / this (see the top comment). */
#define FIRST_PASS_COST 4.0
#define MIN_STEP_FRAC   0.10 /* smaller rate changes are not worth a write */
#define REGROW_PCT      10   /* restart after an unprofitable stop: +10% of RAM committed */
#define UNPROFIT_SCANS  2

const char *ksm_mode_name(enum ksm_mode mode)
{
    switch (mode) {
    case KSM_MODE_OFF:
        return "off";
    case KSM_MODE_AUTO:
        return "auto";
    case KSM_MODE_ADVISOR:
        return "advisor";
    case KSM_MODE_FIXED:
        return "fixed";
    case KSM_MODE_OBSERVE:
        return "observe";
    }
    return "?";
}

int ksm_mode_parse(const char *text, enum ksm_mode *out)
{
    static const enum ksm_mode modes[] = {KSM_MODE_OFF, KSM_MODE_AUTO, KSM_MODE_ADVISOR,
                                          KSM_MODE_FIXED, KSM_MODE_OBSERVE};
    if (!text || !out)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(text, ksm_mode_name(modes[i])) == 0) {
            *out = modes[i];
            return 0;
        }
    }
    return -EINVAL;
}

void ksm_tuner_config_default(struct ksm_tuner_config *cfg)
{
    *cfg = (struct ksm_tuner_config){
        .mode = KSM_MODE_AUTO,
        .budget_pct = 10.0,
        .start_commit_pct = 50,
        .stop_commit_pct = 35,
        .start_avail_pct = 20,
        .stop_avail_pct = 30,
        .min_on_ms = 300000,
        .min_off_ms = 60000,
        .use_zero_pages = true,
        .fleet_min_guests = 2,
        .sleep_ms = 20,
        .min_pages_to_scan = 32,
        .max_pages_to_scan = 30000,
        .max_sleep_ms = 2000,
        .start_pages_to_scan = 500,
        .maintenance_scan_s = 300,
        .progress_min_pages = 256,
        .fixed_pages_to_scan = 100,
        .fixed_sleep_ms = 20,
        .advisor_target_scan_time_s = 0,
    };
}

static bool config_ok(const struct ksm_tuner_config *c)
{
    return c->mode <= KSM_MODE_OBSERVE && c->budget_pct > 0 && c->budget_pct <= 100 &&
           c->stop_commit_pct < c->start_commit_pct && c->start_avail_pct < c->stop_avail_pct &&
           c->stop_avail_pct <= 100 && c->sleep_ms > 0 && c->min_pages_to_scan > 0 &&
           c->min_pages_to_scan <= c->start_pages_to_scan &&
           c->start_pages_to_scan <= c->max_pages_to_scan && c->max_sleep_ms >= c->sleep_ms &&
           c->maintenance_scan_s > 0 && c->fixed_pages_to_scan > 0;
}

/* ------------------------------------------------------- output helpers */

static const enum ksm_host_field setting_field[KSM_S_COUNT] = {
    [KSM_S_RUN] = KSM_F_RUN,
    [KSM_S_PAGES_TO_SCAN] = KSM_F_PAGES_TO_SCAN,
    [KSM_S_SLEEP_MS] = KSM_F_SLEEP_MILLISECS,
    [KSM_S_USE_ZERO_PAGES] = KSM_F_USE_ZERO_PAGES,
    [KSM_S_ADVISOR_MODE] = KSM_F_ADVISOR_MODE,
    [KSM_S_ADVISOR_MAX_CPU] = KSM_F_ADVISOR_MAX_CPU,
    [KSM_S_ADVISOR_TARGET_SCAN_TIME] = KSM_F_ADVISOR_TARGET_SCAN_TIME,
};

static uint64_t current_value(const struct ksm_host_sample *cur, enum ksm_setting s)
{
    switch (s) {
    case KSM_S_RUN:
        return cur->run;
    case KSM_S_PAGES_TO_SCAN:
        return cur->pages_to_scan;
    case KSM_S_SLEEP_MS:
        return cur->sleep_ms;
    case KSM_S_USE_ZERO_PAGES:
        return cur->use_zero_pages;
    case KSM_S_ADVISOR_MODE:
        return (uint64_t)cur->advisor_mode;
    case KSM_S_ADVISOR_MAX_CPU:
        return cur->advisor_max_cpu_pct;
    case KSM_S_ADVISOR_TARGET_SCAN_TIME:
        return cur->advisor_target_scan_time_s;
    default:
        return 0;
    }
}

static void store_value(struct ksm_settings *st, enum ksm_setting s, uint64_t v)
{
    switch (s) {
    case KSM_S_RUN:
        st->run = v;
        break;
    case KSM_S_PAGES_TO_SCAN:
        st->pages_to_scan = v;
        break;
    case KSM_S_SLEEP_MS:
        st->sleep_ms = v;
        break;
    case KSM_S_USE_ZERO_PAGES:
        st->use_zero_pages = v;
        break;
    case KSM_S_ADVISOR_MODE:
        st->advisor_mode = v ? KSM_ADVISOR_SCAN_TIME : KSM_ADVISOR_NONE;
        break;
    case KSM_S_ADVISOR_MAX_CPU:
        st->advisor_max_cpu_pct = v;
        break;
    case KSM_S_ADVISOR_TARGET_SCAN_TIME:
        st->advisor_target_scan_time_s = v;
        break;
    default:
        break;
    }
}

/*
 * Asks for setting s = v with a reason, unless the kernel lacks the file or
 * it already holds v. A file that held garbage is rewritten.
 */
__attribute__((format(printf, 5, 6))) static void want(const struct ksm_tuner_input *in,
                                                       struct ksm_tuner_output *out,
                                                       enum ksm_setting s, uint64_t v,
                                                       const char *fmt, ...)
{
    enum ksm_host_field f = setting_field[s];
    const struct ksm_host_sample *cur = &in->cur;
    bool exists = (cur->present | cur->invalid) & KSM_BIT(f);
    if (!exists)
        return;
    bool valid = ksm_host_has(cur, f);
    if (valid && current_value(cur, s) == v)
        return;
    uint32_t bit = KSM_BIT(s);
    struct ksm_tuner_change *ch = NULL;
    for (unsigned i = 0; i < out->n_changes; i++)
        if (out->changes[i].setting == s)
            ch = &out->changes[i]; /* a later decision overrides an earlier one */
    if (!ch) {
        if (out->n_changes >= KSM_TUNER_MAX_CHANGES)
            return;
        ch = &out->changes[out->n_changes++];
    }
    out->settings.mask |= bit;
    store_value(&out->settings, s, v);
    ch->setting = s;
    ch->old_value = valid ? current_value(cur, s) : 0;
    ch->new_value = v;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ch->reason, sizeof(ch->reason), fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void summary(struct ksm_tuner_output *out,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->summary, sizeof(out->summary), fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------- rate helpers */

/* Nominal scan rate of the current settings, pages per second. */
static double rate_of(uint64_t pages_to_scan, uint64_t sleep_ms)
{
    return (double)pages_to_scan * 1000.0 / (double)(sleep_ms ? sleep_ms : 1);
}

/* A rate as (pages_to_scan, sleep_ms): the configured sleep, longer only below the floor. */
static void settings_for_rate(const struct ksm_tuner_config *c, double rate, uint64_t *pages,
                              uint64_t *sleep_ms)
{
    double p = rate * (double)c->sleep_ms / 1000.0;
    *sleep_ms = c->sleep_ms;
    if (p < (double)c->min_pages_to_scan) {
        *pages = c->min_pages_to_scan;
        double s = (double)c->min_pages_to_scan * 1000.0 / (rate > 0 ? rate : 1e-9);
        if (s > (double)c->max_sleep_ms)
            s = (double)c->max_sleep_ms;
        *sleep_ms = s < (double)c->sleep_ms ? c->sleep_ms : (uint64_t)llround(s);
        return;
    }
    if (p > (double)c->max_pages_to_scan)
        p = (double)c->max_pages_to_scan;
    *pages = (uint64_t)llround(p);
}

static double min_rate(const struct ksm_tuner_config *c)
{
    return rate_of(c->min_pages_to_scan, c->max_sleep_ms);
}

static double max_rate(const struct ksm_tuner_config *c)
{
    return rate_of(c->max_pages_to_scan, c->sleep_ms);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ------------------------------------------------------------- decisions */

struct view {
    double commit_pct, avail_pct;
    bool pressure;
    bool running;
    bool has_advisor;
    bool have_delta; /* prev valid and ksmd ran through the interval */
    int64_t progress_pages;
    uint64_t scans_delta;
    uint64_t candidates;
};

static void zero_pages_for_fleet(const struct ksm_tuner_input *in, struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    if (!c->use_zero_pages || in->guest_count < c->fleet_min_guests)
        return;
    want(in, out, KSM_S_USE_ZERO_PAGES, 1,
         "fleet of %u guests: merge zero pages with the kernel zero page (no 256-way "
         "stable-node chains; the zero-page saving is counted apart)",
         in->guest_count);
}

static void advisor_settings(const struct ksm_tuner_input *in, struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    uint64_t cpu = (uint64_t)ceil(c->budget_pct);
    want(in, out, KSM_S_ADVISOR_MAX_CPU, cpu,
         "advisor mode: the kernel's scan-time advisor may use up to the %.1f%% CPU budget",
         c->budget_pct);
    if (c->advisor_target_scan_time_s)
        want(in, out, KSM_S_ADVISOR_TARGET_SCAN_TIME, c->advisor_target_scan_time_s,
             "advisor mode: configured target scan time");
    uint64_t scan_s = c->advisor_target_scan_time_s ? c->advisor_target_scan_time_s
                                                    : in->cur.advisor_target_scan_time_s;
    want(in, out, KSM_S_ADVISOR_MODE, KSM_ADVISOR_SCAN_TIME,
         "advisor mode: the kernel sets pages_to_scan to scan everything every %llu s within "
         "the budget",
         (unsigned long long)scan_s);
    zero_pages_for_fleet(in, out);
}

static void start_settings(const struct ksm_tuner_input *in, struct ksm_tuner_output *out,
                           bool advisor, const char *why)
{
    const struct ksm_tuner_config *c = in->cfg;
    if (advisor) {
        advisor_settings(in, out);
    } else {
        want(in, out, KSM_S_ADVISOR_MODE, KSM_ADVISOR_NONE,
             "ballast sets the scan rate itself: kernel advisor off");
        want(in, out, KSM_S_SLEEP_MS, c->sleep_ms, "start at the configured sleep");
        want(in, out, KSM_S_PAGES_TO_SCAN, c->start_pages_to_scan,
             "start at %llu pages per batch; the CPU budget loop takes over from there",
             (unsigned long long)c->start_pages_to_scan);
        out->target_rate_pages_s = rate_of(c->start_pages_to_scan, c->sleep_ms);
    }
    zero_pages_for_fleet(in, out);
    want(in, out, KSM_S_RUN, 1, "%s", why);
    out->state.since_change_ms = 0;
    out->state.full_scans_at_start = in->cur.full_scans;
    out->state.stopped_unprofitable = false;
    out->state.converged = false;
    out->state.started_by_us = true;
}

/*
 * Whether merging stopped paying: after UNPROFIT_SCANS full scans with
 * nothing new merged, a profit of zero or less. Stops ksmd and says so.
 */
static bool stop_if_unprofitable(const struct ksm_tuner_input *in, const struct view *v,
                                 struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    struct ksm_tuner_state *st = &out->state;
    /* Does it pay? Judged only after full scans have had their chance. */
    if (!v->have_delta || in->cur.full_scans < st->full_scans_at_start + UNPROFIT_SCANS ||
        v->progress_pages >= (int64_t)c->progress_min_pages)
        return false;
    struct ksm_host_account acc;
    ksm_account_host(&in->cur, 4096, &acc);
    int64_t profit = acc.kernel_profit_present ? acc.kernel_profit_bytes : acc.net_profit_bytes;
    if (profit > 0)
        return false;
    want(in, out, KSM_S_RUN, 0,
         "merging does not pay: profit %.1f MiB after %llu full scans with nothing "
         "new merged (rmap items cost more than the pages saved)",
         (double)profit / MIB, (unsigned long long)(in->cur.full_scans - st->full_scans_at_start));
    st->since_change_ms = 0;
    st->stopped_unprofitable = true;
    st->committed_at_stop = in->committed_bytes;
    return true;
}

/* The on/off loop while ksmd runs. Returns true when it should go on running. */
static bool decide_while_on(const struct ksm_tuner_input *in, const struct view *v,
                            struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    struct ksm_tuner_state *st = &out->state;
    if (!st->started_by_us) {
        summary(out, "on, started outside ballast: its scan rate is kept within the CPU "
                     "budget, but ballast does not stop a ksmd it did not start");
        return true;
    }
    if (in->guest_count == 0) {
        want(in, out, KSM_S_RUN, 0, "no guests: nothing to merge");
        st->since_change_ms = 0;
        return false;
    }
    if (stop_if_unprofitable(in, v, out))
        return false;
    if (v->commit_pct >= c->stop_commit_pct || v->avail_pct <= c->stop_avail_pct)
        return true;
    if (st->since_change_ms >= c->min_on_ms) {
        want(in, out, KSM_S_RUN, 0,
             "guests commit %.0f%% of RAM (< %u%%) and %.0f%% is available (> %u%%): "
             "merging would not pay for ksmd's CPU",
             v->commit_pct, c->stop_commit_pct, v->avail_pct, c->stop_avail_pct);
        st->since_change_ms = 0;
        return false;
    }
    summary(out,
            "would stop (commit %.0f%%, available %.0f%%) but on for only %llu s "
            "of the minimum %llu s",
            v->commit_pct, v->avail_pct, (unsigned long long)(st->since_change_ms / 1000),
            (unsigned long long)(c->min_on_ms / 1000));
    return true;
}

/* The on/off loop while ksmd is off: starts it (start_settings) or says why not. */
static void decide_while_off(const struct ksm_tuner_input *in, const struct view *v,
                             struct ksm_tuner_output *out, bool advisor)
{
    const struct ksm_tuner_config *c = in->cfg;
    const struct ksm_tuner_state *st = &out->state;
    if (in->guest_count == 0) {
        summary(out, "off: no guests");
        return;
    }
    if (v->commit_pct < c->start_commit_pct && !v->pressure) {
        summary(out,
                "off: guests commit %.0f%% of RAM (start at %u%%), %.0f%% available "
                "(start under %u%%)",
                v->commit_pct, c->start_commit_pct, v->avail_pct, c->start_avail_pct);
        return;
    }
    uint64_t regrow = (uint64_t)((double)in->mem_total_bytes * REGROW_PCT / 100.0);
    if (st->stopped_unprofitable && !v->pressure &&
        in->committed_bytes < add_sat(st->committed_at_stop, regrow)) {
        summary(out,
                "off: stopped because merging did not pay; restarts when guests "
                "commit %u%% more of RAM or memory runs low",
                REGROW_PCT);
        return;
    }
    if (!v->pressure && st->since_change_ms < c->min_off_ms) {
        summary(out, "would start, but off for only %llu s of the minimum %llu s",
                (unsigned long long)(st->since_change_ms / 1000),
                (unsigned long long)(c->min_off_ms / 1000));
        return;
    }
    char why[KSM_TUNER_REASON_LEN];
    if (v->pressure)
        snprintf(why, sizeof(why), "memory low: %.0f%% available (< %u%%): start merging",
                 v->avail_pct, c->start_avail_pct);
    else
        snprintf(why, sizeof(why),
                 "guests commit %.0f%% of RAM (>= %u%%): start merging before memory runs low",
                 v->commit_pct, c->start_commit_pct);
    start_settings(in, out, advisor, why);
}

/*
 * The on/off loop (see the top comment). Returns true when ksmd should run
 * after this decision; writes run itself when that changes. A start returns
 * false too: no rate decision on this tick's numbers.
 */
static bool decide_on_off(const struct ksm_tuner_input *in, const struct view *v,
                          struct ksm_tuner_output *out, bool advisor)
{
    if (v->running)
        return decide_while_on(in, v, out);
    decide_while_off(in, v, out, advisor);
    return false;
}

/* One interval of the rate loop: what was measured and what it is paced to. */
struct rate_step {
    double rate;     /* pages/s of the current settings */
    double cpu;      /* ksmd's CPU over the interval, % of a core */
    double secs;     /* the interval */
    double pace;     /* CPU to pace to: the budget, or less on the first pass */
    bool first_pass; /* the interval covers some of ksmd's first full scan */
};

/*
 * Converged = a full scan merged nothing new. Not before ksmd has made two
 * full scans since it started: a page merges only once its checksum held
 * over two passes, and the first "full scan" after a start can be the tail
 * of an almost empty pass. Without this, a fresh start looked converged
 * after one interval and dropped to the maintenance pace.
 */
static void update_converged(const struct ksm_tuner_input *in, const struct view *v,
                             struct ksm_tuner_state *st)
{
    bool settled = in->cur.full_scans >= st->full_scans_at_start + 2;
    if (!v->have_delta)
        return;
    if (v->progress_pages >= (int64_t)in->cfg->progress_min_pages)
        st->converged = false;
    else if (v->scans_delta >= 1 && settled)
        st->converged = true;
}

/* Over the budget, or over the first pass's pace: cut to the setpoint. False when within both. */
static bool slow_down(const struct ksm_tuner_config *c, const struct rate_step *r, double *target,
                      char *why, size_t why_len)
{
    const double budget = c->budget_pct;
    if (r->cpu > budget) {
        *target = r->rate * SETPOINT_FRAC * budget / r->cpu;
        snprintf(why, why_len,
                 "ksmd used %.1f%% of a core over %.0f s, over the %.1f%% budget: scan "
                 "%.0f -> %.0f pages/s",
                 r->cpu, r->secs, budget, r->rate, *target);
        return true;
    }
    if (r->first_pass && r->cpu > r->pace) {
        *target = r->rate * SETPOINT_FRAC * r->pace / r->cpu;
        snprintf(why, why_len,
                 "first full scan: ksmd's %.1f%% on the checksum pass would be several "
                 "times that once pages merge; pace to %.1f%% (budget %.1f%% / %.0f): scan "
                 "%.0f -> %.0f pages/s",
                 r->cpu, r->pace, budget, FIRST_PASS_COST, r->rate, *target);
        return true;
    }
    return false;
}

/*
 * Within the budget: the maintenance pace once converged; double when the
 * CPU is too small to measure; scale up (at most doubling) under the low
 * edge; else hold. Returns the new rate.
 */
static double speed_up(const struct ksm_tuner_config *c, const struct view *v, bool converged,
                       const struct rate_step *r, char *why, size_t why_len)
{
    if (converged) {
        double maint = (double)v->candidates / (double)c->maintenance_scan_s;
        snprintf(why, why_len,
                 "a full scan merged nothing new (%+lld pages): maintenance pace, %llu "
                 "candidate pages every %llu s",
                 (long long)v->progress_pages, (unsigned long long)v->candidates,
                 (unsigned long long)c->maintenance_scan_s);
        return maint < min_rate(c) ? min_rate(c) : maint;
    }
    if (r->cpu < NOISE_FRAC * c->budget_pct) {
        snprintf(why, why_len,
                 "merging (%+lld pages in %.0f s) and ksmd's CPU (%.1f%%) is too small to "
                 "measure: double the scan rate",
                 (long long)v->progress_pages, r->secs, r->cpu);
        return r->rate * MAX_UP_FACTOR;
    }
    if (r->cpu < LOW_EDGE_FRAC * r->pace) {
        double factor = SETPOINT_FRAC * r->pace / r->cpu;
        if (factor > MAX_UP_FACTOR)
            factor = MAX_UP_FACTOR;
        snprintf(why, why_len,
                 "merging (%+lld pages in %.0f s) with ksmd at %.1f%% of the %.1f%% %s: "
                 "scan %.0f -> %.0f pages/s",
                 (long long)v->progress_pages, r->secs, r->cpu, r->pace,
                 r->first_pass ? "first-pass pace" : "budget", r->rate, r->rate * factor);
        return r->rate * factor;
    }
    return r->rate;
}

/* The scan-rate loop (see the top comment); ksmd runs and is ours to pace. */
static void decide_rate(const struct ksm_tuner_input *in, const struct view *v,
                        struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    struct ksm_tuner_state *st = &out->state;
    struct rate_step r = {
        .rate = rate_of(in->cur.pages_to_scan, in->cur.sleep_ms),
        .secs = (double)in->interval_ms / 1000.0,
    };
    char why[KSM_TUNER_REASON_LEN] = "";

    /* Kernel advisor left on by someone: take the rate back. */
    want(in, out, KSM_S_ADVISOR_MODE, KSM_ADVISOR_NONE,
         "auto mode: ballast paces ksmd itself, kernel advisor off");
    zero_pages_for_fleet(in, out);
    update_converged(in, v, st);
    if (!v->have_delta || !in->ksmd_cpu_valid) {
        summary(out, "running at %.0f pages/s; waiting for a full interval of ksmd CPU to pace it",
                r.rate);
        out->target_rate_pages_s = r.rate;
        return;
    }
    r.cpu = in->ksmd_cpu_pct;
    /* The CPU just measured covers some of ksmd's first full scan since it
     * started (or we began to watch it): pages got their cheap first look;
     * pace for the merging one. Keyed on full scans, not on "nothing merged
     * yet": with use_zero_pages, empty pages merge on the first look, and
     * the bench saw 13.3% against a 10% budget that way. Once a whole
     * interval lies in the second scan, the cost measured is the merging
     * one and the full budget applies: pacing the merging pass to a quarter
     * as well left ksmd at 2% of a 10% budget and took time to 90% from 80 s
     * to 214 s (docs/benchmarks/ksm.md). A restart after run=0 keeps pages'
     * checksums, so its first scan merges at once and costs what it shows. */
    r.first_pass = in->prev.full_scans < st->full_scans_at_start + 1;
    r.pace = r.first_pass ? c->budget_pct / FIRST_PASS_COST : c->budget_pct;
    double target;
    if (!slow_down(c, &r, &target, why, sizeof(why)))
        target = speed_up(c, v, st->converged, &r, why, sizeof(why));
    if (target < min_rate(c))
        target = min_rate(c);
    if (target > max_rate(c))
        target = max_rate(c);
    out->target_rate_pages_s = target;
    summary(out,
            "%s: ksmd %.1f%% of a core (budget %.1f%%), %.0f pages/s, %+lld pages merged "
            "in %.0f s",
            st->converged ? "converged" : "merging", r.cpu, c->budget_pct, r.rate,
            (long long)v->progress_pages, r.secs);
    if (fabs(target - r.rate) < MIN_STEP_FRAC * r.rate)
        return; /* within the band, or too small a step to be worth a write */
    if (!why[0])
        snprintf(why, sizeof(why), "scan rate %.0f -> %.0f pages/s within limits", r.rate, target);
    uint64_t pages, sleep_ms;
    settings_for_rate(c, target, &pages, &sleep_ms);
    want(in, out, KSM_S_SLEEP_MS, sleep_ms, "%s", why);
    want(in, out, KSM_S_PAGES_TO_SCAN, pages, "%s", why);
}

static void build_view(const struct ksm_tuner_input *in, struct view *v)
{
    const struct ksm_host_sample *cur = &in->cur, *prev = &in->prev;
    *v = (struct view){0};
    if (in->mem_total_bytes) {
        v->commit_pct = (double)in->committed_bytes * 100.0 / (double)in->mem_total_bytes;
        v->avail_pct = (double)in->mem_available_bytes * 100.0 / (double)in->mem_total_bytes;
    }
    v->pressure = in->mem_total_bytes && v->avail_pct < in->cfg->start_avail_pct;
    v->running = ksm_host_has(cur, KSM_F_RUN) && cur->run == 1;
    v->has_advisor = ksm_host_has(cur, KSM_F_ADVISOR_MODE);
    v->have_delta = in->have_prev && in->interval_ms > 0 && ksm_host_has(prev, KSM_F_RUN) &&
                    prev->run == 1 && v->running;
    if (in->have_prev) {
        /* Merged pages: shared copies saved plus zero-page merges. */
        uint64_t now = add_sat(cur->pages_sharing, cur->ksm_zero_pages);
        uint64_t then = add_sat(prev->pages_sharing, prev->ksm_zero_pages);
        uint64_t d = now >= then ? now - then : then - now;
        if (d > (uint64_t)INT64_MAX)
            d = (uint64_t)INT64_MAX;
        v->progress_pages = now >= then ? (int64_t)d : -(int64_t)d;
        v->scans_delta =
            cur->full_scans >= prev->full_scans ? cur->full_scans - prev->full_scans : 0;
    }
    v->candidates =
        add_sat(add_sat(cur->pages_shared, cur->pages_sharing),
                add_sat(add_sat(cur->pages_unshared, cur->pages_volatile), cur->ksm_zero_pages));
}

static void decide_fixed(const struct ksm_tuner_input *in, struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    want(in, out, KSM_S_ADVISOR_MODE, KSM_ADVISOR_NONE, "fixed mode: kernel advisor off");
    want(in, out, KSM_S_SLEEP_MS, c->fixed_sleep_ms, "fixed mode: configured sleep");
    want(in, out, KSM_S_PAGES_TO_SCAN, c->fixed_pages_to_scan,
         "fixed mode: configured pages per batch");
    zero_pages_for_fleet(in, out);
    want(in, out, KSM_S_RUN, 1, "fixed mode: ksmd always on");
    if (out->settings.mask & KSM_BIT(KSM_S_RUN))
        out->state.since_change_ms = 0;
    summary(out, "fixed: %llu pages every %llu ms", (unsigned long long)c->fixed_pages_to_scan,
            (unsigned long long)c->fixed_sleep_ms);
    out->target_rate_pages_s = rate_of(c->fixed_pages_to_scan, c->fixed_sleep_ms);
}

/* ksmd runs and goes on running: the kernel's advisor paces it, or the rate loop. */
static void decide_running(const struct ksm_tuner_input *in, const struct view *v,
                           struct ksm_tuner_output *out, bool advisor)
{
    if (advisor) {
        advisor_settings(in, out);
        if (!out->summary[0])
            summary(out, "advisor: the kernel paces ksmd (max %llu%% CPU); ksmd measured %.1f%%",
                    (unsigned long long)ceil(in->cfg->budget_pct),
                    in->ksmd_cpu_valid ? in->ksmd_cpu_pct : 0.0);
        return;
    }
    char held[KSM_TUNER_REASON_LEN];
    memcpy(held, out->summary, sizeof(held));
    decide_rate(in, v, out);
    if (held[0]) /* a hold on stopping says more than the rate line */
        memcpy(out->summary, held, sizeof(held));
}

/* The dwell-time clock and the first decision's state. */
static void advance_state(const struct ksm_tuner_input *in, struct ksm_tuner_state *st)
{
    if (!st->initialised) {
        /* Nothing was changed by us yet: no dwell time to honour. */
        st->initialised = true;
        st->since_change_ms = UINT64_MAX / 2;
        st->full_scans_at_start = in->cur.full_scans;
    } else {
        st->since_change_ms = add_sat(st->since_change_ms, in->interval_ms);
    }
}

int ksm_tuner_decide(const struct ksm_tuner_input *in, struct ksm_tuner_output *out)
{
    if (!in || !out || !in->cfg || !config_ok(in->cfg))
        return -EINVAL;
    const struct ksm_tuner_config *c = in->cfg;
    memset(out, 0, sizeof(*out));
    out->state = in->state;
    advance_state(in, &out->state);
    struct view v;
    build_view(in, &v);

    switch (c->mode) {
    case KSM_MODE_OBSERVE:
        summary(out,
                "observe: ballast measures KSM but leaves ksmd's settings alone (run=%llu, "
                "%llu pages every %llu ms)",
                (unsigned long long)in->cur.run, (unsigned long long)in->cur.pages_to_scan,
                (unsigned long long)in->cur.sleep_ms);
        return 0;
    case KSM_MODE_OFF:
        want(in, out, KSM_S_RUN, 0, "KSM mode is off");
        summary(out, "mode off");
        if (out->settings.mask & KSM_BIT(KSM_S_RUN))
            out->state.since_change_ms = 0;
        return 0;
    case KSM_MODE_FIXED:
        decide_fixed(in, out);
        return 0;
    case KSM_MODE_ADVISOR:
    case KSM_MODE_AUTO:
        break;
    }

    bool advisor = c->mode == KSM_MODE_ADVISOR && v.has_advisor;
    if (decide_on_off(in, &v, out, advisor))
        decide_running(in, &v, out, advisor);
    if (c->mode == KSM_MODE_ADVISOR && !v.has_advisor) {
        char note[KSM_TUNER_REASON_LEN];
        snprintf(note, sizeof(note), "no scan-time advisor in this kernel (6.9+): auto; %.140s",
                 out->summary);
        memcpy(out->summary, note, sizeof(note));
    }
    if (!out->summary[0] && out->n_changes)
        summary(out, "%s", out->changes[out->n_changes - 1].reason);
    return 0;
}

/* --------------------------------------------------- the peers' formula */

int ksm_tuner_ksmtuned(const struct ksm_tuner_input *in, struct ksm_tuner_output *out)
{
    if (!in || !out || !in->cfg)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->state = in->state;
    const uint64_t total = in->mem_total_bytes;
    const uint64_t thres = total / 5; /* 20% */
    const uint64_t free_bytes = in->mem_available_bytes;
    bool on = add_sat(in->committed_bytes, thres) > total || free_bytes < thres;
    if (!on) {
        want(in, out, KSM_S_RUN, 0, "ksmtuned: committed + 20%% < RAM and free > 20%%");
        summary(out, "ksmtuned: off");
        return 0;
    }
    int64_t pages = (int64_t)(in->cur.pages_to_scan ? in->cur.pages_to_scan : 100);
    pages += free_bytes < thres ? 300 : -50;
    if (pages < 64)
        pages = 64;
    if (pages > 1250)
        pages = 1250;
    /* sleep = 10 ms * 16 GiB / RAM, at least 10 ms */
    uint64_t sleep_ms = total ? (uint64_t)(10.0 * 16.0 * 1024 * MIB / (double)total) : 10;
    if (sleep_ms < 10)
        sleep_ms = 10;
    want(in, out, KSM_S_ADVISOR_MODE, KSM_ADVISOR_NONE, "ksmtuned: no advisor");
    want(in, out, KSM_S_SLEEP_MS, sleep_ms, "ksmtuned: sleep = max(10, 10 ms * 16 GiB / RAM)");
    want(in, out, KSM_S_PAGES_TO_SCAN, (uint64_t)pages,
         free_bytes < thres ? "ksmtuned: free < 20%%: boost +300" : "ksmtuned: decay -50");
    want(in, out, KSM_S_RUN, 1, "ksmtuned: committed + 20%% > RAM or free < 20%%");
    summary(out, "ksmtuned: on, %lld pages every %llu ms", (long long)pages,
            (unsigned long long)sleep_ms);
    out->target_rate_pages_s = rate_of((uint64_t)pages, sleep_ms);
    return 0;
}
