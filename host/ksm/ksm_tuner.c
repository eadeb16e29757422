/*
 * The ksmd tuner: a pure function from (host memory, KSM counters now and one
 * interval ago, ksmd's measured CPU) to the settings to write and a reason for
 * each change. No I/O, no clock: the daemon passes time deltas in and carries
 * struct ksm_tuner_state from one tick to the next.
 *
 * Two decisions, two loops:
 *
 * 1. On/off, by yield, and by pressure.
 *
 *    Yield: a fleet (fleet_min_guests, 2, or more) with ksmd off and no
 *    back-off pending gets a probe: ksmd starts, within the CPU budget. Each
 *    interval the tuner books what ksmd newly merged (pages_sharing +
 *    ksm_zero_pages) against the CPU it used. A probe is judged once an
 *    interval lies wholly after its first full scan (pages merge on their
 *    second look), or at probe_max_ms (30 min), on everything since the
 *    start; once merging, on a sliding window of yield_window (6)
 *    intervals. ksmd goes on while it saves at least min_yield_mib_per_cpu_s
 *    (4 MiB per CPU-second, derived in docs/ksm.md); below that it stops
 *    (run=0: merged pages stay merged) and the next probe waits for a
 *    back-off that doubles from 10 min to 2 h, or comes sooner when guests
 *    are added or commit 10% more of RAM. A converged fleet yields nothing
 *    new, so it stops too: the re-probes take over from the maintenance
 *    rescan.
 *
 *    Pressure: the guests' RAM reaching start_commit_pct (50%) of host RAM,
 *    or MemAvailable under start_avail_pct (20%), starts ksmd as before
 *    (low memory even during a back-off) and holds it on, whatever it
 *    yields, until commitment is under stop_commit_pct (35%) AND
 *    MemAvailable over stop_avail_pct (30%); then the yield decides. Under
 *    pressure a converged ksmd keeps the maintenance pace, and only a
 *    profit of zero or less after two full scans stops it (backing off
 *    like a low yield). A minimum time on (300 s) holds every stop for
 *    yield (so a probe whose first verdict fails keeps being judged until
 *    then) and a minimum time off (60 s, waived when memory is low) every
 *    start. A re-probe starts at the pace the last run's measured cost per
 *    page allows, not at start_pages_to_scan: ksmd's first pass then
 *    rescans pages it has seen, at the merging cost.
 *
 *    MOM and ksmtuned start at 80% (committed + 20% > RAM) with no
 *    hysteresis; a fleet of like guests on a roomy host never gets there,
 *    though it merges by half or more, and cheaply: the yield is what says
 *    whether merging pays, commitment only whether memory is needed.
 *
 * 2. Scan rate, by ksmd's CPU (auto mode). The plant is near linear: ksmd's
 *    CPU is proportional to its scan rate (pages_to_scan per sleep_millisecs).
 *    While merges still happen, the rate is scaled by setpoint / measured CPU
 *    with the setpoint at 80% of the budget: over 90% of the budget it is
 *    cut at once to the setpoint (the budget caps every 10 s slice, so the
 *    loop keeps a tenth for the noise around an interval it holds); under
 *    60% of the budget it rises, at most doubling per tick (the cost per
 *    page varies with what is scanned, so the estimate is trusted for one
 *    doubling at a time); between 60% and 90% it holds. A step lands in the
 *    band with -25%/+12% of room, so measurement noise of 10% cannot make
 *    it oscillate. The plant is linear only within a phase: ksmd's first pass
 *    after a start merely checksums pages (a page merges on its second look),
 *    and once merging begins a page costs several times more (measured on
 *    32 idle guests: 3.6x, docs/benchmarks/ksm.md). Paced on the cheap pass,
 *    the merging pass would run at up to 4x the budget; so while the CPU
 *    measured covers any of the first full scan after ksmd starts (or
 *    ballast starts watching it) the loop paces to budget / FIRST_PASS_COST,
 *    and to the budget once an interval lies wholly in the second. Once a
 *    full scan merges nothing new, the rate drops to a maintenance pace
 *    (every candidate page rescanned once per 300 s) for as long as ksmd
 *    runs (held by pressure, or not ballast's to stop; on the yield rule
 *    alone it stops soon after); new merges (a guest booting) send it back
 *    to the budget-bound pace.
 */
#include "ksm.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

