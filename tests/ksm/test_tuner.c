/*
 * The ksmd tuner on stack-built inputs: on/off by commitment with hysteresis
 * and dwell times, the CPU-budget rate loop (over budget, under budget with
 * work left, band, clamps, converged maintenance pace), unprofitable stops,
 * advisor mode with and without a kernel advisor, fixed/off modes, zero pages
 * for fleets, and closed-loop simulations against a linear ksmd CPU model
 * (with noise and a sudden change of cost) that must hold the budget without
 * oscillating. Also the ksmtuned/MOM formula used by the benchmark.
 */
#include "cunit_main.h"
#include "ksm.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define GiB (1024ull * 1024 * 1024)

static struct ksm_tuner_config cfg;

/* A 6.18 host (all files) with ksmd in the given state. */
static struct ksm_host_sample host(uint64_t run, uint64_t pages, uint64_t sleep_ms)
{
    struct ksm_host_sample h = {0};
    h.present = (UINT32_C(1) << KSM_F_COUNT) - 1;
    h.run = run;
    h.pages_to_scan = pages;
    h.sleep_ms = sleep_ms;
    h.use_zero_pages = 1;
    h.advisor_mode = KSM_ADVISOR_NONE;
    h.advisor_max_cpu_pct = 70;
    h.advisor_target_scan_time_s = 200;
    h.max_page_sharing = 256;
    return h;
}

/* 24 GiB host, guests committing commit_pct, available avail_pct. */
static struct ksm_tuner_input input(unsigned guests, unsigned commit_pct, unsigned avail_pct,
                                    struct ksm_host_sample cur)
{
    struct ksm_tuner_input in = {0};
    in.cfg = &cfg;
    in.mem_total_bytes = 24 * GiB;
    in.committed_bytes = 24 * GiB * commit_pct / 100;
    in.mem_available_bytes = 24 * GiB * avail_pct / 100;
    in.guest_count = guests;
    in.cur = cur;
    in.interval_ms = 10000;
    in.state.initialised = true;
    in.state.since_change_ms = 3600 * 1000; /* long since the last change */
    in.state.started_by_us = true;          /* a ksmd that is running, ballast started */
    return in;
}

/* A running ksmd with a previous sample one interval ago, merging `progress` pages. */
static struct ksm_tuner_input running(uint64_t pages, double cpu_pct, int64_t progress,
                                      uint64_t scans)
{
    struct ksm_host_sample prev = host(1, pages, 20), cur = host(1, pages, 20);
    prev.pages_shared = 10000;
    prev.pages_sharing = 100000;
    prev.pages_unshared = 400000;
    prev.full_scans = 5;
    prev.general_profit_bytes = 400 << 20;
    cur = prev;
    cur.pages_sharing = (uint64_t)((int64_t)prev.pages_sharing + progress);
    cur.full_scans = prev.full_scans + scans;
    struct ksm_tuner_input in = input(8, 60, 50, cur);
    in.prev = prev;
    in.have_prev = true;
    in.ksmd_cpu_pct = cpu_pct;
    in.ksmd_cpu_valid = true;
    return in;
}

static const struct ksm_tuner_change *change_of(const struct ksm_tuner_output *out,
                                                enum ksm_setting s)
{
    for (unsigned i = 0; i < out->n_changes; i++)
        if (out->changes[i].setting == s)
            return &out->changes[i];
    return NULL;
}

/* The reason given for a change of s; "" when there is none (the assertion then fails). */
static const char *reason_of(const struct ksm_tuner_output *out, enum ksm_setting s)
{
    const struct ksm_tuner_change *ch = change_of(out, s);
    return ch ? ch->reason : "";
}

static bool sets(const struct ksm_tuner_output *out, enum ksm_setting s)
{
    return (out->settings.mask & KSM_BIT(s)) != 0;
}

static double new_rate(const struct ksm_tuner_output *out, const struct ksm_host_sample *cur)
{
    uint64_t pages =
        sets(out, KSM_S_PAGES_TO_SCAN) ? out->settings.pages_to_scan : cur->pages_to_scan;
    uint64_t sleep = sets(out, KSM_S_SLEEP_MS) ? out->settings.sleep_ms : cur->sleep_ms;
    return (double)pages * 1000.0 / (double)sleep;
}

static int setup(void)
{
    ksm_tuner_config_default(&cfg);
    return 0;
}

/* ------------------------------------------------------------ on / off */

