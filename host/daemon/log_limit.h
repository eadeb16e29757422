/*
 * log_limit.h — a token bucket for log lines a guest can cause (pure: no
 * I/O, no clock - times are arguments - no allocation).
 *
 * A guest decides how often some of ballastd's lines are written: an ERROR
 * frame it sends, a RECLAIM_DONE, a reconnect after garbage, a protocol
 * violation. Up to AGENT_MAX_FRAMES_PER_S frames a second each could be a
 * line; a hostile guest would fill the journal (and the disk under it) and
 * drown the lines about the other guests. So each agent connection has a
 * bucket: LOG_LIMIT_BURST lines at once, then one per LOG_LIMIT_REFILL_MS;
 * the lines in between are counted, not written, and the next line written
 * says how many were held back (status shows the total per VM,
 * guest_log_suppressed). An honest guest causes a line or two an hour and
 * never meets the limit.
 */
#ifndef BALLAST_LOG_LIMIT_H
#define BALLAST_LOG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define LOG_LIMIT_BURST     5     /* lines at once */
#define LOG_LIMIT_REFILL_MS 10000 /* then one per this */

struct log_limit {
    bool started;        /* the bucket was filled once */
    uint32_t tokens;     /* lines that may be written now */
    int64_t refill_ms;   /* when the last token was added (monotonic ms) */
    uint64_t held;       /* lines held back since the last one written */
    uint64_t held_total; /* all lines held back (status) */
};

/*
 * Whether a line may be written at now_ms. True: write it, and if
 * *held_before (may be NULL) is not 0, say that many were held back before
 * it. False: it is counted, not written. A clock going backwards adds no
 * token.
 */
bool log_limit_allow(struct log_limit *l, int64_t now_ms, uint64_t *held_before);

#endif
