/*
 * `fleet start --wait`'s progress (fleet_progress.h): when to say how many
 * guests are ready, and the words. A log gets few lines (a change, at most
 * one every 2 s, and a sign of life every 30 s), because 48 guests booting
 * for 2 minutes must not print 48 lines per second of polling; a terminal
 * gets the same line redrawn with the time ticking.
 */
#include "fleet_progress.h"

#include <stdio.h>
#include <string.h>

enum fleet_progress_style fleet_progress_style_for(const char *env_value, bool stderr_is_tty)
{
    if (env_value && strcmp(env_value, "tty") == 0)
        return FLEET_PROGRESS_TTY;
    if (env_value && strcmp(env_value, "lines") == 0)
        return FLEET_PROGRESS_LINES;
    return stderr_is_tty ? FLEET_PROGRESS_TTY : FLEET_PROGRESS_LINES;
}

struct fleet_progress fleet_progress_init(enum fleet_progress_style style, unsigned total)
{
    return (struct fleet_progress){.style = style, .total = total};
}

bool fleet_progress_due(const struct fleet_progress *p, unsigned ready, double now_s)
{
    if (!p->shown)
        return true;
    double since_s = now_s - p->shown_at_s;
    if (p->style == FLEET_PROGRESS_TTY)
        return ready != p->shown_ready || since_s >= FLEET_PROGRESS_TTY_REDRAW_S;
    if (ready != p->shown_ready)
        return since_s >= FLEET_PROGRESS_LINE_GAP_S;
    return since_s >= FLEET_PROGRESS_QUIET_S;
}

void fleet_progress_shown(struct fleet_progress *p, unsigned ready, double now_s)
{
    p->shown = true;
    p->shown_ready = ready;
    p->shown_at_s = now_s;
}

int fleet_progress_format(const struct fleet_progress *p, unsigned ready, double elapsed_s,
                          char *buf, size_t len)
{
    if (elapsed_s < 0)
        elapsed_s = 0; /* a clock read before t0: never print "-0.0 s" */
    bool tty = p->style == FLEET_PROGRESS_TTY;
    return snprintf(buf, len, "%sfleet: guests ready %u/%u (%.1f s)%s", tty ? "\r\033[K" : "",
                    ready, p->total, elapsed_s, tty ? "" : "\n");
}

const char *fleet_progress_clear(const struct fleet_progress *p)
{
    return p->style == FLEET_PROGRESS_TTY && p->shown ? "\r\033[K" : "";
}
