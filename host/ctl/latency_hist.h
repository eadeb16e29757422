/*
 * The growth latency histogram: how long a guest that asked for memory
 * waited for it, from the report (or PRESSURE frame) that asked to the
 * balloon reaching the new target (the manager's convergence watch). It is
 * the figure that says whether ballast keeps its promise not to starve a
 * guest, so it is kept as a distribution, not a last value: Prometheus
 * reads it as the `ballast_grow_latency_seconds` histogram.
 *
 * Fixed buckets, no allocation: observing is one loop over ten bounds. The
 * bounds span what was measured (docs/benchmarks: 0.1 .. 2 s under TCG)
 * with room on both sides; a growth that takes minutes is a stall and lands
 * in the last ones.
 */
#ifndef BALLAST_LATENCY_HIST_H
#define BALLAST_LATENCY_HIST_H

#include <stddef.h>
#include <stdint.h>

#define LATENCY_HIST_BUCKETS 10

/* The upper bounds (Prometheus' `le`), in seconds, ascending; +Inf is implied. */
extern const double latency_hist_le_s[LATENCY_HIST_BUCKETS];

struct latency_hist {
    int64_t count;                        /* observations, all buckets and +Inf */
    int64_t sum_ms;                       /* their sum */
    int64_t bucket[LATENCY_HIST_BUCKETS]; /* observations <= le[i] and > le[i-1]: not cumulative */
};

void latency_hist_init(struct latency_hist *h);
/* One growth that took ms milliseconds (negative values are counted as 0). */
void latency_hist_observe(struct latency_hist *h, int64_t ms);
/* Observations <= le[i]: Prometheus' cumulative bucket i. */
int64_t latency_hist_cumulative(const struct latency_hist *h, size_t i);

#endif
