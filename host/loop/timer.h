/* timer.h — periodic timers that share the daemon's wakeups. */
#ifndef BALLAST_TIMER_H
#define BALLAST_TIMER_H

#include <glib.h>

/*
 * g_timeout_add() for an interval of whole seconds goes to
 * g_timeout_add_seconds(): GLib fires every whole-second timeout of a process
 * in the same wakeup, at one offset within the second. The tick (5 s), the
 * fleet rescan (15 s) and the control sweep (5 s) then wake ballastd once,
 * not three times: on a host whose CPUs are busy with guests each wakeup
 * costs ~150 us (docs/benchmarks/ballastd.md). The price is up to a second of
 * delay on the first firing only. Other intervals keep millisecond timing.
 */
guint timer_add_ms(guint interval_ms, GSourceFunc fn, gpointer data);

#endif
