/* timer.c — periodic timers that share the daemon's wakeups (timer.h). */
#include "timer.h"

guint timer_add_ms(guint interval_ms, GSourceFunc fn, gpointer data)
{
    if (interval_ms >= 1000 && interval_ms % 1000 == 0)
        return g_timeout_add_seconds(interval_ms / 1000, fn, data);
    return g_timeout_add(interval_ms, fn, data);
}