static void test_idle_host_stays_off(void)
{
    struct ksm_tuner_input in = input(0, 0, 90, host(0, 100, 20));
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.mask, 0);
    CU_ASSERT_EQUAL(out.n_changes, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.summary, "no guests"));
}

static void test_no_guests_stops(void)
{
    struct ksm_tuner_input in = input(0, 0, 90, host(1, 100, 20));
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_TRUE(sets(&out, KSM_S_RUN));
    CU_ASSERT_EQUAL(out.settings.run, 0); /* 0, never 2: merged pages stay merged */
}

static void test_committed_fleet_starts(void)
{
    struct ksm_host_sample cur = host(0, 100, 20);
    cur.use_zero_pages = 0;
    cur.full_scans = 42;
    struct ksm_tuner_input in = input(16, 60, 50, cur);
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_TRUE(sets(&out, KSM_S_RUN));
    CU_ASSERT_EQUAL(out.settings.run, 1);
    CU_ASSERT_EQUAL(out.settings.pages_to_scan, cfg.start_pages_to_scan);
    CU_ASSERT_FALSE(sets(&out, KSM_S_SLEEP_MS)); /* already 20 */
    CU_ASSERT_TRUE(sets(&out, KSM_S_USE_ZERO_PAGES));
    CU_ASSERT_EQUAL(out.settings.use_zero_pages, 1);
    const struct ksm_tuner_change *ch = change_of(&out, KSM_S_RUN);
    CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&out, KSM_S_RUN), "60%"));
    CU_ASSERT_TRUE(ch && ch->old_value == 0 && ch->new_value == 1);
    CU_ASSERT_EQUAL(out.state.since_change_ms, 0);
    CU_ASSERT_EQUAL(out.state.full_scans_at_start, 42);
    CU_ASSERT_TRUE(strlen(reason_of(&out, KSM_S_USE_ZERO_PAGES)) > 10);
}

static void test_lightly_committed_stays_off(void)
{
    struct ksm_tuner_input in = input(4, 30, 50, host(0, 100, 20));
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.mask, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.summary, "30%"));
}

static void test_memory_low_starts(void)
{
    struct ksm_tuner_input in = input(4, 30, 10, host(0, 100, 20));
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.run, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&out, KSM_S_RUN), "memory low"));
}

/* Between stop (35%) and start (50%) nothing changes, whichever state ksmd is in. */
static void test_hysteresis_band(void)
{
    struct ksm_tuner_output out;
    struct ksm_tuner_input in = input(8, 42, 40, host(0, 100, 20));
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_RUN));
    in = input(8, 42, 40, host(1, 500, 20));
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_RUN));
    /* Under 35% but memory not plentiful (25% < 30%): stays on. */
    in = input(8, 20, 25, host(1, 500, 20));
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_RUN));
}

static void test_stop_after_min_on(void)
{
    struct ksm_tuner_output out;
    struct ksm_tuner_input in = input(8, 20, 70, host(1, 500, 20));
    in.state.since_change_ms = 100 * 1000; /* on for 100 s + this 10 s interval */
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_RUN));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.summary, "would stop"));
    CU_ASSERT_EQUAL(out.state.since_change_ms, 110 * 1000);
    in.state.since_change_ms = 295 * 1000;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_TRUE(sets(&out, KSM_S_RUN));
    CU_ASSERT_EQUAL(out.settings.run, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&out, KSM_S_RUN), "not pay"));
}

static void test_min_off_unless_pressure(void)
{
    struct ksm_tuner_output out;
    struct ksm_tuner_input in = input(8, 60, 40, host(0, 100, 20));
    in.state.since_change_ms = 10 * 1000;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_RUN));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.summary, "would start"));
    in.mem_available_bytes = 24 * GiB / 10; /* pressure waives the dwell */
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.run, 1);
}

/* The first decision of a fresh daemon has no dwell to honour. */
static void test_first_decision_starts_at_once(void)
{
    struct ksm_tuner_output out;
    struct ksm_tuner_input in = input(8, 60, 40, host(0, 100, 20));
    in.state = (struct ksm_tuner_state){0};
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.run, 1);
    CU_ASSERT_TRUE(out.state.initialised);
}

