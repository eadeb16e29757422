/*
 * The slice guard: ksmd's CPU over the last second against its budget, so
 * that no 10 s slice runs over while the rate loop (ksm_tuner.c) waits for
 * the end of its interval. Pure: the daemon reads ksmd's CPU, passes it in
 * and writes what comes out. ksm.h has the rule and the arithmetic.
 */
#include "ksm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

int ksm_guard_decide(const struct ksm_guard_input *in, struct ksm_guard_output *out)
{
    if (!in || !out || !in->cfg || !ksm_tuner_config_ok(in->cfg) || in->window_ms == 0 ||
        in->window_ms >= KSM_SLICE_MS || !isfinite(in->ksmd_cpu_pct) || in->ksmd_cpu_pct < 0 ||
        !isfinite(in->resolution_pct) || in->resolution_pct < 0)
        return -EINVAL;
    const struct ksm_tuner_config *c = in->cfg;
    const struct ksm_host_sample *cur = &in->cur;
    *out = (struct ksm_guard_output){0};
    out->rate_pages_s = ksm_rate_of(cur->pages_to_scan, cur->sleep_ms);
    out->target_rate_pages_s = out->rate_pages_s;
    /* Only a ksmd ballast paces: auto mode, running. Fixed and advisor
     * modes have their own pace; off and observe write nothing. */
    if (c->mode != KSM_MODE_AUTO || !ksm_host_has(cur, KSM_F_RUN) || cur->run != 1 ||
        !ksm_host_has(cur, KSM_F_PAGES_TO_SCAN) || !ksm_host_has(cur, KSM_F_SLEEP_MILLISECS))
        return 0;
    const double budget = c->budget_pct, cpu = in->ksmd_cpu_pct;
    /* A reading is a whole number of clock ticks: one tick more than the
     * budget is what the setpoint can show by rounding alone. */
    if (cpu <= budget + in->resolution_pct)
        return 0;
    double window = (double)in->window_ms, rest = (double)KSM_SLICE_MS - window;
    double target_cpu =
        (KSM_RATE_SETPOINT_FRAC * budget * (double)KSM_SLICE_MS - cpu * window) / rest;
    double target = target_cpu > 0 ? out->rate_pages_s * target_cpu / cpu : 0;
    double floor = ksm_rate_min(c);
    if (target < floor)
        target = floor;
    if (target >= out->rate_pages_s)
        return 0; /* already at the slowest rate: nothing slower to set */
    uint64_t pages, new_sleep;
    ksm_rate_settings(c, target, &pages, &new_sleep);
    out->target_rate_pages_s = target;
    snprintf(out->reason, sizeof(out->reason),
             "ksmd used %.1f%% of a core over the last %.1f s, over its %.1f%% budget: scan "
             "%.0f -> %.0f pages/s, so that this 10 s slice averages %.0f%% of the budget",
             cpu, window / 1000.0, budget, out->rate_pages_s, target, KSM_RATE_SETPOINT_FRAC * 100);
    if (pages != cur->pages_to_scan) {
        out->settings.mask |= KSM_BIT(KSM_S_PAGES_TO_SCAN);
        out->settings.pages_to_scan = pages;
    }
    if (new_sleep != cur->sleep_ms) {
        out->settings.mask |= KSM_BIT(KSM_S_SLEEP_MS);
        out->settings.sleep_ms = new_sleep;
    }
    return 0;
}
