/* The growth latency histogram (see latency_hist.h). Plain C, pure. */
#include "latency_hist.h"

#include <string.h>

const double latency_hist_le_s[LATENCY_HIST_BUCKETS] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

void latency_hist_init(struct latency_hist *h)
{
    memset(h, 0, sizeof(*h));
}

void latency_hist_observe(struct latency_hist *h, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    h->count++;
    h->sum_ms += ms;
    for (size_t i = 0; i < LATENCY_HIST_BUCKETS; i++) {
        /* Compared in ms so 100 ms lands in le=0.1 exactly, as Prometheus' <= says. */
        if (ms <= (int64_t)(latency_hist_le_s[i] * 1000 + 0.5)) {
            h->bucket[i]++;
            return;
        }
    }
    /* Over the last bound: only in count, the +Inf bucket. */
}

int64_t latency_hist_cumulative(const struct latency_hist *h, size_t i)
{
    int64_t n = 0;
    for (size_t j = 0; j <= i && j < LATENCY_HIST_BUCKETS; j++)
        n += h->bucket[j];
    return n;
}