/* Rate controller constants (fractions of the budget); see the top comment. */
#define SETPOINT_FRAC KSM_RATE_SETPOINT_FRAC
#define LOW_EDGE_FRAC 0.60
/* Over 90% of the budget the rate is cut to the setpoint: the budget caps
 * any 10 s slice, and an interval held just under 100% left no room for the
 * noise around it (bench-density: 10.5% against 10%). */
#define HIGH_EDGE_FRAC 0.90
#define NOISE_FRAC     0.10 /* below 10% of budget the tick count is too coarse */
#define MAX_UP_FACTOR  2.0
/* During ksmd's first full scan, CPU is paced to budget / this (see the top comment). */
#define FIRST_PASS_COST 4.0
#define MIN_STEP_FRAC   0.10 /* smaller rate changes are not worth a write */
#define REGROW_PCT      10   /* re-probe before the back-off ends: +10% of RAM committed */
#define UNPROFIT_SCANS  2
/* A CPU reading of 0 means under one clock tick (10 ms at CLK_TCK 100), not free. */
#define YIELD_CPU_FLOOR_S 0.01

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
        .min_yield_mib_per_cpu_s = 4.0,
        .yield_window = 6,
        .probe_max_ms = 1800000,
        .backoff_min_ms = 600000,
        .backoff_max_ms = 7200000,
    };
}

const char *ksm_phase_name(enum ksm_phase phase)
{
    switch (phase) {
    case KSM_PHASE_OFF:
        return "off";
    case KSM_PHASE_PROBING:
        return "probing";
    case KSM_PHASE_MERGING:
        return "merging";
    case KSM_PHASE_BACKED_OFF:
        return "backed-off";
    case KSM_PHASE_EXTERNAL:
        return "external";
    }
    return "?";
}