/* A flapping commitment (guests coming and going around one threshold) must not flap ksmd. */
static void test_no_flapping(void)
{
    struct ksm_host_sample cur = host(0, 100, 20);
    struct ksm_tuner_state st = {0};
    unsigned run_changes = 0;
    for (int tick = 0; tick < 120; tick++) {
        unsigned commit = tick % 2 ? 52 : 33; /* crosses both thresholds every tick */
        struct ksm_tuner_input in = input(8, commit, 40, cur);
        in.state = st;
        struct ksm_tuner_output out;
        CU_ASSERT_EQUAL_FATAL(ksm_tuner_decide(&in, &out), 0);
        if (sets(&out, KSM_S_RUN)) {
            run_changes++;
            cur.run = out.settings.run;
        }
        if (sets(&out, KSM_S_PAGES_TO_SCAN))
            cur.pages_to_scan = out.settings.pages_to_scan;
        st = out.state;
    }
    /* 20 minutes of 10 s ticks: at most one start/stop pair per min_on + min_off (6 min). */
    CU_ASSERT_TRUE(run_changes >= 1);
    CU_ASSERT_TRUE(run_changes <= 2 * (120 * 10 / 360 + 1));
}

/* ------------------------------------------------------------ rate loop */

static void test_over_budget_scans_less(void)
{
    struct ksm_tuner_input in = running(1000, 20.0, 5000, 0); /* 50000 pages/s at 20% */
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_TRUE(sets(&out, KSM_S_PAGES_TO_SCAN));
    double r0 = 50000, r1 = new_rate(&out, &in.cur);
    CU_ASSERT_TRUE(r1 < r0);
    /* Linear model: predicted CPU lands at the setpoint, under budget. */
    double predicted = 20.0 * r1 / r0;
    CU_ASSERT_TRUE(predicted <= cfg.budget_pct);
    CU_ASSERT_DOUBLE_EQUAL(predicted, 0.8 * cfg.budget_pct, 0.2);
    CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&out, KSM_S_PAGES_TO_SCAN), "over the"));
    CU_ASSERT_FALSE(sets(&out, KSM_S_RUN));
}

static void test_under_budget_scans_more_within_budget(void)
{
    const double cpus[] = {1.5, 2.0, 3.0, 4.0, 5.0, 5.9};
    for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++) {
        struct ksm_tuner_input in = running(1000, cpus[i], 5000, 0);
        struct ksm_tuner_output out;
        CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
        double r1 = new_rate(&out, &in.cur);
        CU_ASSERT_TRUE(r1 > 50000);
        CU_ASSERT_TRUE(r1 <= 2 * 50000 + 1); /* at most doubles per tick */
        CU_ASSERT_TRUE(cpus[i] * r1 / 50000 <= cfg.budget_pct);
    }
}

static void test_band_holds(void)
{
    const double cpus[] = {6.1, 7.0, 8.0, 9.5, 10.0};
    for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++) {
        struct ksm_tuner_input in = running(1000, cpus[i], 5000, 0);
        struct ksm_tuner_output out;
        CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
        CU_ASSERT_EQUAL(out.settings.mask, 0);
    }
}

static void test_unmeasurable_cpu_doubles(void)
{
    struct ksm_tuner_input in = running(500, 0.3, 5000, 0);
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.pages_to_scan, 1000);
}

static void test_ceiling(void)
{
    struct ksm_tuner_input in = running(cfg.max_pages_to_scan, 2.0, 5000, 0);
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_PAGES_TO_SCAN)); /* already at the ceiling */
}

static void test_no_cpu_or_just_started_holds(void)
{
    struct ksm_tuner_output out;
    struct ksm_tuner_input in = running(1000, 50.0, 5000, 0);
    in.ksmd_cpu_valid = false;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.mask, 0);
    in = running(1000, 50.0, 5000, 0);
    in.prev.run = 0; /* ksmd was off for (part of) the interval: CPU says nothing */
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.mask, 0);
    in = running(1000, 50.0, 5000, 0);
    in.have_prev = false;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.mask, 0);
}

