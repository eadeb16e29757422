/*
 * The frame `ballastctl top` draws from one status document: the host on one
 * line, then one line per VM sorted by host cost, pressure or name, fitted
 * to the terminal. Pure: rows, options and the clock's text in, text out,
 * so tests/ctl/test_top_view.c checks sorting, fitting and shortening
 * without a daemon or a terminal. The live loop (interval, count, clearing
 * the screen, asking the terminal its size) is ballastctl's.
 */
#ifndef BALLAST_TOP_VIEW_H
#define BALLAST_TOP_VIEW_H

#include "control.h"

#include <glib.h>

enum top_sort {
    TOP_SORT_COST,     /* host cost, highest first (the default) */
    TOP_SORT_PRESSURE, /* the guest's PSI some avg10, highest first */
    TOP_SORT_NAME,     /* by name */
};

/* "cost", "pressure", "name" -> *out: 0, or -EINVAL. */
int top_sort_parse(const char *name, enum top_sort *out);
const char *top_sort_name(enum top_sort sort);

struct top_view_options {
    enum top_sort sort;
    unsigned columns; /* the terminal's width; 0 = no limit (not a terminal) */
    unsigned lines;   /* the terminal's height; 0 = no limit: every VM */
    bool utf8;        /* shorten with "…" (one column), else "..." */
    const char *when; /* the clock's text for the first line ("10:02:03"), or NULL */
};

/*
 * order[0..n_vms-1] := the indices of vms in display order: by opt's sort,
 * unknown figures last, ties by name.
 */
void top_view_order(const struct ctl_vm_status *vms, size_t n_vms, enum top_sort sort,
                    size_t *order);

/*
 * Appends one frame to out. No line is wider than opt->columns (when set):
 * a VM name that does not fit is shortened in the middle with the ellipsis
 * and a footer line says so, pointing at `ballastctl status`, which prints
 * names whole; the reason column is cut last. With opt->lines set, VMs that
 * do not fit are counted in a footer line, never dropped silently.
 */
void top_view_format(GString *out, const struct ctl_host_status *host,
                     const struct ctl_vm_status *vms, size_t n_vms,
                     const struct top_view_options *opt);

/*
 * The width to fit: $COLUMNS when it is a positive number (what a shell
 * sets, and what tests set), else the terminal's (tty_columns > 0, from
 * TIOCGWINSZ), else 0: not a terminal, no limit.
 */
unsigned top_view_columns(const char *env_columns, int tty_columns);

#endif