bool ksm_tuner_config_ok(const struct ksm_tuner_config *c)
{
    return c->mode <= KSM_MODE_OBSERVE && c->budget_pct > 0 && c->budget_pct <= 100 &&
           c->stop_commit_pct < c->start_commit_pct && c->start_avail_pct < c->stop_avail_pct &&
           c->stop_avail_pct <= 100 && c->sleep_ms > 0 && c->min_pages_to_scan > 0 &&
           c->min_pages_to_scan <= c->start_pages_to_scan &&
           c->start_pages_to_scan <= c->max_pages_to_scan && c->max_sleep_ms >= c->sleep_ms &&
           c->maintenance_scan_s > 0 && c->fixed_pages_to_scan > 0 &&
           c->min_yield_mib_per_cpu_s >= 0 && isfinite(c->min_yield_mib_per_cpu_s) &&
           c->yield_window >= 1 && c->yield_window <= KSM_YIELD_WINDOW_MAX && c->probe_max_ms > 0 &&
           c->backoff_min_ms > 0 && c->backoff_max_ms >= c->backoff_min_ms;
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

double ksm_rate_of(uint64_t pages_to_scan, uint64_t sleep_ms)
{
    return (double)pages_to_scan * 1000.0 / (double)(sleep_ms ? sleep_ms : 1);
}

void ksm_rate_settings(const struct ksm_tuner_config *c, double rate, uint64_t *pages,
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

double ksm_rate_min(const struct ksm_tuner_config *c)
{
    return ksm_rate_of(c->min_pages_to_scan, c->max_sleep_ms);
}

static double max_rate(const struct ksm_tuner_config *c)
{
    return ksm_rate_of(c->max_pages_to_scan, c->sleep_ms);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ------------------------------------------------------------- decisions */

struct view {
    double commit_pct, avail_pct;
    bool pressure;  /* MemAvailable under start_avail_pct: start now, dwell or not */
    bool committed; /* the guests' RAM at or over start_commit_pct */
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

/* -------------------------------------------------------------- yield */

static int64_t add_sat_i64(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* MiB per CPU-second for pages newly merged over cpu_s of ksmd. */
static double yield_of(const struct ksm_tuner_input *in, int64_t pages, double cpu_s)
{
    double page = (double)(in->page_size ? in->page_size : 4096);
    return (double)pages * page / MIB / (cpu_s > YIELD_CPU_FLOOR_S ? cpu_s : YIELD_CPU_FLOOR_S);
}

static void yield_reset(struct ksm_tuner_state *st)
{
    st->probe_saved_pages = 0;
    st->probe_cpu_s = 0;
    st->probe_intervals = 0;
    st->win_len = st->win_next = 0;
}

/*
 * One interval with ksmd running throughout: what it merged (pages_sharing
 * + ksm_zero_pages, net of pages unmerged) and what it cost go into the
 * probe's account and the sliding window. Without a CPU reading (ksmd not
 * found) the interval is charged the whole budget.
 */
static void account_interval(const struct ksm_tuner_input *in, const struct view *v,
                             struct ksm_tuner_state *st)
{
    if (!v->have_delta)
        return;
    const unsigned n = in->cfg->yield_window;
    double pct = in->ksmd_cpu_valid ? in->ksmd_cpu_pct : in->cfg->budget_pct;
    double cpu_s = pct / 100.0 * (double)in->interval_ms / 1000.0;
    double rate = ksm_rate_of(in->prev.pages_to_scan, in->prev.sleep_ms); /* in force throughout */
    if (in->ksmd_cpu_valid && in->ksmd_cpu_pct > 0 && rate > 0)
        st->cost_pct_per_pps = in->ksmd_cpu_pct / rate;
    st->probe_saved_pages = add_sat_i64(st->probe_saved_pages, v->progress_pages);
    st->probe_cpu_s += cpu_s;
    st->probe_intervals++;
    if (st->win_len > n || st->win_next >= n)
        st->win_len = st->win_next = 0; /* the window was resized: start it again */
    st->win_saved_pages[st->win_next] = v->progress_pages;
    st->win_cpu_s[st->win_next] = cpu_s;
    st->win_next = (st->win_next + 1) % n;
    if (st->win_len < n)
        st->win_len++;
}

static double window_yield(const struct ksm_tuner_input *in, const struct ksm_tuner_state *st)
{
    int64_t pages = 0;
    double cpu_s = 0;
    for (unsigned i = 0; i < st->win_len && i < KSM_YIELD_WINDOW_MAX; i++) {
        pages = add_sat_i64(pages, st->win_saved_pages[i]);
        cpu_s += st->win_cpu_s[i];
    }
    return yield_of(in, pages, cpu_s);
}

/* The yield that stands now, for status: NAN when none was measured. */
static double current_yield(const struct ksm_tuner_input *in, const struct ksm_tuner_state *st)
{
    switch (st->phase) {
    case KSM_PHASE_PROBING:
        return st->probe_intervals ? yield_of(in, st->probe_saved_pages, st->probe_cpu_s) : NAN;
    case KSM_PHASE_MERGING:
    case KSM_PHASE_EXTERNAL:
        return st->win_len ? window_yield(in, st) : NAN;
    case KSM_PHASE_BACKED_OFF:
        return st->yield_at_stop;
    case KSM_PHASE_OFF:
        break;
    }
    return NAN;
}

enum verdict { VERDICT_PENDING, VERDICT_PASS, VERDICT_FAIL };

struct judgement {
    enum verdict verdict;
    double yield;  /* MiB per CPU-second, NAN while nothing is measured */
    char over[64]; /* what it was measured over: "the probe's 70 s", "the last 60 s" */
};

/*
 * The yield rule's verdict on a ksmd ballast runs. A probe is judged once an
 * interval lies wholly after its first full scan (a page merges on its
 * second look, so before that only zero pages can), or at probe_max_ms,
 * on everything since the start. Once merging: on the sliding window.
 */
static void judge(const struct ksm_tuner_input *in, const struct ksm_tuner_state *st,
                  struct judgement *j)
{
    const struct ksm_tuner_config *c = in->cfg;
    j->verdict = VERDICT_PENDING;
    j->yield = NAN;
    if (st->phase == KSM_PHASE_PROBING) {
        bool scanned = in->have_prev && in->prev.full_scans >= st->full_scans_at_start + 1 &&
                       st->probe_intervals > 0;
        bool timed_out = st->since_change_ms >= c->probe_max_ms;
        snprintf(j->over, sizeof(j->over), "the probe's %llu s",
                 (unsigned long long)(st->since_change_ms / 1000));
        if (st->probe_intervals)
            j->yield = yield_of(in, st->probe_saved_pages, st->probe_cpu_s);
        if (!scanned && !timed_out)
            return;
        if (isnan(j->yield))
            j->yield = 0; /* the whole probe without a measured interval */
    } else {
        if (!st->win_len)
            return;
        j->yield = window_yield(in, st);
        snprintf(j->over, sizeof(j->over), "the last %llu s",
                 (unsigned long long)(st->win_len * in->interval_ms / 1000));
    }
    bool pays = c->min_yield_mib_per_cpu_s <= 0 || j->yield >= c->min_yield_mib_per_cpu_s;
    j->verdict = pays ? VERDICT_PASS : VERDICT_FAIL;
}

/* ------------------------------------------------------------- on / off */

/*
 * The first pace of ballast's own loop: start_pages_to_scan, or slower when
 * an earlier run measured what a page costs (a re-probe: ksmd's first pass
 * then rescans pages it has seen, at the merging cost): the first pass's
 * pace (budget / FIRST_PASS_COST) at that cost.
 */
static void start_rate(const struct ksm_tuner_input *in, struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    const double cost = out->state.cost_pct_per_pps;
    double rate = ksm_rate_of(c->start_pages_to_scan, c->sleep_ms);
    want(in, out, KSM_S_ADVISOR_MODE, KSM_ADVISOR_NONE,
         "ballast sets the scan rate itself: kernel advisor off");
    if (cost > 0 && SETPOINT_FRAC * c->budget_pct / FIRST_PASS_COST / cost < rate) {
        rate = SETPOINT_FRAC * c->budget_pct / FIRST_PASS_COST / cost;
        if (rate < ksm_rate_min(c))
            rate = ksm_rate_min(c);
        uint64_t pages, sleep_ms;
        ksm_rate_settings(c, rate, &pages, &sleep_ms);
        char why[KSM_TUNER_REASON_LEN];
        snprintf(why, sizeof(why),
                 "restart at %.0f pages/s: the last run measured %.2f%% of a core per 1000 "
                 "pages/s, and the first full scan is paced to %.1f%%",
                 rate, cost * 1000, c->budget_pct / FIRST_PASS_COST);
        want(in, out, KSM_S_SLEEP_MS, sleep_ms, "%s", why);
        want(in, out, KSM_S_PAGES_TO_SCAN, pages, "%s", why);
    } else {
        want(in, out, KSM_S_SLEEP_MS, c->sleep_ms, "start at the configured sleep");
        want(in, out, KSM_S_PAGES_TO_SCAN, c->start_pages_to_scan,
             "start at %llu pages per batch; the CPU budget loop takes over from there",
             (unsigned long long)c->start_pages_to_scan);
    }
    out->target_rate_pages_s = rate;
}

static void start_settings(const struct ksm_tuner_input *in, struct ksm_tuner_output *out,
                           bool advisor, bool pressure, const char *why)
{
    if (advisor)
        advisor_settings(in, out);
    else
        start_rate(in, out);
    zero_pages_for_fleet(in, out);
    want(in, out, KSM_S_RUN, 1, "%s", why);
    struct ksm_tuner_state *st = &out->state;
    st->since_change_ms = 0;
    st->full_scans_at_start = in->cur.full_scans;
    st->stopped_unprofitable = false;
    st->converged = false;
    st->started_by_us = true;
    st->phase = KSM_PHASE_PROBING; /* every start is judged on its yield */
    st->held_by_pressure = pressure;
    st->committed_peak = in->committed_bytes;
    yield_reset(st);
}

/* ksmd was just stopped (run=0): the state of a ksmd that is off. */
static void note_stop(struct ksm_tuner_state *st, enum ksm_phase phase)
{
    st->since_change_ms = 0;
    st->phase = phase;
    st->started_by_us = false; /* whoever starts it next owns it */
    st->held_by_pressure = false;
    st->converged = false;
}

/* Stops for low yield or no profit: the next probe waits for a back-off, doubled each time. */
static void enter_backoff(const struct ksm_tuner_input *in, struct ksm_tuner_state *st,
                          double yield)
{
    const struct ksm_tuner_config *c = in->cfg;
    uint64_t wait = st->backoff_ms ? st->backoff_ms * 2 : c->backoff_min_ms;
    if (wait > c->backoff_max_ms || wait < st->backoff_ms)
        wait = c->backoff_max_ms;
    note_stop(st, KSM_PHASE_BACKED_OFF);
    st->backoff_ms = wait;
    st->guests_at_stop = in->guest_count;
    /* The most it ran with, not this tick's: guests that come and go around the
     * stop are no reason to probe again. */
    st->committed_at_stop =
        in->committed_bytes > st->committed_peak ? in->committed_bytes : st->committed_peak;
    st->yield_at_stop = yield;
}

/* The back-off a stop made now would wait, in whole minutes (for reasons). */
static unsigned long long next_backoff_min(const struct ksm_tuner_config *c,
                                           const struct ksm_tuner_state *st)
{
    uint64_t wait = st->backoff_ms ? st->backoff_ms * 2 : c->backoff_min_ms;
    if (wait > c->backoff_max_ms || wait < st->backoff_ms)
        wait = c->backoff_max_ms;
    return (unsigned long long)((wait + 59999) / 60000);
}

/*
 * Whether merging stopped paying: after UNPROFIT_SCANS full scans with
 * nothing new merged, a profit of zero or less. Stops ksmd, backs off, and
 * says so. Not before min_on_ms either: a full scan only visits present
 * pages, so over freshly booted guests (mostly absent RAM) two of them take
 * seconds, while the booting guests' pages still change under ksmd and fail
 * its "unchanged since the last look" check. Stopping then would throw away
 * the fleet's sharing for a whole back-off to save a few MiB of rmap items
 * for a few minutes (integration.ksm.fleet once saw exactly that: stopped
 * 12 s after the start, "profit -15.0 MiB after 2 full scans").
 */
static bool stop_if_unprofitable(const struct ksm_tuner_input *in, const struct view *v,
                                 struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    struct ksm_tuner_state *st = &out->state;
    /* Does it pay? Judged only after full scans have had their chance. */
    if (!v->have_delta || in->cur.full_scans < st->full_scans_at_start + UNPROFIT_SCANS ||
        st->since_change_ms < c->min_on_ms || v->progress_pages >= (int64_t)c->progress_min_pages)
        return false;
    struct ksm_host_account acc;
    ksm_account_host(&in->cur, in->page_size ? in->page_size : 4096, &acc);
    int64_t profit = acc.kernel_profit_present ? acc.kernel_profit_bytes : acc.net_profit_bytes;
    if (profit > 0)
        return false;
    want(in, out, KSM_S_RUN, 0,
         "merging does not pay: profit %.1f MiB after %llu full scans with nothing "
         "new merged (rmap items cost more than the pages saved): stop, re-probe in %llu min",
         (double)profit / MIB, (unsigned long long)(in->cur.full_scans - st->full_scans_at_start),
         next_backoff_min(c, st));
    double yield = current_yield(in, st);
    enter_backoff(in, st, isnan(yield) ? 0 : yield);
    st->stopped_unprofitable = true;
    return true;
}

/*
 * Pressure holds ksmd on: it started (or ran into) the guests committing
 * start_commit_pct of RAM or MemAvailable under start_avail_pct, and lets
 * go only under both stop thresholds. Until then no yield stops it.
 */
static bool update_pressure_hold(const struct ksm_tuner_input *in, const struct view *v,
                                 struct ksm_tuner_state *st)
{
    const struct ksm_tuner_config *c = in->cfg;
    if (v->pressure || v->committed)
        st->held_by_pressure = true;
    else if (v->commit_pct < c->stop_commit_pct && v->avail_pct > c->stop_avail_pct)
        st->held_by_pressure = false;
    return st->held_by_pressure;
}

/* Running under the pressure hold: the yield is judged and shown, never acted on. */
static void held_on(const struct ksm_tuner_input *in, const struct view *v,
                    const struct judgement *j, struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    struct ksm_tuner_state *st = &out->state;
    if (j->verdict == VERDICT_PASS && st->phase == KSM_PHASE_PROBING)
        st->backoff_ms = 0;
    if (j->verdict != VERDICT_PENDING)
        st->phase = KSM_PHASE_MERGING;
    char yield[48] = "not measured yet";
    if (!isnan(j->yield))
        snprintf(yield, sizeof(yield), "%.1f MiB/CPU-s", j->yield);
    summary(out, "held on by pressure (commit %.0f%%, available %.0f%%; yield %s, min %g)",
            v->commit_pct, v->avail_pct, yield, c->min_yield_mib_per_cpu_s);
}

/* The yield says stop: after min_on_ms, stop and back off; before, hold and say so. */
static bool stop_for_yield(const struct ksm_tuner_input *in, const struct judgement *j,
                           struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    struct ksm_tuner_state *st = &out->state;
    if (st->since_change_ms < c->min_on_ms) {
        summary(out,
                "yield %.1f MiB/CPU-s over %s < %g: would stop, but on for only %llu s of the "
                "minimum %llu s",
                j->yield, j->over, c->min_yield_mib_per_cpu_s,
                (unsigned long long)(st->since_change_ms / 1000),
                (unsigned long long)(c->min_on_ms / 1000));
        return true;
    }
    want(in, out, KSM_S_RUN, 0,
         "yield %.1f MiB/CPU-s over %s < %g: stop (merged pages stay merged), re-probe in "
         "%llu min",
         j->yield, j->over, c->min_yield_mib_per_cpu_s, next_backoff_min(c, st));
    enter_backoff(in, st, j->yield);
    return false;
}

/* No pressure: the yield decides. Returns true when ksmd goes on running. */
static bool decide_by_yield(const struct ksm_tuner_input *in, const struct judgement *j,
                            struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    struct ksm_tuner_state *st = &out->state;
    switch (j->verdict) {
    case VERDICT_PENDING:
        summary(out,
                "probing for %llu s: judged after a full scan and one more interval (at most "
                "%llu min)",
                (unsigned long long)(st->since_change_ms / 1000),
                (unsigned long long)(c->probe_max_ms / 60000));
        return true;
    case VERDICT_PASS:
        if (st->phase == KSM_PHASE_PROBING)
            st->backoff_ms = 0; /* the probe paid: the next back-off starts short again */
        st->phase = KSM_PHASE_MERGING;
        if (c->min_yield_mib_per_cpu_s <= 0)
            summary(out, "yield %.1f MiB/CPU-s over %s (no minimum): keep merging", j->yield,
                    j->over);
        else
            summary(out, "yield %.1f MiB/CPU-s over %s >= %g: keep merging", j->yield, j->over,
                    c->min_yield_mib_per_cpu_s);
        return true;
    case VERDICT_FAIL:
        break;
    }
    return stop_for_yield(in, j, out);
}

/* The on/off loop while ksmd runs. Returns true when it should go on running. */
static bool decide_while_on(const struct ksm_tuner_input *in, const struct view *v,
                            struct ksm_tuner_output *out)
{
    struct ksm_tuner_state *st = &out->state;
    if (!st->started_by_us) {
        st->phase = KSM_PHASE_EXTERNAL;
        summary(out, "on, started outside ballast: its scan rate is kept within the CPU "
                     "budget, but ballast does not stop a ksmd it did not start");
        return true;
    }
    if (st->phase != KSM_PHASE_PROBING && st->phase != KSM_PHASE_MERGING)
        st->phase = KSM_PHASE_PROBING; /* ours, but never judged (a state from before the rule) */
    if (in->committed_bytes > st->committed_peak)
        st->committed_peak = in->committed_bytes;
    if (in->guest_count == 0) {
        want(in, out, KSM_S_RUN, 0, "no guests: nothing to merge");
        note_stop(st, KSM_PHASE_OFF);
        return false;
    }
    if (stop_if_unprofitable(in, v, out))
        return false;
    struct judgement j;
    judge(in, st, &j);
    if (update_pressure_hold(in, v, st)) {
        held_on(in, v, &j, out);
        return true;
    }
    return decide_by_yield(in, &j, out);
}

/*
 * While backed off: whether the next probe is due, and why (into trig, as
 * the head of the start reason). New guests and +REGROW_PCT of RAM
 * committed since the stop cut the back-off short.
 */
static bool backoff_over(const struct ksm_tuner_input *in, struct ksm_tuner_state *st, char *trig,
                         size_t trig_len)
{
    uint64_t regrow = (uint64_t)((double)in->mem_total_bytes * REGROW_PCT / 100.0);
    if (in->guest_count > st->guests_at_stop)
        snprintf(trig, trig_len,
                 "%u new guest%s since the stop: ", in->guest_count - st->guests_at_stop,
                 in->guest_count - st->guests_at_stop == 1 ? "" : "s");
    else if (regrow && in->committed_bytes >= add_sat(st->committed_at_stop, regrow))
        snprintf(trig, trig_len, "guests commit %u%%+ more of RAM than at the stop: ", REGROW_PCT);
    else if (st->since_change_ms >= st->backoff_ms)
        snprintf(trig, trig_len, "back-off of %llu min over: ",
                 (unsigned long long)((st->backoff_ms + 59999) / 60000));
    else
        return false;
    return true;
}

static void backed_off_summary(const struct ksm_tuner_input *in, struct ksm_tuner_output *out)
{
    const struct ksm_tuner_config *c = in->cfg;
    const struct ksm_tuner_state *st = &out->state;
    char why[96];
    if (st->stopped_unprofitable)
        snprintf(why, sizeof(why), "merging did not pay");
    else
        snprintf(why, sizeof(why), "yield %.1f MiB/CPU-s < %g", st->yield_at_stop,
                 c->min_yield_mib_per_cpu_s);
    uint64_t left = st->backoff_ms - st->since_change_ms;
    summary(out,
            "backed off (%s): re-probe in %llu min, sooner when guests are added, commit "
            "%u%% more of RAM, or memory runs low",
            why, (unsigned long long)((left + 59999) / 60000), REGROW_PCT);
}

enum start_why { START_NONE, START_PRESSURE, START_PROBE };

/* Why ksmd should start now (why: the reason), or START_NONE with the summary saying why not. */
static enum start_why start_reason(const struct ksm_tuner_input *in, const struct view *v,
                                   struct ksm_tuner_output *out, char *why, size_t why_len)
{
    const struct ksm_tuner_config *c = in->cfg;
    struct ksm_tuner_state *st = &out->state;
    char trig[80] = "";
    if (v->pressure) {
        snprintf(why, why_len, "memory low: %.0f%% available (< %u%%): start merging", v->avail_pct,
                 c->start_avail_pct);
        return START_PRESSURE;
    }
    if (st->phase == KSM_PHASE_BACKED_OFF && !backoff_over(in, st, trig, sizeof(trig))) {
        backed_off_summary(in, out);
        return START_NONE;
    }
    if (v->committed) {
        snprintf(why, why_len,
                 "%sguests commit %.0f%% of RAM (>= %u%%): start merging before memory runs low",
                 trig, v->commit_pct, c->start_commit_pct);
        return START_PRESSURE;
    }
    if (in->guest_count >= c->fleet_min_guests) {
        snprintf(why, why_len,
                 "%sprobe: fleet of %u guests: start ksmd, keep it while it saves >= %g MiB "
                 "per CPU-second",
                 trig, in->guest_count, c->min_yield_mib_per_cpu_s);
        return START_PROBE;
    }
    if (st->phase == KSM_PHASE_BACKED_OFF)
        st->phase = KSM_PHASE_OFF; /* the back-off is over, but there is nothing to probe */
    summary(out,
            "off: %u guest%s (a fleet is %u), guests commit %.0f%% of RAM (start at %u%%), "
            "%.0f%% available (start under %u%%)",
            in->guest_count, in->guest_count == 1 ? "" : "s", c->fleet_min_guests, v->commit_pct,
            c->start_commit_pct, v->avail_pct, c->start_avail_pct);
    return START_NONE;
}

/* The on/off loop while ksmd is off: starts it (start_settings) or says why not. */
static void decide_while_off(const struct ksm_tuner_input *in, const struct view *v,
                             struct ksm_tuner_output *out, bool advisor)
{
    const struct ksm_tuner_config *c = in->cfg;
    struct ksm_tuner_state *st = &out->state;
    if (st->phase != KSM_PHASE_BACKED_OFF)
        st->phase = KSM_PHASE_OFF; /* stopped by ballast, or by someone else */
    else if (in->guest_count < st->guests_at_stop)
        st->guests_at_stop = in->guest_count; /* guests gone: the next one is new */
    if (in->guest_count == 0) {
        summary(out, "off: no guests");
        return;
    }
    char why[KSM_TUNER_REASON_LEN];
    enum start_why start = start_reason(in, v, out, why, sizeof(why));
    if (start == START_NONE)
        return;
    if (!v->pressure && st->since_change_ms < c->min_off_ms) {
        summary(out, "would start (%.150s), but off for only %llu s of the minimum %llu s", why,
                (unsigned long long)(st->since_change_ms / 1000),
                (unsigned long long)(c->min_off_ms / 1000));
        return;
    }
    start_settings(in, out, advisor, start == START_PRESSURE, why);
}

/*
 * The on/off loop (see the top comment). Returns true when ksmd should run
 * after this decision; writes run itself when that changes. A start returns
 * false too: no rate decision on this tick's numbers.
 */
static bool decide_on_off(const struct ksm_tuner_input *in, const struct view *v,
                          struct ksm_tuner_output *out, bool advisor)
{
    account_interval(in, v, &out->state);
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
    if (r->cpu > HIGH_EDGE_FRAC * budget) {
        *target = r->rate * SETPOINT_FRAC * budget / r->cpu;
        snprintf(why, why_len,
                 "ksmd used %.1f%% of a core over %.0f s, over %.0f%% of the %.1f%% budget: "
                 "scan %.0f -> %.0f pages/s",
                 r->cpu, r->secs, HIGH_EDGE_FRAC * 100, budget, r->rate, *target);
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
        return maint < ksm_rate_min(c) ? ksm_rate_min(c) : maint;
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
        .rate = ksm_rate_of(in->cur.pages_to_scan, in->cur.sleep_ms),
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
    if (target < ksm_rate_min(c))
        target = ksm_rate_min(c);
    if (target > max_rate(c))
        target = max_rate(c);
    out->target_rate_pages_s = target;
    summary(out,
            "%s: ksmd %.1f%% of a core (budget %.1f%%), %.0f pages/s, %+lld pages merged "
            "in %.0f s",
            st->converged ? "converged" : "pace", r.cpu, c->budget_pct, r.rate,
            (long long)v->progress_pages, r.secs);
    if (fabs(target - r.rate) < MIN_STEP_FRAC * r.rate)
        return; /* within the band, or too small a step to be worth a write */
    if (!why[0])
        snprintf(why, sizeof(why), "scan rate %.0f -> %.0f pages/s within limits", r.rate, target);
    uint64_t pages, sleep_ms;
    ksm_rate_settings(c, target, &pages, &sleep_ms);
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
    v->committed = in->mem_total_bytes && v->commit_pct >= in->cfg->start_commit_pct;
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
    out->target_rate_pages_s = ksm_rate_of(c->fixed_pages_to_scan, c->fixed_sleep_ms);
}

/*
 * ksmd runs and goes on running: the kernel's advisor paces it, or the rate
 * loop. The summary is the on/off loop's word (the yield, a hold) first,
 * then the pace.
 */
static void decide_running(const struct ksm_tuner_input *in, const struct view *v,
                           struct ksm_tuner_output *out, bool advisor)
{
    char head[KSM_TUNER_REASON_LEN];
    memcpy(head, out->summary, sizeof(head));
    out->summary[0] = '\0';
    if (advisor) {
        advisor_settings(in, out);
        summary(out, "advisor: the kernel paces ksmd (max %llu%% CPU); ksmd measured %.1f%%",
                (unsigned long long)ceil(in->cfg->budget_pct),
                in->ksmd_cpu_valid ? in->ksmd_cpu_pct : 0.0);
    } else {
        decide_rate(in, v, out);
    }
    if (!head[0])
        return;
    char pace[KSM_TUNER_REASON_LEN];
    memcpy(pace, out->summary, sizeof(pace));
    summary(out, "%.125s; %.125s", head, pace);
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
    if (!in || !out || !in->cfg || !ksm_tuner_config_ok(in->cfg))
        return -EINVAL;
    const struct ksm_tuner_config *c = in->cfg;
    memset(out, 0, sizeof(*out));
    out->state = in->state;
    out->yield_mib_per_cpu_s = NAN;
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
            note_stop(&out->state, KSM_PHASE_OFF);
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
        snprintf(note, sizeof(note), "no scan-time advisor in this kernel (6.9+): auto; %.200s",
                 out->summary);
        memcpy(out->summary, note, sizeof(note));
    }
    if (!out->summary[0] && out->n_changes)
        summary(out, "%s", out->changes[out->n_changes - 1].reason);
    const struct ksm_tuner_state *st = &out->state;
    out->yield_mib_per_cpu_s = current_yield(in, st);
    if (st->phase == KSM_PHASE_BACKED_OFF && st->since_change_ms < st->backoff_ms)
        out->reprobe_in_ms = st->backoff_ms - st->since_change_ms;
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
    out->target_rate_pages_s = ksm_rate_of((uint64_t)pages, sleep_ms);
    return 0;
}