static void test_converged_slows_down(void)
{
    /* A full scan went by and nothing new merged. */
    struct ksm_tuner_input in = running(1000, 5.0, 10, 1);
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_TRUE(out.state.converged);
    double r1 = new_rate(&out, &in.cur);
    /* candidates 10000 + 100010 + 400000 over 300 s = ~1700 pages/s */
    double maint = (10000.0 + 100010 + 400000) / 300;
    CU_ASSERT_TRUE(r1 < 50000);
    CU_ASSERT_DOUBLE_EQUAL(r1, maint, maint * 0.05);
    CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&out, KSM_S_PAGES_TO_SCAN), "nothing new"));

    /* No full scan yet and no progress: not judged converged, keeps pace. */
    in = running(1000, 5.0, 0, 0);
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(out.state.converged);
    CU_ASSERT_TRUE(new_rate(&out, &in.cur) >= 50000);

    /* Just started: the first full scan merged nothing (it cannot: a page
     * merges after its checksum held over two passes). Not converged: paced
     * for the merging pass to come (budget / 4: 5% -> 2% of a core), not
     * dropped to the maintenance pace. */
    in = running(1000, 5.0, 0, 1);
    in.state.full_scans_at_start = in.cur.full_scans - 1;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(out.state.converged);
    CU_ASSERT_DOUBLE_EQUAL(new_rate(&out, &in.cur), 50000 * 0.8 * (cfg.budget_pct / 4) / 5.0, 1000);
    CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&out, KSM_S_PAGES_TO_SCAN), "first full scan"));
    /* Two full scans since the start and still nothing: converged. */
    in.state.full_scans_at_start = in.cur.full_scans - 2;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_TRUE(out.state.converged);
}

static void test_slow_rate_uses_longer_sleep(void)
{
    /* Very few candidates: maintenance pace under the 32-page floor at 20 ms. */
    struct ksm_tuner_input in = running(1000, 5.0, 0, 1);
    in.cur.pages_sharing = 100;
    in.prev.pages_sharing = 100;
    in.cur.pages_shared = 10;
    in.cur.pages_unshared = 3000;
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.pages_to_scan, cfg.min_pages_to_scan);
    CU_ASSERT_TRUE(sets(&out, KSM_S_SLEEP_MS));
    CU_ASSERT_TRUE(out.settings.sleep_ms > cfg.sleep_ms);
    CU_ASSERT_TRUE(out.settings.sleep_ms <= cfg.max_sleep_ms);
}

static void test_merging_resumes(void)
{
    struct ksm_tuner_input in = running(40, 1.5, 20000, 0); /* a new guest booted */
    in.state.converged = true;
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(out.state.converged);
    CU_ASSERT_TRUE(new_rate(&out, &in.cur) > 2000);
}

static void test_unprofitable_stops_and_waits_for_growth(void)
{
    struct ksm_tuner_input in = running(1000, 5.0, 0, 1);
    in.state.full_scans_at_start = 3; /* cur.full_scans = 6 */
    in.cur.general_profit_bytes = -(64 << 20);
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_TRUE(sets(&out, KSM_S_RUN));
    CU_ASSERT_EQUAL(out.settings.run, 0);
    CU_ASSERT_TRUE(out.state.stopped_unprofitable);
    CU_ASSERT_PTR_NOT_NULL(strstr(reason_of(&out, KSM_S_RUN), "does not pay"));

    /* Off, same commitment, long after: stays off. */
    struct ksm_tuner_input off = input(8, 60, 50, host(0, 1000, 20));
    off.state = out.state;
    off.state.since_change_ms = 3600 * 1000;
    struct ksm_tuner_output out2;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&off, &out2), 0);
    CU_ASSERT_FALSE(sets(&out2, KSM_S_RUN));
    /* More guests (+12% of RAM): tries again. */
    off.committed_bytes += 24 * GiB * 12 / 100;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&off, &out2), 0);
    CU_ASSERT_EQUAL(out2.settings.run, 1);
    CU_ASSERT_FALSE(out2.state.stopped_unprofitable);

    /* Profitable after many scans: keeps running. */
    in = running(1000, 5.0, 0, 1);
    in.state.full_scans_at_start = 0;
    in.cur.general_profit_bytes = 300 << 20;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_RUN));
}

/*
 * Closed loop against a linear ksmd (CPU = cost * rate, +/-10% noise): from a
 * cold start it must reach the budget band, never exceed the budget once
 * there, and not keep rewriting settings. Then the cost per page doubles
 * (guests' memory got harder to compare): one tick over, then back under.
 */
/*
 * A closed loop against a model of ksmd: each step runs the tuner on the
 * model's counters and the CPU it measured last, applies what the tuner
 * wrote, and returns the scan rate ksmd now runs at (pages/s). The caller
 * moves the model (CPU for that rate, merges, full scans) before the next.
 */
struct plant_loop {
    struct ksm_host_sample cur, prev;
    struct ksm_tuner_state st;
    bool have_prev;
    double cpu; /* ksmd's CPU over the last interval, % of a core */
};

