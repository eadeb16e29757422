/*
 * Whose cost to read at a tick (see vmcost.h): each VM once a period, at
 * most a fair share of them per tick, oldest first. Reading a QEMU's smaps
 * walks its page tables (1-3 ms for a small guest), so 64 VMs read on one
 * tick would be a visible stall; a per-tick quota spreads them over the
 * period whatever their first reads were, and keeps them spread.
 */
#include "vmcost.h"

#include <string.h>

static bool is_due(int64_t read_ms, int64_t now_ms, uint64_t period_ms, uint64_t tick_ms)
{
    if (read_ms == VMCOST_NOT_ELIGIBLE)
        return false;
    if (read_ms == VMCOST_NEVER_READ || now_ms < read_ms)
        return true; /* a clock that went back: read again rather than never */
    return (uint64_t)(now_ms - read_ms) + tick_ms / 2 >= period_ms;
}

/* Read oldest first: never read before any read, then by time, then index. */
static bool older(int64_t a, int64_t b)
{
    return a < b;
}

size_t vmcost_due(const int64_t *read_ms, size_t n, int64_t now_ms, uint64_t period_ms,
                  uint64_t tick_ms, uint8_t *due)
{
    if (n == 0)
        return 0;
    memset(due, 0, n);
    if (period_ms == 0 || tick_ms == 0)
        return 0;
    size_t eligible = 0;
    for (size_t i = 0; i < n; i++)
        eligible += read_ms[i] != VMCOST_NOT_ELIGIBLE;
    if (eligible == 0)
        return 0;
    /* ceil(eligible x tick / period), in 128 bits, at least 1. */
    unsigned __int128 q = ((unsigned __int128)eligible * tick_ms + period_ms - 1) / period_ms;
    size_t quota = q > eligible ? eligible : (size_t)q;
    size_t chosen = 0;
    while (chosen < quota) {
        size_t pick = n;
        for (size_t i = 0; i < n; i++) {
            if (due[i] || !is_due(read_ms[i], now_ms, period_ms, tick_ms))
                continue;
            if (pick == n || older(read_ms[i], read_ms[pick]))
                pick = i;
        }
        if (pick == n)
            break;
        due[pick] = 1;
        chosen++;
    }
    return chosen;
}
