/*
 * What `ballast-fleet start --wait` says while its guests boot: "guests
 * ready n/N" as they come up. On a terminal one line is redrawn in place;
 * anywhere else (CI logs, a pipe) a line is printed per change, at most
 * one every FLEET_PROGRESS_LINE_GAP_S, with a line every
 * FLEET_PROGRESS_QUIET_S while nothing changes so a log shows the wait is
 * alive. Pure: the caller passes the clock and writes what it is told.
 */
#ifndef BALLAST_FLEET_PROGRESS_H
#define BALLAST_FLEET_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

#define FLEET_PROGRESS_TTY_REDRAW_S 1.0  /* the elapsed time ticks on a terminal */
#define FLEET_PROGRESS_LINE_GAP_S   2.0  /* at most a line every 2 s in a log */
#define FLEET_PROGRESS_QUIET_S      30.0 /* a line every 30 s while nothing changes */

enum fleet_progress_style {
    FLEET_PROGRESS_LINES, /* stderr is no terminal: a line per step */
    FLEET_PROGRESS_TTY,   /* stderr is a terminal: one line redrawn */
};

struct fleet_progress {
    enum fleet_progress_style style;
    unsigned total;
    bool shown;           /* anything shown yet */
    unsigned shown_ready; /* the ready count last shown */
    double shown_at_s;    /* when it was shown */
};

/* The environment variable that overrides the terminal test, as scripts/progress.sh's. */
#define FLEET_PROGRESS_ENV "BALLAST_PROGRESS"

/* The style: ENV_VALUE "tty" or "lines" wins; otherwise (NULL, "auto", anything) a terminal on
 * stderr means TTY. */
enum fleet_progress_style fleet_progress_style_for(const char *env_value, bool stderr_is_tty);

/* A progress for TOTAL guests, nothing shown yet. */
struct fleet_progress fleet_progress_init(enum fleet_progress_style style, unsigned total);

/* Whether READY guests at NOW_S are worth showing (the first call always is). */
bool fleet_progress_due(const struct fleet_progress *p, unsigned ready, double now_s);

/* Remembers that READY at NOW_S was shown. */
void fleet_progress_shown(struct fleet_progress *p, unsigned ready, double now_s);

/*
 * The text: "guests ready 3/8 (12.4 s)"; on a terminal preceded by a
 * carriage return and an erase-line (ESC [K) and without a newline, else
 * ending in one. snprintf's contract: the length it wanted, BUF always
 * terminated when LEN > 0.
 */
int fleet_progress_format(const struct fleet_progress *p, unsigned ready, double elapsed_s,
                          char *buf, size_t len);

/* What erases a drawn terminal line ("\r\033[K"), "" in a log. */
const char *fleet_progress_clear(const struct fleet_progress *p);

#endif