static double loop_step(struct plant_loop *l, struct ksm_tuner_output *out)
{
    struct ksm_tuner_input in = input(32, 70, 40, l->cur);
    in.prev = l->prev;
    in.have_prev = l->have_prev;
    in.state = l->st;
    in.ksmd_cpu_pct = l->cpu;
    in.ksmd_cpu_valid = l->have_prev;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, out), 0);
    l->prev = l->cur;
    l->have_prev = true;
    if (sets(out, KSM_S_RUN))
        l->cur.run = out->settings.run;
    if (sets(out, KSM_S_PAGES_TO_SCAN))
        l->cur.pages_to_scan = out->settings.pages_to_scan;
    if (sets(out, KSM_S_SLEEP_MS))
        l->cur.sleep_ms = out->settings.sleep_ms;
    l->st = out->state;
    return l->cur.run == 1 ? (double)l->cur.pages_to_scan * 1000.0 / (double)l->cur.sleep_ms : 0;
}

/*
 * ksmd's first pass only checksums pages; merging costs several times more
 * per page (3.6x measured). A plant with that step: the loop must pace the
 * cheap pass so that the merging pass stays within the budget, and must
 * give the merging pass the whole budget, not the first pass's quarter of
 * it (that left ksmd at 2% of 10% and took time to 90% from 80 s to 214 s).
 */
static void test_first_pass_paced_for_merging(void)
{
    struct plant_loop l = {.cur = host(0, 100, 20)};
    l.cur.pages_unshared = 1000000;
    l.prev = l.cur;
    const double cost = 0.00014; /* % of a core per page/s on the checksum pass (bench) */
    double scanned = 0, max_cpu_merging = 0, min_cpu_merging_late = 100;
    int merging_intervals = 0;
    for (int tick = 0; tick < 60; tick++) {
        struct ksm_tuner_output out;
        double rate = loop_step(&l, &out);
        bool merging = scanned >= 1000000; /* the second look merges */
        l.cpu = cost * rate * (merging ? 3.6 : 1.0);
        scanned += rate * 10; /* a 10 s interval */
        if (!merging && scanned > 0)
            l.cur.ksm_zero_pages += 5000; /* empty pages merge on the first look */
        if (merging) {
            l.cur.pages_sharing += 20000;
            if (l.cpu > max_cpu_merging)
                max_cpu_merging = l.cpu;
            /* Two intervals to measure the merging cost and step to it. */
            if (++merging_intervals > 2 && l.cpu < min_cpu_merging_late)
                min_cpu_merging_late = l.cpu;
        }
        l.cur.full_scans = (uint64_t)(scanned / 1000000);
    }
    CU_ASSERT_TRUE(scanned >= 2000000); /* it got through the first pass and a merging one */
    CU_ASSERT_TRUE(max_cpu_merging > 0);
    CU_ASSERT_TRUE(max_cpu_merging <= cfg.budget_pct);
    CU_ASSERT_TRUE(min_cpu_merging_late >= 0.5 * cfg.budget_pct); /* the loop holds from 60% */
}

static void test_closed_loop_holds_budget(void)
{
    struct plant_loop l = {.cur = host(0, 100, 20)};
    l.cur.pages_unshared = 2000000;
    l.prev = l.cur;
    double cost = 0.0001; /* % of a core per page/s: 50000 pages/s = 5% */
    unsigned seed = 12345, over_after_settle = 0, writes_late = 0;
    double scanned_total = 0;
    for (int tick = 0; tick < 80; tick++) {
        if (tick == 50)
            cost *= 2;
        struct ksm_tuner_output out;
        double rate = loop_step(&l, &out);
        if ((tick >= 20 && tick < 50) || tick >= 60)
            writes_late +=
                (out.settings.mask & (KSM_BIT(KSM_S_PAGES_TO_SCAN) | KSM_BIT(KSM_S_SLEEP_MS))) != 0;
        /* The plant: ksmd burns CPU proportional to its rate and keeps merging. */
        seed = seed * 1103515245 + 12345;
        double noise = 0.9 + 0.2 * (double)((seed >> 16) & 0x7fff) / 32767.0;
        l.cpu = cost * rate * noise;
        l.cur.pages_sharing += 5000; /* merges keep coming: never converged */
        scanned_total += rate * 10;  /* full scans of the 2M candidates */
        l.cur.full_scans = (uint64_t)(scanned_total / 2000000);
        if (((tick >= 15 && tick < 50) || tick >= 52) && l.cpu > cfg.budget_pct)
            over_after_settle++;
    }
    CU_ASSERT_EQUAL(l.cur.run, 1);
    CU_ASSERT_EQUAL(over_after_settle, 0);
    CU_ASSERT_TRUE(writes_late <= 3);
    CU_ASSERT_TRUE(l.cpu >= 0.5 * cfg.budget_pct && l.cpu <= cfg.budget_pct);
}

