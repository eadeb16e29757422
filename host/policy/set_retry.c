/* What ballastd does when a balloon command fails (see set_retry.h). */
#include "set_retry.h"

#include <stdio.h>

uint64_t set_retry_backoff_ms(uint32_t failures, bool grow)
{
    if (failures == 0)
        return 0;
    uint64_t cap = grow ? SET_RETRY_GROW_MAX_MS : SET_RETRY_MAX_MS;
    /* 1 s << 6 is past any cap already: no shift overflows. */
    uint32_t shift = failures - 1 < 16 ? failures - 1 : 16;
    uint64_t wait = (uint64_t)SET_RETRY_MIN_MS << shift;
    return wait < cap ? wait : cap;
}

void set_retry_sent(struct set_retry *r, uint64_t target_bytes, uint64_t before_bytes)
{
    r->sent_bytes = target_bytes;
    r->before_bytes = before_bytes;
}

void set_retry_failed(struct set_retry *r, uint64_t failed_bytes, int64_t now_ms, bool grow,
                      const char *error)
{
    /* The target a later command was sent over never was in force. */
    if (r->before_bytes == failed_bytes && r->sent_bytes != failed_bytes)
        r->before_bytes = 0;
    if (r->failures < UINT32_MAX)
        r->failures++;
    r->failures_total++;
    r->last_error_ms = now_ms;
    r->not_before_ms = now_ms + (int64_t)set_retry_backoff_ms(r->failures, grow);
    snprintf(r->last_error, sizeof(r->last_error), "%s", error ? error : "unknown error");
}

void set_retry_succeeded(struct set_retry *r)
{
    r->failures = 0;
    r->not_before_ms = 0;
}

bool set_retry_may_send(const struct set_retry *r, int64_t now_ms)
{
    return r->failures == 0 || now_ms >= r->not_before_ms;
}

uint64_t set_retry_rollback(const struct set_retry *r, uint64_t in_force, uint64_t failed_bytes)
{
    if (in_force != failed_bytes)
        return in_force;
    return r->sent_bytes == failed_bytes ? r->before_bytes : 0;
}
