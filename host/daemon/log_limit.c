/* A token bucket for guest-caused log lines (see log_limit.h). */
#include "log_limit.h"

#include <stddef.h>

/* Whole tokens for the time since the last refill; the remainder carries over. */
static void refill(struct log_limit *l, int64_t now_ms)
{
    if (!l->started) {
        l->started = true;
        l->tokens = LOG_LIMIT_BURST;
        l->refill_ms = now_ms;
        return;
    }
    if (now_ms <= l->refill_ms)
        return;
    int64_t add = (now_ms - l->refill_ms) / LOG_LIMIT_REFILL_MS;
    if (add <= 0)
        return;
    if (add >= LOG_LIMIT_BURST - (int64_t)l->tokens) {
        l->tokens = LOG_LIMIT_BURST;
        l->refill_ms = now_ms; /* full: time beyond that is not saved up */
    } else {
        l->tokens += (uint32_t)add;
        l->refill_ms += add * LOG_LIMIT_REFILL_MS;
    }
}

bool log_limit_allow(struct log_limit *l, int64_t now_ms, uint64_t *held_before)
{
    if (held_before)
        *held_before = 0;
    refill(l, now_ms);
    if (l->tokens == 0) {
        l->held++;
        l->held_total++;
        return false;
    }
    l->tokens--;
    if (held_before)
        *held_before = l->held;
    l->held = 0;
    return true;
}