/* ------------------------------------------------------------ modes */

static void test_advisor_mode(void)
{
    cfg.mode = KSM_MODE_ADVISOR;
    struct ksm_tuner_input in = input(8, 60, 50, host(0, 100, 20));
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.run, 1);
    CU_ASSERT_TRUE(sets(&out, KSM_S_ADVISOR_MODE));
    CU_ASSERT_EQUAL(out.settings.advisor_mode, KSM_ADVISOR_SCAN_TIME);
    CU_ASSERT_EQUAL(out.settings.advisor_max_cpu_pct, 10);
    CU_ASSERT_FALSE(sets(&out, KSM_S_PAGES_TO_SCAN)); /* the kernel's to set */
    CU_ASSERT_FALSE(sets(&out, KSM_S_ADVISOR_TARGET_SCAN_TIME));

    /* Running, already configured: nothing to write, whatever the CPU. */
    struct ksm_host_sample cur = host(1, 3000, 20);
    cur.advisor_mode = KSM_ADVISOR_SCAN_TIME;
    cur.advisor_max_cpu_pct = 10;
    in = input(8, 60, 50, cur);
    in.ksmd_cpu_pct = 9;
    in.ksmd_cpu_valid = true;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.mask, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.summary, "advisor"));

    /* Fractional budgets round up: the advisor takes whole percent. */
    cfg.budget_pct = 7.5;
    in = input(8, 60, 50, host(0, 100, 20));
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.advisor_max_cpu_pct, 8);
    cfg.advisor_target_scan_time_s = 60;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.advisor_target_scan_time_s, 60);
    ksm_tuner_config_default(&cfg);
}

static void test_advisor_missing_falls_back(void)
{
    cfg.mode = KSM_MODE_ADVISOR;
    struct ksm_host_sample cur = host(0, 100, 20);
    cur.present &=
        ~(KSM_BIT(KSM_F_ADVISOR_MODE) | KSM_BIT(KSM_F_ADVISOR_MAX_CPU) |
          KSM_BIT(KSM_F_ADVISOR_TARGET_SCAN_TIME) | KSM_BIT(KSM_F_ADVISOR_MIN_PAGES_TO_SCAN) |
          KSM_BIT(KSM_F_ADVISOR_MAX_PAGES_TO_SCAN));
    struct ksm_tuner_input in = input(8, 60, 50, cur);
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.run, 1);
    CU_ASSERT_FALSE(sets(&out, KSM_S_ADVISOR_MODE)); /* no such file: never written */
    CU_ASSERT_FALSE(sets(&out, KSM_S_ADVISOR_MAX_CPU));
    CU_ASSERT_TRUE(sets(&out, KSM_S_PAGES_TO_SCAN)); /* ballast's own loop instead */
    CU_ASSERT_PTR_NOT_NULL(strstr(out.summary, "no scan-time advisor"));
    ksm_tuner_config_default(&cfg);
}

static void test_auto_takes_back_from_advisor(void)
{
    struct ksm_tuner_input in = running(1000, 3.0, 5000, 0);
    in.cur.advisor_mode = KSM_ADVISOR_SCAN_TIME;
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_TRUE(sets(&out, KSM_S_ADVISOR_MODE));
    CU_ASSERT_EQUAL(out.settings.advisor_mode, KSM_ADVISOR_NONE);
}

static void test_fixed_and_off_modes(void)
{
    struct ksm_tuner_output out;
    cfg.mode = KSM_MODE_FIXED;
    cfg.fixed_pages_to_scan = 1250;
    cfg.fixed_sleep_ms = 10;
    struct ksm_tuner_input in = input(1, 5, 90, host(0, 100, 20));
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.run, 1); /* on however idle the host */
    CU_ASSERT_EQUAL(out.settings.pages_to_scan, 1250);
    CU_ASSERT_EQUAL(out.settings.sleep_ms, 10);
    CU_ASSERT_FALSE(sets(&out, KSM_S_USE_ZERO_PAGES)); /* one guest is not a fleet */

    cfg.mode = KSM_MODE_OFF;
    in = input(32, 90, 5, host(1, 100, 20));
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.mask, KSM_BIT(KSM_S_RUN));
    CU_ASSERT_EQUAL(out.settings.run, 0);
    in.cur.run = 0;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.mask, 0);
    ksm_tuner_config_default(&cfg);
}

/* Observe never writes, whatever the host looks like, and says what it sees. */
static void test_observe_mode(void)
{
    struct ksm_tuner_output out;
    cfg.mode = KSM_MODE_OBSERVE;
    struct ksm_tuner_input in = input(32, 90, 5, host(0, 100, 20));
    in.cur.use_zero_pages = 0;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.mask, 0);
    CU_ASSERT_EQUAL(out.n_changes, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.summary, "observe"));
    in = running(30000, 90.0, 0, 3); /* far over any budget: still hands off */
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.mask, 0);
    enum ksm_mode m;
    CU_ASSERT_EQUAL(ksm_mode_parse("observe", &m), 0);
    CU_ASSERT_EQUAL(m, KSM_MODE_OBSERVE);
    ksm_tuner_config_default(&cfg);
}

static void test_zero_pages_rules(void)
{
    struct ksm_tuner_output out;
    struct ksm_host_sample cur = host(0, 100, 20);
    cur.use_zero_pages = 0;
    struct ksm_tuner_input in = input(1, 60, 50, cur);
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_USE_ZERO_PAGES));
    in.cur.present &= ~KSM_BIT(KSM_F_USE_ZERO_PAGES); /* kernel without the file */
    in.guest_count = 8;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_USE_ZERO_PAGES));
    cfg.use_zero_pages = false;
    in = input(8, 60, 50, cur);
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_USE_ZERO_PAGES));
    ksm_tuner_config_default(&cfg);
}

static void test_garbage_setting_rewritten(void)
{
    struct ksm_tuner_input in = running(1000, 3.0, 5000, 0);
    in.cur.present &= ~KSM_BIT(KSM_F_SLEEP_MILLISECS);
    in.cur.invalid |= KSM_BIT(KSM_F_SLEEP_MILLISECS);
    in.cur.sleep_ms = 0;
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_TRUE(sets(&out, KSM_S_SLEEP_MS));
    CU_ASSERT_TRUE(out.settings.sleep_ms >= cfg.sleep_ms);
}

static void test_bad_config(void)
{
    struct ksm_tuner_output out;
    struct ksm_tuner_input in = input(8, 60, 50, host(0, 100, 20));
    CU_ASSERT_EQUAL(ksm_tuner_decide(NULL, &out), -EINVAL);
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, NULL), -EINVAL);
    struct ksm_tuner_config bad = cfg;
    in.cfg = &bad;
    bad.budget_pct = 0;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), -EINVAL);
    bad = cfg;
    bad.stop_commit_pct = bad.start_commit_pct;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), -EINVAL);
    bad = cfg;
    bad.stop_avail_pct = bad.start_avail_pct;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), -EINVAL);
    bad = cfg;
    bad.sleep_ms = 0;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), -EINVAL);
    in.cfg = NULL;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), -EINVAL);
}

static void test_mode_names(void)
{
    enum ksm_mode m;
    CU_ASSERT_EQUAL(ksm_mode_parse("advisor", &m), 0);
    CU_ASSERT_EQUAL(m, KSM_MODE_ADVISOR);
    CU_ASSERT_EQUAL(ksm_mode_parse("fixed", &m), 0);
    CU_ASSERT_EQUAL(m, KSM_MODE_FIXED);
    CU_ASSERT_EQUAL(ksm_mode_parse("Auto", &m), -EINVAL);
    CU_ASSERT_EQUAL(ksm_mode_parse("", &m), -EINVAL);
    CU_ASSERT_STRING_EQUAL(ksm_mode_name(KSM_MODE_OFF), "off");
}

/* ------------------------------------------------------------ ksmtuned */

static void test_ksmtuned_formula(void)
{
    struct ksm_tuner_output out;
    /* committed + 20% > RAM: on; free 50% > 20%: decay -50. */
    struct ksm_tuner_input in = input(8, 85, 50, host(0, 300, 20));
    CU_ASSERT_EQUAL(ksm_tuner_ksmtuned(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.run, 1);
    CU_ASSERT_EQUAL(out.settings.pages_to_scan, 250);
    CU_ASSERT_EQUAL(out.settings.sleep_ms, 10); /* 10 * 16 / 24 < 10 */
    /* free < 20%: boost +300, capped at 1250. */
    in = input(8, 40, 10, host(1, 1100, 10));
    CU_ASSERT_EQUAL(ksm_tuner_ksmtuned(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.pages_to_scan, 1250);
    /* 8 GiB host: sleep 20 ms; floor 64 pages. */
    in = input(8, 90, 50, host(1, 64, 10));
    in.mem_total_bytes = 8 * GiB;
    in.committed_bytes = 8 * GiB;
    in.mem_available_bytes = 4 * GiB;
    CU_ASSERT_EQUAL(ksm_tuner_ksmtuned(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.sleep_ms, 20);
    CU_ASSERT_FALSE(sets(&out, KSM_S_PAGES_TO_SCAN)); /* 64 - 50 -> floor 64, unchanged */
    /* Lightly committed, plenty free: off (no hysteresis, no dwell). */
    in = input(8, 60, 50, host(1, 300, 20));
    CU_ASSERT_EQUAL(ksm_tuner_ksmtuned(&in, &out), 0);
    CU_ASSERT_EQUAL(out.settings.run, 0);
}

/* A ksmd someone else started (an admin, a previous ballastd run) is never
 * stopped by auto: its rate is still kept within the budget. */
static void test_foreign_ksmd_not_stopped(void)
{
    /* No guests, lightly committed: a ksmd of ballast's own would stop here. */
    struct ksm_tuner_input in = input(0, 0, 90, host(1, 100, 20));
    in.state.started_by_us = false;
    struct ksm_tuner_output out;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_RUN));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.summary, "started outside ballast"));
    CU_ASSERT_FALSE(out.state.started_by_us);

    /* Over budget: the rate still comes down, and it still is not stopped. */
    struct ksm_tuner_input busy = running(5000, 40.0, 1000, 10);
    busy.state.started_by_us = false;
    busy.committed_bytes = 0; /* nothing committed: would stop if ballast's own */
    CU_ASSERT_EQUAL(ksm_tuner_decide(&busy, &out), 0);
    CU_ASSERT_FALSE(sets(&out, KSM_S_RUN));
    CU_ASSERT_TRUE(sets(&out, KSM_S_PAGES_TO_SCAN));
    CU_ASSERT(out.settings.pages_to_scan < 5000);

    /* The same ksmd, once ballast started it itself, is stopped. */
    in.state.started_by_us = true;
    CU_ASSERT_EQUAL(ksm_tuner_decide(&in, &out), 0);
    CU_ASSERT_TRUE(sets(&out, KSM_S_RUN));
    CU_ASSERT_EQUAL(out.settings.run, 0);
}

static CU_TestInfo tuner_tests[] = {
    {"idle host stays off", test_idle_host_stays_off},
    {"no guests stops", test_no_guests_stops},
    {"foreign ksmd is not stopped", test_foreign_ksmd_not_stopped},
    {"committed fleet starts", test_committed_fleet_starts},
    {"lightly committed stays off", test_lightly_committed_stays_off},
    {"memory low starts", test_memory_low_starts},
    {"hysteresis band", test_hysteresis_band},
    {"stop after min on", test_stop_after_min_on},
    {"min off unless pressure", test_min_off_unless_pressure},
    {"first decision starts at once", test_first_decision_starts_at_once},
    {"no flapping", test_no_flapping},
    {"over budget scans less", test_over_budget_scans_less},
    {"under budget scans more within budget", test_under_budget_scans_more_within_budget},
    {"band holds", test_band_holds},
    {"unmeasurable cpu doubles", test_unmeasurable_cpu_doubles},
    {"ceiling", test_ceiling},
    {"no cpu or just started holds", test_no_cpu_or_just_started_holds},
    {"converged slows down", test_converged_slows_down},
    {"slow rate uses longer sleep", test_slow_rate_uses_longer_sleep},
    {"merging resumes", test_merging_resumes},
    {"unprofitable stops and waits", test_unprofitable_stops_and_waits_for_growth},
    {"first pass paced for the merging pass", test_first_pass_paced_for_merging},
    {"closed loop holds budget", test_closed_loop_holds_budget},
    {"advisor mode", test_advisor_mode},
    {"advisor missing falls back", test_advisor_missing_falls_back},
    {"auto takes back from advisor", test_auto_takes_back_from_advisor},
    {"fixed and off modes", test_fixed_and_off_modes},
    {"observe mode", test_observe_mode},
    {"zero pages rules", test_zero_pages_rules},
    {"garbage setting rewritten", test_garbage_setting_rewritten},
    {"bad config", test_bad_config},
    {"mode names", test_mode_names},
    {"ksmtuned formula", test_ksmtuned_formula},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"ksm tuner", setup, NULL, NULL, NULL, tuner_tests},
    CU_SUITE_INFO_NULL,
};
